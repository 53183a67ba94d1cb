// Silero VAD on onnxruntime-node with real speech: speech scores high, silence low, and batching
// streams (directly, and through the worker batcher) gives exactly the single-stream results.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { SileroVad } from '../../providers/vad/silero.js';
import { defaultModelPath, SileroSession } from '../../native/silero.js';
import { VadBatcher } from '../../actors/listen/batcher.js';
import { logEnergy } from '../../actors/listen/echo.js';
import type { VadState } from '../../providers/contracts/vad.js';
import { concat, floatWindows, noise, silence, speak, speechTools } from '../fixtures/listen/speech.js';
import { sileroModel } from '../fixtures/listen/model.js';

const opts = { timeout: 60_000 };
let vad: SileroVad | undefined;

before(async () => {
  if (existsSync(defaultModelPath())) vad = await SileroVad.create();
});
after(() => vad?.close());

async function scoreAll(v: SileroVad, state: VadState, windows: Float32Array[]): Promise<number[]> {
  const out: number[] = [];
  for (const w of windows) out.push((await v.score([state], [w]))[0]!);
  return out;
}

test('speech windows score high, silence and noise low', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const v = vad!;
  const a = speak('The quick brown fox jumps over the lazy dog near the river bank.', 'en-us+f3');
  const pcm = concat(silence(1000), noise(16_000, -60, 3), a, silence(1000));
  const probs = await scoreAll(v, v.createState(), floatWindows(pcm));
  const speechFrom = 32_000 / 512;
  const loud: number[] = [];
  const quiet: number[] = [];
  probs.forEach((p, i) => {
    const db = logEnergy(pcm, i * 512, (i + 1) * 512);
    if (i >= speechFrom + 4 && db > -30) loud.push(p);
    // Well away from speech: leading silence and low noise, and the tail after the sentence.
    if (i < speechFrom - 2 || i > (32_000 + a.length) / 512 + 10) quiet.push(p);
  });
  const share = loud.filter((p) => p >= 0.5).length / loud.length;
  assert.ok(share > 0.85, `loud speech windows scored ≥ 0.5: ${(share * 100).toFixed(0)}%`);
  assert.ok(Math.max(...quiet) < 0.1, `silence/noise max ${Math.max(...quiet).toFixed(3)}`);
});

test('batched scoring equals single-stream scoring exactly, and reset equals a fresh state', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const v = vad!;
  const voices = ['en-us+f3', 'en+m1', 'en-gb', 'en-us+m3', 'en+f2', 'en-us', 'en+m2', 'en-gb+f4'];
  const streams = voices.map((voice, i) => floatWindows(concat(silence(100 * i), speak(`Number ${i + 1}, please open the window and water the plants.`, voice))));
  const n = Math.min(...streams.map((s) => s.length));
  const single: number[][] = [];
  for (const s of streams) single.push(await scoreAll(v, v.createState(), s.slice(0, n)));
  const states = streams.map(() => v.createState());
  const batched: number[][] = streams.map(() => []);
  for (let k = 0; k < n; k++) {
    const p = await v.score(states, streams.map((s) => s[k]!));
    p.forEach((x, i) => batched[i]!.push(x));
  }
  assert.deepEqual(batched, single);
  states[0]!.reset();
  assert.deepEqual(await scoreAll(v, states[0]!, streams[0]!.slice(0, n)), single[0]);
});

test('the worker batcher scores concurrent sessions in shared calls with the same results', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const v = vad!;
  const pcm = [speak('Turn the music down a little.', 'en+m1'), speak('What time is it in Tokyo?', 'en-us+f3'), speak('Remind me to call mom.', 'en-gb')];
  const windows = pcm.map((p) => floatWindows(p));
  const single = await Promise.all(windows.map(async (w) => scoreAll(v, v.createState(), w)));
  const b = new VadBatcher(v, { maxBatch: 2 });
  const states = pcm.map(() => v.createState());
  const got: number[][] = pcm.map(() => []);
  // Each "session" hands in 60 ms worth at a time (1–2 windows), all in the same turn.
  for (let k = 0; k < Math.max(...windows.map((w) => w.length)); k += 2) {
    const r = await Promise.all(windows.map((w, i) => b.score(states[i]!, w.slice(k, k + 2))));
    r.forEach((p, i) => got[i]!.push(...p));
  }
  assert.deepEqual(got, single);
  const st = b.stats();
  assert.equal(st.windows, windows.reduce((n, w) => n + w.length, 0));
  assert.ok(st.runs < st.windows, `batched: ${st.windows} windows in ${st.runs} runs`);
  assert.equal(st.largest, 2, 'maxBatch respected');
  assert.equal(st.queued, 0);
});

test('model errors: missing file names the fetch script; foreign state is refused', opts, async (t) => {
  await assert.rejects(SileroSession.load({ modelPath: '/nonexistent/silero_vad.onnx' }), /silero-fetch\.mjs/);
  if (!sileroModel(t)) return;
  const other = await SileroVad.create();
  try {
    await assert.rejects(vad!.score([other.createState()], [new Float32Array(512)]), /another model/);
    await assert.rejects(vad!.score([vad!.createState()], [new Float32Array(100)]), /512/);
    const s = vad!.createState();
    await assert.rejects(vad!.score([s, s], [new Float32Array(512), new Float32Array(512)]), /twice/);
  } finally {
    await other.close();
  }
});
