// Latency bookkeeping of one turn (end of speech → stt → tts start → first frame → tts stop),
// RFC 3550 jitter after the lead burst, and the bucketed histogram behind every percentile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TurnTimeline } from '../../bench/fleet/turn.js';
import { Histogram } from '../../bench/fleet/histogram.js';
import { Metrics } from '../../bench/fleet/metrics.js';
import { PlaybackBuffer } from '../../bench/fleet/playback.js';

const T = { timeout: 10_000 };

test('latencies are measured from the last voiced frame sent', T, () => {
  const t = new TurnTimeline(60);
  t.speechEnded(1000);
  t.sttAt(1420);
  t.sttAt(1500); // a second stt does not move the first
  t.ttsStartAt(1430);
  t.ttsStartAt(1600); // repeated start changes nothing
  for (let i = 0; i < 5; i++) t.audioAt(1470);
  for (let i = 5; i < 20; i++) t.audioAt(1470 + (i - 4) * 60);
  t.ttsStopAt(1470 + 20 * 60 + 120, 1470 + 20 * 60);
  const r = t.result('answered');
  assert.equal(r.eosToStt, 420);
  assert.equal(r.eosToTtsStart, 430);
  assert.equal(r.eosToFirstAudio, 470);
  assert.equal(r.ttsStartToFirstAudio, 40);
  assert.equal(r.ttsStopAfterPlayout, 120);
  assert.equal(r.frames, 20);
  assert.equal(r.replyMs, 1200);
  assert.equal(r.jitterMs, 0, 'the lead burst is not jitter; exact pacing has none');
});

test('jitter follows RFC 3550 once pacing starts', T, () => {
  const t = new TurnTimeline(60);
  t.speechEnded(0);
  t.audioAt(100);
  t.audioAt(100); // burst: ignored
  t.audioAt(180); // |80 − 60| = 20 → J = 20/16
  t.audioAt(220); // |40 − 60| = 20 → J += (20 − J)/16
  const j1 = 20 / 16;
  const j2 = j1 + (20 - j1) / 16;
  assert.ok(Math.abs(t.result('answered').jitterMs - j2) < 1e-9);
});

test('events that did not happen are NaN, and a stop before any audio has no playout figure', T, () => {
  const t = new TurnTimeline(60);
  t.speechEnded(500);
  const none = t.result('no-reply');
  assert.ok(Number.isNaN(none.eosToStt) && Number.isNaN(none.eosToFirstAudio) && Number.isNaN(none.jitterMs));
  t.ttsStartAt(900);
  t.ttsStopAt(950, -Infinity);
  assert.ok(Number.isNaN(t.result('answered').ttsStopAfterPlayout));
  t.reset();
  assert.ok(Number.isNaN(t.eos) && t.frames === 0);
});

test('an early tts stop is counted and measured by how much tail it cuts', T, () => {
  const m = new Metrics();
  const t = new TurnTimeline(60);
  const p = new PlaybackBuffer(60);
  p.startTurn();
  t.speechEnded(0);
  t.ttsStartAt(400);
  for (let i = 0; i < 10; i++) {
    p.arrive(440);
    t.audioAt(440);
  }
  t.ttsStopAt(500, p.playEnd); // playout ends at 1040
  m.turn(t.result('answered'), p.turn);
  assert.equal(m.answered, 1);
  assert.equal(m.earlyStops, 1);
  assert.equal(m.h.ttsStopEarlyBy.max, 540);
  assert.equal(m.h.ttsStopAfterPlayout.count, 0);
  assert.equal(m.overflowFrames, 0);
});

test('histogram percentiles are within a bucket (~1%) of the exact ones', T, () => {
  const h = new Histogram();
  const values = Array.from({ length: 10_000 }, (_, i) => 0.5 + (i % 1000) * 0.37);
  for (const v of values) h.record(v);
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = sorted[Math.ceil(q * sorted.length) - 1]!;
    const got = h.quantile(q);
    assert.ok(Math.abs(got - exact) / exact < 0.011, `q${q}: ${got} vs ${exact}`);
  }
  const s = h.summary();
  assert.equal(s.count, 10_000);
  assert.equal(s.min, 0.5);
  assert.equal(s.max, 0.5 + 999 * 0.37);
  assert.ok(Math.abs(s.mean - values.reduce((a, b) => a + b) / values.length) < 1e-6);
  h.record(-3); // clock noise counts as zero
  assert.equal(h.min, 0);
});

test('histogram differences give per-window figures', T, () => {
  const h = new Histogram();
  for (let i = 0; i < 100; i++) h.record(10);
  const before = h.clone();
  for (let i = 0; i < 100; i++) h.record(500);
  const w = h.since(before);
  assert.equal(w.count, 100);
  assert.ok(Math.abs(w.quantile(0.5) - 500) / 500 < 0.011);
  assert.ok(Math.abs(w.quantile(0.01) - 500) / 500 < 0.011, 'the earlier samples are gone');
  assert.equal(h.count, 200);
  assert.ok(Number.isNaN(new Histogram().quantile(0.5)));
});
