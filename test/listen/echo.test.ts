// Echo rejection with real speech: a device without AEC hears its own playback. The reference is
// espeak sentence A; the uplink is A delayed, attenuated and noisy (echo: no barge-in), or
// another voice saying B, alone or over that echo (the user: barge-in).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EchoDetector, energyEnvelope } from '../../actors/listen/echo.js';
import type { ListenOut } from '../../actors/listen/messages.js';
import { startListen, type Session } from '../fixtures/listen/harness.js';
import { sileroModel } from '../fixtures/listen/model.js';
import { concat, mix, noise, silence, speak, speechTools } from '../fixtures/listen/speech.js';

const opts = { timeout: 60_000 };
const STEP = 960; // 60 ms: the server sends and the device returns audio in these
const WINDOW = 750 * 16;

const sentences = () => ({
  a: speak('The quick brown fox jumps over the lazy dog near the river bank, and then it runs away into the forest.', 'en-us+f3'),
  b: speak('Please turn on the kitchen lights and set a timer for ten minutes.', 'en+m1'),
});

/** A's echo as a device without AEC returns it: delayed, −12 dB, over a little noise. */
function echoOf(a: Int16Array, delayMs: number, extraMs = 1000): Int16Array {
  const n = a.length + extraMs * 16;
  return mix(mix(new Int16Array(n), a, -12, delayMs * 16), noise(n, -50, 5));
}

/**
 * Plays `ref` and hears `up` in 60 ms steps; after each step judges the last 750 ms of uplink
 * that lies within [judgeFrom, judgeTo) and is loud enough to be speech, as the actor would.
 */
function judgeAlong(ref: Int16Array, up: Int16Array, judgeFrom: number, judgeTo: number, useEnvelope = false, threshold = 0.8) {
  const d = new EchoDetector({ threshold });
  const corrs: number[] = [];
  const lags: number[] = [];
  for (let i = 0; i < up.length; i += STEP) {
    if (i < ref.length) {
      const chunk = ref.subarray(i, i + STEP);
      if (useEnvelope) d.pushReferenceEnvelope(energyEnvelope(chunk, 16_000));
      else d.pushReference(chunk);
    } else d.stopReference();
    d.pushUplink(up.subarray(i, i + STEP));
    const to = i + STEP;
    // Judged all along (the actor judges a held reply window by window), recorded in range.
    if (to < WINDOW) continue;
    const v = d.judge(to - WINDOW, to);
    if (to - WINDOW < judgeFrom || to > judgeTo) continue;
    corrs.push(v.corr);
    lags.push(v.lagMs);
  }
  return { corrs, lags, min: Math.min(...corrs), max: Math.max(...corrs), d };
}

test('the detector: echo of the playback correlates, another voice does not', opts, (t) => {
  if (!speechTools(t)) return;
  const { a, b } = sentences();
  for (const delay of [150, 400]) {
    const echo = echoOf(a, delay);
    const r = judgeAlong(a, echo, 0, a.length);
    assert.ok(r.min >= 0.85, `echo at ${delay} ms: every window correlates (min ${r.min.toFixed(2)})`);
    const lagged = r.lags.filter((l) => Math.abs(l - delay) <= 20).length / r.lags.length;
    assert.ok(lagged > 0.9, `the lag found is the echo delay ${delay} ms (${(lagged * 100).toFixed(0)}% of windows)`);
    // The envelope form of the reference (what a speak actor at 24 kHz would send) works alike.
    const e = judgeAlong(a, echo, 0, a.length, true);
    assert.ok(e.min >= 0.85, `envelope reference: min ${e.min.toFixed(2)}`);

    // The user (another voice, another sentence) from 1 s on: alone, or over the echo of A.
    const at = 16_000;
    for (const [name, up] of [
      ['B alone over playback', mix(noise(a.length + 16_000, -50, 7), b, 0, at)],
      ['B over the echo of A', mix(echo, b, 0, at)],
      ['B at −6 dB over the echo of A', mix(echo, b, -6, at)],
    ] as const) {
      const u = judgeAlong(a, up, at, at + b.length);
      const below = u.corrs.filter((c) => c < 0.8).length / u.corrs.length;
      assert.ok(below > 0.8, `${name} (echo ${delay} ms): ${(below * 100).toFixed(0)}% of windows are clearly not echo (max ${u.max.toFixed(2)})`);
    }
  }
});

test('the detector: nothing played means nothing to reject; the echo tail outlasts playback', opts, () => {
  const d = new EchoDetector({ maxLagMs: 600 });
  const tone = Int16Array.from({ length: 16_000 }, (_, i) => Math.round(8000 * Math.sin(i / 5) * (Math.floor(i / 1600) % 2)));
  d.pushUplink(tone);
  assert.equal(d.active, false);
  assert.deepEqual(d.judge(0, 16_000), { echo: false, corr: 0, lagMs: 0, frames: 100 });
  d.pushReference(tone);
  assert.ok(d.active && d.playing);
  d.stopReference();
  // The reference was placed at 1 s on the uplink clock and ended at 2 s: its echo may arrive
  // until 2.6 s.
  d.pushUplink(tone);
  d.pushUplink(tone.subarray(0, 9440));
  assert.ok(d.active, 'within 600 ms of the end of playback its echo may still arrive');
  d.pushUplink(tone.subarray(0, 160));
  assert.equal(d.active, false);
  assert.equal(d.playing, false);
});

/** Plays A and sends the uplink step by step in realtime mode, as a session and codec would. */
async function realtime(s: Session, ref: Int16Array, up: Int16Array, envelope = false): Promise<void> {
  s.send({ t: 'listen.start', mode: 'realtime' });
  for (let i = 0; i < up.length; i += STEP) {
    const chunk = ref.slice(i, i + STEP);
    if (i < ref.length) s.send({ t: 'listen.playback', playing: true, ...(envelope ? { envelope: energyEnvelope(chunk, 16_000) } : { reference: chunk }) });
    else if (i - STEP < ref.length) s.send({ t: 'listen.playback', playing: false });
    await s.feed(up.slice(i, i + STEP), STEP);
  }
  await s.settle();
}

test('realtime: the device hearing its own playback is not a barge-in', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const { a } = sentences();
  const h = await startListen(t);
  for (const envelope of [false, true]) {
    const s = await h.add(`e-${envelope ? 'envelope' : 'pcm'}`, { mode: null });
    await realtime(s, a, echoOf(a, 150), envelope);
    assert.deepEqual(s.events, [], 'no speech-started for echo');
    const st = await s.stats();
    assert.ok(st.echoRejected >= 1, `echo segments rejected: ${st.echoRejected}`);
    assert.equal(st.bargeIns, 0);
    assert.ok(st.heldMs < 2000, `held audio stays bounded (${st.heldMs} ms)`);
  }
});

test('realtime: the user talking over playback is a barge-in, with or without echo', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const { a, b } = sentences();
  const h = await startListen(t);
  const at = 1500;
  const cases: [string, Int16Array][] = [
    ['B over the echo of A', mix(echoOf(a, 150), concat(b, silence(500)), 0, at * 16)],
    ['B while A plays (device with AEC)', mix(noise(a.length + 16_000, -50, 9), concat(b, silence(500)), 0, at * 16)],
  ];
  for (const [name, up] of cases) {
    const s = await h.add(name.replace(/\W+/g, '-'), { mode: null });
    await realtime(s, a, up);
    const started = s.events.filter((e): e is Extract<ListenOut, { t: 'session.speech-started' }> => e.t === 'session.speech-started');
    assert.ok(started.length >= 1, `${name}: speech-started (${JSON.stringify(s.events)})`);
    const first = started[0]!;
    assert.equal(first.bargeIn, true, `${name}: flagged as barge-in`);
    assert.ok(first.atMs >= at - 100 && first.atMs <= at + 1000, `${name}: started at ${first.atMs} ms, B from ${at} ms`);
    // Decided within a judging window of B's onset, not at the end of the sentence.
    const ended = s.events.find((e) => e.t === 'session.speech-ended' && e.utterance === first.utterance);
    assert.ok(ended, `${name}: the utterance ends`);
    assert.equal((await s.stats()).bargeIns, started.filter((e) => e.bargeIn).length);
  }
});
