/**
 * Silero VAD cost per 32 ms window: one stream per model call versus several streams batched
 * along the batch axis (what the listen worker's batcher does), plus the batcher's own overhead
 * and the echo detector's judgment, the other per-window cost of a session heard over playback.
 *
 * Rows are per window (a batched call's time divided by its streams), so `ratio` reads directly
 * as "cost of a window in a batch relative to a window alone". Tasks run interleaved in short
 * rounds, as in the hop bench, so a change of CPU regime hits every row alike.
 */
import { SileroVad } from '../providers/vad/silero.js';
import { VadBatcher } from '../actors/listen/batcher.js';
import { EchoDetector } from '../actors/listen/echo.js';
import type { VadState } from '../providers/contracts/vad.js';
import { interleavedSamples, perUnitRow, type BenchOptions, type BenchReport } from './run.js';

const ROUNDS = 4;
const SIZES = [4, 8, 16];
const ALONE = 'alone: 1 stream per call';

/** Speech-like test windows: a few drifting harmonics under noise (content barely moves the cost). */
function windows(count: number, seed: number): Float32Array[] {
  let x = seed >>> 0;
  const rand = () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  return Array.from({ length: count }, (_, w) =>
    Float32Array.from({ length: 512 }, (_, i) => {
      const t = w * 512 + i;
      const f0 = 120 + 40 * Math.sin(t / 8000 + seed);
      return 0.2 * Math.sin((2 * Math.PI * f0 * t) / 16_000) + 0.1 * Math.sin((4 * Math.PI * f0 * t) / 16_000) + 0.02 * rand();
    }),
  );
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const vad = await SileroVad.create();
  try {
    return await measure(opts, vad);
  } finally {
    await vad.close();
  }
}

async function measure(opts: BenchOptions, vad: SileroVad): Promise<BenchReport> {
  const maxStreams = Math.max(...SIZES);
  const audio = Array.from({ length: maxStreams }, (_, i) => windows(64, i + 1));
  let k = 0;
  const next = () => (k = (k + 1) % 64);

  const tasks: { name: string; per: number; fn: () => Promise<void> }[] = [];
  const alone = vad.createState();
  tasks.push({ name: ALONE, per: 1, fn: async () => void (await vad.score([alone], [audio[0]![next()]!])) });
  for (const size of SIZES) {
    const states = Array.from({ length: size }, () => vad.createState());
    tasks.push({
      name: `batched: ${size} streams per call`,
      per: size,
      fn: async () => {
        const i = next();
        await vad.score(states, states.map((_, s) => audio[s]![i]!));
      },
    });
  }
  // Sixteen sessions each handing one window to the worker batcher in the same turn.
  const batcher = new VadBatcher(vad);
  const sessions: VadState[] = Array.from({ length: maxStreams }, () => vad.createState());
  tasks.push({
    name: `batcher: ${maxStreams} sessions, 1 window each`,
    per: maxStreams,
    fn: async () => {
      const i = next();
      await Promise.all(sessions.map((s, j) => batcher.score(s, [audio[j]![i]!])));
    },
  });
  const echo = primedEcho();
  tasks.push({ name: 'echo judge: 750 ms, lags 0–600 ms', per: 1, fn: async () => void echo.judge(48_000 - 12_000 - (next() % 8) * 16, 48_000 - (k % 8) * 16) });

  const samples = await interleavedSamples(tasks, opts, ROUNDS);
  const rows = tasks.map((t) => perUnitRow(t.name, samples.get(t.name)!, t.per));
  const base = rows[0]!;
  for (const r of rows.slice(1, -1)) {
    r.ratio = r.meanUs / base.meanUs;
    r.vs = ALONE;
  }
  const st = batcher.stats();
  return {
    title: 'Silero VAD v5 (onnxruntime-node, 1 thread): µs per 32 ms window',
    rows,
    notes: [
      `rows are per window: a call's latency divided by its streams; ops/s = windows/s on one thread`,
      `batcher row: ${st.windows} windows in ${st.runs} model calls (largest ${st.largest}); the echo row is per judgment`,
      `${ROUNDS} interleaved rounds; a 32 ms window per stream every 32 ms means one thread keeps up with 32 ms / mean-µs streams`,
    ],
  };
}

/** An echo detector holding 3 s of played and heard audio, as during playback. */
function primedEcho(): EchoDetector {
  const d = new EchoDetector();
  const ref = Int16Array.from({ length: 48_000 }, (_, i) => Math.round(8000 * Math.sin(i / 7) * (0.5 + 0.5 * Math.sin(i / 1500))));
  const up = Int16Array.from({ length: 48_000 }, (_, i) => Math.round((ref[i - 2400] ?? 0) / 4 + 30 * Math.sin(i * 1.3)));
  for (let i = 0; i < 48_000; i += 960) {
    d.pushReference(ref.subarray(i, i + 960));
    d.pushUplink(up.subarray(i, i + 960));
  }
  return d;
}

