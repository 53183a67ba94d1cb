/**
 * Time from text to the first encoded Opus frame the device would receive, per TTS provider,
 * against its fake with zero added latency (and espeak-ng, which is local): what each provider
 * adds before audio can flow, plus the downlink codec's share. And a quick-reply cache hit.
 *
 *   edge, warm socket      a pooled socket already open: SSML out, MP3 back, first frames decoded
 *   edge, warm, no deflate the same without permessage-deflate (zlib on every message, both ends)
 *   edge, new socket       a fresh provider per sentence: upgrade + speech.config + wasm decoder
 *   openai, keep-alive     POST /audio/speech over a kept-alive connection, pcm body
 *   volc, warm socket      Volcengine v3 bidirectional TTS, pooled connection: StartSession,
 *                          TaskRequest, FinishSession, PCM frames back
 *   espeak-ng (spawner)    a process through the spawner, WAV header parsed
 *   quick reply, cache hit QuickReplies.get of a stored ~2 s greeting from a real LMDB store
 *
 * Each provider chunk goes through the codec actor's own handler, called in process (no worker,
 * no actor runtime): the speak actor's copy of a view, resample to the downlink rate, framing
 * (a partial frame waits for the next chunk), Opus encode, exactly as config `audio` defaults say
 * (24 kHz, 60 ms, complexity 5). Every sentence is a new turn's first, so the codec starts it
 * from a reset encoder, as a reply does. The latency columns are text → first Opus frame (ops/s:
 * first frames per second in sequence); the first PCM chunk's time is in the notes. The codec
 * sends one batch per chunk, so "first frame" is the first batch: a big chunk (edge's second MP3
 * message; openai's first body read when the whole answer is already buffered) is resampled and
 * encoded whole before any of it leaves. Rows time whole syntheses (the
 * stream is read to its end so sockets stay reusable); chunks after the first batch are drained,
 * not encoded. Not included: the speak → codec → session hops between workers (see `bench hop`)
 * and the pacer. The cache-hit row is every frame of the stored phrase in hand, against the
 * fastest provider's first frame.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Spawner, connectSpawner } from '../runtime/spawner.js';
import { realClock } from '../runtime/clock.js';
import type { ActorContext } from '../runtime/actor.js';
import type { Envelope } from '../runtime/envelope.js';
import type { TtsProvider } from '../providers/contracts/tts.js';
import { EspeakTts, parseEspeakConfig } from '../providers/tts/espeak/index.js';
import { EdgeTts, parseEdgeConfig } from '../providers/tts/edge/index.js';
import { createOpenAiTts } from '../providers/tts/openai/index.js';
import { createVolcTts } from '../providers/tts/volc/index.js';
import { openLmdbStore } from '../providers/store/lmdb/store.js';
import { codec } from '../actors/codec/codec.js';
import type { CodecIn, CodecOut } from '../actors/codec/messages.js';
import { QuickReplies, type QuickReplyKey } from '../actors/speak/quick-replies.js';
import { configSchema } from '../config/schema.js';
import { interleavedSamples, perUnitRow, type BenchOptions, type BenchReport, type BenchRow } from './run.js';

const TEXT = '你好，我是小智，今天想聊点什么？';
const EN = 'Hello, I am xiaozhi. What shall we talk about today?';
const GREETING = '你好呀，我是小智，有什么可以帮你的吗？';
/** The stored greeting's length, s of audio. */
const GREETING_S = 2;
/** config `audio` defaults: what a server without an `audio` section sends the device. */
const AUDIO = configSchema.shape.audio.parse({});
const DOWNLINK = { sampleRate: AUDIO.downlink_rate, frameMs: AUDIO.frame_ms, complexity: AUDIO.encoder_complexity };

type CodecState = Awaited<ReturnType<typeof codec.start>>;

/**
 * One session's codec actor, its handler called directly with a context that catches what it
 * sends: the actor's own resampling, framing and encoding, without a worker or runtime.
 */
class Downlink {
  readonly #state: CodecState;
  readonly #ctx: ActorContext;
  readonly #signal = new AbortController().signal;
  #turn = 0;
  #seq = 0;
  #frames: Uint8Array[] = [];

  private constructor(state: CodecState, ctx: ActorContext) {
    this.#state = state;
    this.#ctx = ctx;
  }

  static async open(): Promise<Downlink> {
    let self: Downlink | undefined;
    const ctx: ActorContext = {
      self: 'codec',
      session: 'bench',
      clock: realClock,
      send: (_to, msg) => {
        const m = msg as CodecOut | { t: string };
        if (m.t === 'session.frames') self!.#frames.push(...(m as Extract<CodecOut, { t: 'session.frames' }>).frames);
      },
      request: () => Promise.reject(new Error('not in the bench')),
      turn: () => self!.#turn,
      turnSignal: () => new AbortController().signal,
      signal: () => new AbortController().signal,
      stopSelf: () => {},
    };
    // listenAddr set, as in a session's crew: the codec also computes the echo envelope.
    const state = await codec.start(ctx, { session: 'bench', sessionAddr: 'session', listenAddr: 'listen', downlink: DOWNLINK });
    return (self = new Downlink(state, ctx));
  }

  /** The next sentence is a new turn's first (the codec resets its encoder and partial frame). */
  newTurn(): void {
    this.#turn++;
    this.#frames = [];
  }

  /** One TTS chunk as the speak actor sends it; returns the frames encoded so far this turn. */
  push(pcm: Int16Array, sampleRate: number, last = false): readonly Uint8Array[] {
    // speak.ts: a view into a larger buffer is copied so it can be transferred.
    const own = pcm.byteOffset === 0 && pcm.byteLength === pcm.buffer.byteLength ? pcm : pcm.slice();
    const msg: CodecIn = { t: 'codec.encode', pcm: own, sampleRate, sentence: 0, last };
    const env: Envelope<CodecIn> = { to: 'codec', session: 'bench', turn: this.#turn, seq: ++this.#seq, lane: 'data', msg };
    codec.receive(this.#state, msg, env, this.#ctx, this.#signal);
    return this.#frames;
  }

  close(): void {
    void codec.stop?.(this.#state, this.#ctx);
  }
}

interface Sample {
  pcmUs: number;
  opusUs: number;
  totalUs: number;
  /** Chunks read until the first frame was out. */
  chunks: number;
  /** Time inside the codec handler until then (resample, frame, encode), µs. */
  codecUs: number;
  /** Frames in the first batch: the codec encodes every whole frame of a chunk before it sends. */
  batch: number;
}

async function once(p: TtsProvider, down: Downlink, text: string, language: string): Promise<Sample> {
  down.newTurn();
  const t0 = performance.now();
  let pcm = NaN;
  let opus = NaN;
  let chunks = 0;
  let codecMs = 0;
  let batch = 0;
  for await (const c of p.synthesize({ text, voice: { language }, signal: new AbortController().signal })) {
    if (Number.isNaN(pcm)) pcm = performance.now();
    if (Number.isNaN(opus)) {
      chunks++;
      const t = performance.now();
      const out = down.push(c.pcm, c.sampleRate).length;
      const now = performance.now();
      codecMs += now - t;
      if (out > 0) {
        opus = now;
        batch = out;
      }
    }
  }
  const end = performance.now();
  if (Number.isNaN(opus)) throw new Error(`${p.id}: a whole sentence gave less than one ${DOWNLINK.frameMs} ms frame`);
  return { pcmUs: (pcm - t0) * 1000, opusUs: (opus - t0) * 1000, totalUs: (end - t0) * 1000, chunks, codecUs: codecMs * 1000, batch };
}

async function measure(timeMs: number, fn: () => Promise<Sample>): Promise<Sample[]> {
  for (let i = 0; i < 5; i++) await fn(); // warm-up: JIT, wasm compile, sockets
  const out: Sample[] = [];
  const until = performance.now() + timeMs;
  while (performance.now() < until || out.length < 10) out.push(await fn());
  return out;
}

const ms = (us: number): string => (us / 1000).toFixed(2);

function row(name: string, samples: Sample[], notes: string[], vs?: { name: string; meanUs: number }): BenchRow {
  const r = perUnitRow(name, samples.map((s) => s.opusUs / 1000), 1);
  const pcm = perUnitRow(name, samples.map((s) => s.pcmUs / 1000), 1);
  const avg = (f: (s: Sample) => number): number => samples.reduce((a, s) => a + f(s), 0) / samples.length;
  // Medians: GC pauses land anywhere. The gap includes waiting for more chunks; the codec part does not.
  const gapUs = perUnitRow(name, samples.map((s) => (s.opusUs - s.pcmUs) / 1000), 1).p50Us;
  const codecUs = perUnitRow(name, samples.map((s) => s.codecUs / 1000), 1).p50Us;
  notes.push(
    `${name}: first PCM ${ms(pcm.meanUs)} ms mean (p50 ${ms(pcm.p50Us)}); first frame ${ms(gapUs)} ms later (p50), ` +
      `${ms(codecUs)} ms of it in the codec (${avg((s) => s.chunks).toFixed(1)} chunks read, ${avg((s) => s.batch).toFixed(1)} frames in the first batch); whole sentence ${ms(avg((s) => s.totalUs))} ms`,
  );
  return vs ? { ...r, ratio: r.meanUs / vs.meanUs, vs: vs.name } : r;
}

/**
 * The fakes run in a worker thread of their own, so their CPU (parsing SSML, framing MP3, writing
 * chunks) does not sit on the event loop being measured — as a real vendor's would not.
 */
async function startFakes(): Promise<{ edge: string; audio: string; volc: { url: string; appid: string; access_token: string }; close(): Promise<void> }> {
  const tsx = import.meta.resolve('tsx/esm/api');
  const mod = (name: string): string => new URL(`../test/doubles/${name}.ts`, import.meta.url).href;
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(tsx)}).then(async (t) => {
      t.register();
      const edge = await (await import(${JSON.stringify(mod('edge-tts'))})).startEdgeFake();
      const audio = await (await import(${JSON.stringify(mod('openai-audio'))})).startOpenAiAudioFake();
      const volc = await (await import(${JSON.stringify(mod('volc-tts'))})).startVolcTtsFake({ sampleRate: 24000 });
      parentPort.once('message', async () => { await edge.close(); await audio.close(); await volc.close(); parentPort.postMessage('closed'); });
      parentPort.postMessage({ edge: edge.url, audio: audio.url, volc: { url: volc.url, appid: volc.appId, access_token: volc.accessKey } });
    });`,
    { eval: true },
  );
  const urls = await new Promise<{ edge: string; audio: string; volc: { url: string; appid: string; access_token: string } }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return {
    ...urls,
    close: async () => {
      const closed = new Promise((r) => w.once('message', r));
      w.postMessage('close');
      await closed;
      await w.terminate();
    },
  };
}

/** ~GREETING_S of Opus frames, encoded by the codec from a provider's audio (repeated as needed). */
async function greetingFrames(p: TtsProvider, down: Downlink): Promise<Uint8Array[]> {
  const want = Math.round((GREETING_S * 1000) / DOWNLINK.frameMs);
  down.newTurn();
  for (;;) {
    for await (const c of p.synthesize({ text: GREETING, voice: { language: 'zh' }, signal: new AbortController().signal })) {
      const frames = down.push(c.pcm, c.sampleRate);
      if (frames.length >= want) return frames.slice(0, want).map((f) => f.slice());
    }
  }
}

/** A stored greeting read back the way the session does on a quick reply (conversation.ts #say). */
async function cacheHit(frames: Uint8Array[], opts: BenchOptions, notes: string[], vs: { name: string; meanUs: number }): Promise<BenchRow> {
  const dir = mkdtempSync(join(tmpdir(), 'xz-bench-tts-'));
  const store = await openLmdbStore({ path: dir, sweepIntervalMs: 0 });
  try {
    const cache = new QuickReplies(store);
    const key: QuickReplyKey = { provider: 'edge:{}', voice: null, sampleRate: DOWNLINK.sampleRate, frameMs: DOWNLINK.frameMs, text: GREETING };
    await cache.put(key, frames);
    const got = await cache.get(key);
    if (got?.length !== frames.length) throw new Error(`cache hit gave ${got?.length} frames, stored ${frames.length}`);
    const name = 'quick reply, cache hit';
    const samples = await interleavedSamples(
      [
        {
          name,
          fn: async () => {
            if ((await cache.get(key))?.length !== frames.length) throw new Error('cache miss');
          },
        },
      ],
      // A few µs per read: half a second gives ~10⁵ samples, plenty, and keeps `npm run bench` short.
      { timeMs: Math.min(opts.timeMs, 500) },
    );
    const r = perUnitRow(name, samples.get(name)!, 1);
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    notes.push(
      `${name}: all ${frames.length} frames (${((frames.length * DOWNLINK.frameMs) / 1000).toFixed(2)} s, ${bytes} B) in hand from LMDB (key hash, read, unpack); ` +
        `${(vs.meanUs / r.meanUs).toFixed(0)}× sooner than ${vs.name}'s first frame`,
    );
    return { ...r, ratio: r.meanUs / vs.meanUs, vs: vs.name };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const notes: string[] = [];
  const rows: BenchRow[] = [];
  const fakes = await startFakes();
  const down = await Downlink.open();
  let greeting: Uint8Array[] = [];
  try {
    const edge = new EdgeTts('edge', parseEdgeConfig({ url: fakes.edge }));
    const warm = row('edge, warm socket', await measure(opts.timeMs, () => once(edge, down, TEXT, 'zh')), notes);
    const base = { name: warm.name, meanUs: warm.meanUs };
    rows.push(warm);
    greeting = await greetingFrames(edge, down);
    await edge.close();
    notes.push(`edge, warm socket: ${edge.stats().handshakes} handshake(s) for all of its sentences`);
    const plain = new EdgeTts('edge', parseEdgeConfig({ url: fakes.edge, permessage_deflate: false }));
    rows.push(row('edge, warm, no deflate', await measure(opts.timeMs, () => once(plain, down, TEXT, 'zh')), notes, base));
    await plain.close();

    const cold = await measure(opts.timeMs, async () => {
      const p = new EdgeTts('edge', parseEdgeConfig({ url: fakes.edge }));
      try {
        return await once(p, down, TEXT, 'zh');
      } finally {
        await p.close();
      }
    });
    rows.push(row('edge, new socket', cold, notes, base));

    const openai = createOpenAiTts('openai', { base_url: fakes.audio });
    rows.push(row('openai, keep-alive', await measure(opts.timeMs, () => once(openai, down, EN, 'en')), notes, base));
    await openai.close?.();

    const volc = createVolcTts('volc', { ...fakes.volc });
    rows.push(row('volc, warm socket', await measure(opts.timeMs, () => once(volc, down, TEXT, 'zh')), notes, base));
    await volc.close?.();

    let spawner: Spawner | undefined;
    try {
      spawner = await Spawner.start();
      const client = await connectSpawner(spawner.address);
      const espeak = new EspeakTts('espeak', parseEspeakConfig({}), () => Promise.resolve(client));
      try {
        rows.push(row('espeak-ng (spawner)', await measure(opts.timeMs, () => once(espeak, down, EN, 'en')), notes, base));
      } finally {
        client.close();
      }
    } catch (e) {
      notes.push(`espeak-ng row skipped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await spawner?.close();
    }
  } finally {
    down.close();
    await fakes.close();
  }
  const fastest = rows.reduce((a, b) => (b.meanUs < a.meanUs ? b : a));
  rows.push(await cacheHit(greeting, opts, notes, { name: fastest.name, meanUs: fastest.meanUs }));
  return {
    title: `TTS: text → first Opus frame (${DOWNLINK.sampleRate / 1000} kHz, ${DOWNLINK.frameMs} ms, complexity ${DOWNLINK.complexity}; fakes with zero added latency) and a quick-reply cache hit`,
    rows,
    notes,
  };
}
