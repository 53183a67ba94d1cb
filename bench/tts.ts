/**
 * Time from text to the first PCM chunk, per TTS provider, against its fake with zero added
 * latency (and espeak-ng, which is local): what each provider itself adds before audio can flow.
 *
 *   edge, warm socket      a pooled socket already open: SSML out, MP3 back, first frames decoded
 *   edge, warm, no deflate the same without permessage-deflate (zlib on every message, both ends)
 *   edge, new socket       a fresh provider per sentence: upgrade + speech.config + wasm decoder
 *   openai, keep-alive     POST /audio/speech over a kept-alive connection, pcm body
 *   espeak-ng              a process through the spawner, WAV header parsed
 *
 * Each row times whole syntheses (the stream is read to its end so sockets stay reusable); the
 * latency columns are the time to the first chunk. ops/s is first chunks per second in sequence.
 * The cost to the device's first Opus frame adds one encode (see `bench opus`).
 */
import { Spawner, connectSpawner } from '../runtime/spawner.js';
import type { TtsProvider } from '../providers/contracts/tts.js';
import { EspeakTts, parseEspeakConfig } from '../providers/tts/espeak/index.js';
import { EdgeTts, parseEdgeConfig } from '../providers/tts/edge/index.js';
import { createOpenAiTts } from '../providers/tts/openai/index.js';
import { Worker } from 'node:worker_threads';
import type { BenchOptions, BenchReport, BenchRow } from './run.js';

const TEXT = '你好，我是小智，今天想聊点什么？';
const EN = 'Hello, I am xiaozhi. What shall we talk about today?';

interface Sample {
  firstUs: number;
  totalUs: number;
}

async function once(p: TtsProvider, text: string, language: string): Promise<Sample> {
  const t0 = performance.now();
  let first = NaN;
  for await (const c of p.synthesize({ text, voice: { language }, signal: new AbortController().signal })) {
    if (Number.isNaN(first)) first = performance.now();
    void c;
  }
  const end = performance.now();
  return { firstUs: (first - t0) * 1000, totalUs: (end - t0) * 1000 };
}

async function measure(timeMs: number, fn: () => Promise<Sample>): Promise<Sample[]> {
  for (let i = 0; i < 5; i++) await fn(); // warm-up: JIT, wasm compile, sockets
  const out: Sample[] = [];
  const until = performance.now() + timeMs;
  while (performance.now() < until || out.length < 10) out.push(await fn());
  return out;
}

function row(name: string, samples: Sample[], notes: string[], vs?: { name: string; meanUs: number }): BenchRow {
  const firsts = samples.map((s) => s.firstUs).sort((a, b) => a - b);
  const meanUs = firsts.reduce((a, b) => a + b, 0) / firsts.length;
  const pick = (q: number): number => firsts[Math.min(firsts.length - 1, Math.floor(q * firsts.length))]!;
  const totalMs = samples.reduce((a, s) => a + s.totalUs, 0) / samples.length / 1000;
  notes.push(`${name}: whole sentence ${totalMs.toFixed(2)} ms on average`);
  return {
    name,
    opsPerSec: 1e6 / meanUs,
    meanUs,
    p50Us: pick(0.5),
    p99Us: pick(0.99),
    samples: firsts.length,
    ...(vs ? { ratio: meanUs / vs.meanUs, vs: vs.name } : {}),
  };
}

/**
 * The fakes run in a worker thread of their own, so their CPU (parsing SSML, framing MP3, writing
 * chunks) does not sit on the event loop being measured — as a real vendor's would not.
 */
async function startFakes(): Promise<{ edgeFake: { url: string }; audioFake: { url: string }; close(): Promise<void> }> {
  const tsx = import.meta.resolve('tsx/esm/api');
  const mod = (name: string): string => new URL(`../test/doubles/${name}.ts`, import.meta.url).href;
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(tsx)}).then(async (t) => {
      t.register();
      const edge = await (await import(${JSON.stringify(mod('edge-tts'))})).startEdgeFake();
      const audio = await (await import(${JSON.stringify(mod('openai-audio'))})).startOpenAiAudioFake();
      parentPort.once('message', async () => { await edge.close(); await audio.close(); parentPort.postMessage('closed'); });
      parentPort.postMessage({ edge: edge.url, audio: audio.url });
    });`,
    { eval: true },
  );
  const urls = await new Promise<{ edge: string; audio: string }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  return {
    edgeFake: { url: urls.edge },
    audioFake: { url: urls.audio },
    close: async () => {
      const closed = new Promise((r) => w.once('message', r));
      w.postMessage('close');
      await closed;
      await w.terminate();
    },
  };
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const notes: string[] = [];
  const rows: BenchRow[] = [];
  const fakes = await startFakes();
  const { edgeFake, audioFake } = fakes;
  try {
    const edge = new EdgeTts('edge', parseEdgeConfig({ url: edgeFake.url }));
    const warm = row('edge, warm socket', await measure(opts.timeMs, () => once(edge, TEXT, 'zh')), notes);
    rows.push(warm);
    await edge.close();
    notes.push(`edge, warm socket: ${edge.stats().handshakes} handshake(s) for all of its sentences`);
    const plain = new EdgeTts('edge', parseEdgeConfig({ url: edgeFake.url, permessage_deflate: false }));
    rows.push(row('edge, warm, no deflate', await measure(opts.timeMs, () => once(plain, TEXT, 'zh')), notes, { name: 'edge, warm socket', meanUs: warm.meanUs }));
    await plain.close();

    const cold = await measure(opts.timeMs, async () => {
      const p = new EdgeTts('edge', parseEdgeConfig({ url: edgeFake.url }));
      try {
        return await once(p, TEXT, 'zh');
      } finally {
        await p.close();
      }
    });
    rows.push(row('edge, new socket', cold, notes, { name: 'edge, warm socket', meanUs: warm.meanUs }));

    const openai = createOpenAiTts('openai', { base_url: audioFake.url });
    rows.push(row('openai, keep-alive', await measure(opts.timeMs, () => once(openai, EN, 'en')), notes, { name: 'edge, warm socket', meanUs: warm.meanUs }));
    await openai.close?.();

    let spawner: Spawner | undefined;
    try {
      spawner = await Spawner.start();
      const client = await connectSpawner(spawner.address);
      const espeak = new EspeakTts('espeak', parseEspeakConfig({}), () => Promise.resolve(client));
      try {
        rows.push(row('espeak-ng (spawner)', await measure(opts.timeMs, () => once(espeak, EN, 'en')), notes, { name: 'edge, warm socket', meanUs: warm.meanUs }));
      } finally {
        client.close();
      }
    } catch (e) {
      notes.push(`espeak-ng row skipped: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      await spawner?.close();
    }
  } finally {
    await fakes.close();
  }
  return { title: 'TTS: text → first PCM chunk (fakes with zero added latency)', rows, notes };
}
