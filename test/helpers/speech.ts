// Real speech for end-to-end tests: espeak-ng says a sentence, sox makes it 16 kHz mono, and
// libopus (@discordjs/opus) cuts it into the 60 ms uplink packets a device sends. Results are
// cached per text and voice for the test run.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { OpusEncoder } = require('@discordjs/opus') as typeof import('@discordjs/opus');

const FRAME = 960; // 60 ms at 16 kHz

/** True when espeak-ng and sox exist; under CI=true a missing tool is a failure, not a skip. */
export function speechToolsAvailable(): boolean {
  const ok = ['espeak-ng', 'sox'].every((t) => spawnSync('which', [t]).status === 0);
  if (!ok && process.env.CI === 'true') throw new Error('espeak-ng and sox are required for speech tests (run native/setup.sh)');
  return ok;
}

const cache = new Map<string, Int16Array>();
let dir: string | undefined;

/** 16 kHz mono PCM of a sentence spoken by espeak-ng. */
export function speechPcm(text: string, voice = 'en-us'): Int16Array {
  const key = `${voice}|${text}`;
  const hit = cache.get(key);
  if (hit) return hit;
  dir ??= mkdtempSync(join(tmpdir(), 'xz-speech-'));
  const wav = join(dir, `${cache.size}.wav`);
  const raw = join(dir, `${cache.size}.raw`);
  execFileSync('espeak-ng', ['-v', voice, '-s', '150', '-w', wav, text]);
  execFileSync('sox', [wav, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', raw]);
  const buf = readFileSync(raw);
  const pcm = new Int16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  cache.set(key, pcm);
  return pcm;
}

/** Cuts PCM into 60 ms Opus packets (the last one padded with silence). */
export function opusFrames(pcm: Int16Array): Uint8Array[] {
  const enc = new OpusEncoder(16000, 1);
  const out: Uint8Array[] = [];
  for (let i = 0; i < pcm.length; i += FRAME) {
    const frame = new Int16Array(FRAME);
    frame.set(pcm.subarray(i, Math.min(pcm.length, i + FRAME)));
    out.push(new Uint8Array(enc.encode(Buffer.from(frame.buffer))));
  }
  return out;
}

/** Opus packets of silence (what a device sends between utterances; DTX makes some tiny). */
export function silenceFrames(n: number): Uint8Array[] {
  const enc = new OpusEncoder(16000, 1);
  const quiet = Buffer.alloc(FRAME * 2);
  return Array.from({ length: n }, (_, i) => (i % 3 === 2 ? new Uint8Array([0xf8]) : new Uint8Array(enc.encode(quiet))));
}

/** Mixes `b` into `a` (starting at `offsetSamples`), scaling b by `gain`. */
export function mix(a: Int16Array, b: Int16Array, offsetSamples: number, gain: number): Int16Array {
  const out = new Int16Array(Math.max(a.length, offsetSamples + b.length));
  out.set(a);
  for (let i = 0; i < b.length; i++) {
    const j = offsetSamples + i;
    out[j] = Math.max(-32768, Math.min(32767, (out[j] ?? 0) + b[i]! * gain));
  }
  return out;
}

export function decoderFor(rate: number): { decode(packet: Uint8Array): Int16Array } {
  const { OpusEncoder: Codec } = require('@discordjs/opus') as typeof import('@discordjs/opus');
  const dec = new Codec(rate, 1);
  return {
    decode(packet) {
      const b = dec.decode(Buffer.from(packet));
      return new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    },
  };
}

export function cleanupSpeech(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  cache.clear();
}
