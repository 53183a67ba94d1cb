/**
 * Per-frame cost of the audio codecs and the resampler, on real speech (espeak-ng).
 *
 *   decode 16 kHz / 60 ms   device-like packets (complexity 0, VBR, DTX) through every decoder
 *   encode 24 kHz / 60 ms   mono speech at 24 kbps through every worker-safe encoder at
 *                           complexity 0, 5, 7, 10 (plus the not-worker-safe native @evan/opus
 *                           and the voip application as references)
 *   resample per 60 ms      our polyphase resampler vs wasm libsamplerate (SINC_FASTEST)
 *
 * Every row is one frame (or one 60 ms chunk). The not-worker-safe native @evan/opus is loaded on
 * this (main) thread only, where it is harmless; it must never be loaded in a worker.
 */
import { createRequire } from 'node:module';
import { Bench } from 'tinybench';
import { OpusDecoder as WasmDecoder } from 'opus-decoder';
import { createDecoder, createEncoder } from '../native/opus.js';
import { createResampler } from '../native/resample.js';
import { SENTENCES, frames, hasEspeak, speak } from '../test/fixtures/codec/speech.js';
import type { BenchOptions, BenchReport, BenchRow } from './run.js';

type EvanModule = typeof import('@evan/opus');
interface DiscordEncoder {
  encode(buf: Buffer): Buffer;
  decode(buf: Buffer): Buffer;
  applyEncoderCTL(ctl: number, value: number): void;
  setBitrate(bitrate: number): void;
}

const require = createRequire(import.meta.url);
const { OpusEncoder: Discord } = require('@discordjs/opus') as { OpusEncoder: new (rate: number, channels: number) => DiscordEncoder };
const evanWasm = require('@evan/opus/wasm/index.js') as EvanModule;
const libsamplerate = require('@alexanderolsen/libsamplerate-js') as typeof import('@alexanderolsen/libsamplerate-js');

const CTL = { SET_APPLICATION: 4000, SET_COMPLEXITY: 4010, SET_DTX: 4016, SET_BITRATE: 4002 } as const;
const APP = { voip: 2048, audio: 2049 } as const;
const BITRATE = 24_000;
const COMPLEXITIES = [0, 5, 7, 10] as const;

const buf = (x: Int16Array | Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

function discordEncoder(rate: number, complexity: number, app: keyof typeof APP, bitrate: number, dtx = false): DiscordEncoder {
  const e = new Discord(rate, 1);
  e.applyEncoderCTL(CTL.SET_APPLICATION, APP[app]);
  e.applyEncoderCTL(CTL.SET_COMPLEXITY, complexity);
  if (dtx) e.applyEncoderCTL(CTL.SET_DTX, 1);
  e.setBitrate(bitrate);
  return e;
}

function evanEncoder(mod: EvanModule, rate: 16000 | 24000, complexity: number, bitrate: number) {
  const e = new mod.Encoder({ channels: 1, sample_rate: rate, application: 'audio' });
  e.ctl(CTL.SET_COMPLEXITY, complexity);
  e.ctl(CTL.SET_BITRATE, bitrate);
  return e;
}

/** Cycles through items so every iteration works on the next real frame. */
function cycle<T>(items: readonly T[]): () => T {
  let i = 0;
  return () => items[i++ % items.length]!;
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  if (!hasEspeak()) throw new Error('bench opus needs espeak-ng (apt-get install espeak-ng)');
  const text = SENTENCES.join(' ');
  const speech16 = speak(text, 16_000);
  const speech24 = speak(text, 24_000);
  const frames16 = frames(speech16, 960);
  const frames24 = frames(speech24, 1440);

  // What a device sends: complexity 0, VBR, bitrate auto, DTX on (protocol.md §7.1).
  const device = discordEncoder(16_000, 0, 'audio', -1000, true);
  const packets = frames16.map((f) => new Uint8Array(device.encode(buf(f))));
  const packetBufs = packets.map((p) => buf(p));

  const bench = new Bench({ time: opts.timeMs, warmupTime: Math.min(300, opts.timeMs / 4), throws: true });
  const notes: string[] = [];

  // ── decode ────────────────────────────────────────────────────────────────────────────────
  {
    const d = new Discord(16_000, 1);
    const next = cycle(packetBufs);
    bench.add('decode 16k/60ms @discordjs/opus (native)', () => void d.decode(next()));
  }
  {
    const d = createDecoder({ sampleRate: 16_000 });
    const next = cycle(packets);
    bench.add('decode 16k/60ms native/opus.ts wrapper', () => void d.decode(next()));
  }
  {
    const d = new evanWasm.Decoder({ channels: 1, sample_rate: 16_000 });
    const next = cycle(packets);
    bench.add('decode 16k/60ms @evan/opus wasm', () => void d.decode(next()));
  }
  {
    const d = new WasmDecoder({ sampleRate: 16_000, channels: 1 });
    await d.ready;
    const next = cycle(packets);
    const out = new Int16Array(960);
    bench.add('decode 16k/60ms opus-decoder wasm (+f32→i16)', () => {
      const r = d.decodeFrame(next());
      const ch = r.channelData[0]!;
      for (let i = 0; i < r.samplesDecoded; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(ch[i]! * 32768)));
    });
  }
  const evanNative = (await import('@evan/opus')) as EvanModule;
  {
    const d = new evanNative.Decoder({ channels: 1, sample_rate: 16_000 });
    const next = cycle(packets);
    bench.add('decode 16k/60ms @evan/opus native (NOT worker-safe)', () => void d.decode(next()));
  }

  // ── encode ────────────────────────────────────────────────────────────────────────────────
  const sizes = new Map<string, number[]>();
  const track = (name: string, bytes: number) => {
    let s = sizes.get(name);
    if (!s) sizes.set(name, (s = []));
    if (s.length < 10_000) s.push(bytes);
  };
  const bufs24 = frames24.map((f) => buf(f));
  for (const c of COMPLEXITIES) {
    const e = discordEncoder(24_000, c, 'audio', BITRATE);
    const next = cycle(bufs24);
    const name = `encode 24k/60ms @discordjs/opus c${c} audio`;
    bench.add(name, () => track(name, e.encode(next()).length));
  }
  for (const c of COMPLEXITIES) {
    const e = evanEncoder(evanWasm, 24_000, c, BITRATE);
    const next = cycle(frames24);
    const name = `encode 24k/60ms @evan/opus wasm c${c} audio`;
    bench.add(name, () => track(name, e.encode(next()).length));
  }
  {
    const e = discordEncoder(24_000, 5, 'voip', BITRATE);
    const next = cycle(bufs24);
    const name = 'encode 24k/60ms @discordjs/opus c5 voip';
    bench.add(name, () => track(name, e.encode(next()).length));
  }
  {
    const e = createEncoder({ sampleRate: 24_000, frameMs: 60, complexity: 5 });
    const next = cycle(frames24);
    const name = 'encode 24k/60ms native/opus.ts wrapper c5';
    bench.add(name, () => track(name, e.encode(next()).length));
  }
  {
    const e = evanEncoder(evanNative, 24_000, 5, BITRATE);
    const next = cycle(frames24);
    const name = 'encode 24k/60ms @evan/opus native c5 (NOT worker-safe)';
    bench.add(name, () => track(name, e.encode(next()).length));
  }

  // ── resample ──────────────────────────────────────────────────────────────────────────────
  const tts22 = frames(speak(text, 22_050), 1323);
  for (const [from, to, chunks] of [
    [22_050, 24_000, tts22],
    [16_000, 24_000, frames16],
    [24_000, 16_000, frames24],
  ] as const) {
    const r = createResampler(from, to);
    const next = cycle(chunks);
    bench.add(`resample 60ms ${from}→${to} native/resample.ts`, () => void r.push(next()));
  }
  {
    const src = await libsamplerate.create(1, 22_050, 24_000, { converterType: libsamplerate.ConverterType.SRC_SINC_FASTEST });
    const f32 = tts22.map((f) => Float32Array.from(f, (v) => v / 32768));
    const next = cycle(f32);
    const out = new Float32Array(2048);
    bench.add('resample 60ms 22050→24000 libsamplerate-js SINC_FASTEST (f32)', () => void src.full(next(), out));
  }

  await bench.run();
  const rows: BenchRow[] = bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`bench task "${task.name}" ended ${r.state}`);
    const l = r.latency;
    return { name: task.name, opsPerSec: 1000 / l.mean, meanUs: l.mean * 1000, p50Us: l.p50 * 1000, p99Us: l.p99 * 1000, samples: l.samplesCount };
  });
  const base = rows.find((r) => r.name.startsWith('encode 24k/60ms @discordjs/opus c5 audio'));
  if (base) for (const r of rows) if (r.name.startsWith('encode') && r !== base) Object.assign(r, { ratio: r.meanUs / base.meanUs, vs: 'discord c5' });
  for (const [name, s] of sizes) notes.push(`${name}: mean packet ${(s.reduce((a, b) => a + b, 0) / s.length).toFixed(0)} B`);
  notes.push(
    `device packets: ${packets.length} × 60 ms of speech at 16 kHz, mean ${(packets.reduce((a, p) => a + p.length, 0) / packets.length).toFixed(0)} B; encoders at ${BITRATE / 1000} kbps VBR`,
    'libsamplerate-js: each instance loads its own wasm module (~25 MB of linear memory), measured once here for comparison only',
  );
  return { title: 'opus codec and resampler, per 60 ms frame', rows, notes };
}
