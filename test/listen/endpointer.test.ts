// The endpointer on synthetic probabilities: min speech, end silence, hysteresis, onset gaps,
// pre-roll, max length, finalize, and that events are positions in audio, nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Endpointer, type EndpointEvent, type EndpointerConfig } from '../../actors/listen/endpointer.js';

const W = 512; // 32 ms at 16 kHz
const CFG: EndpointerConfig = { threshold: 0.5, minSpeechMs: 250, endSilenceMs: 400, windowSamples: W, sampleRate: 16_000 };
const opts = { timeout: 60_000 };

/** Runs probabilities through; returns events with the index of the window that caused each. */
function run(probs: number[], cfg: Partial<EndpointerConfig> = {}, origin = 0): { ev: EndpointEvent; i: number }[] {
  const ep = new Endpointer({ ...CFG, ...cfg }, origin);
  const out: { ev: EndpointEvent; i: number }[] = [];
  probs.forEach((p, i) => {
    const ev = ep.push(p);
    if (ev) out.push({ ev, i });
  });
  return out;
}

const rep = (p: number, n: number): number[] => Array(n).fill(p);

test('speech shorter than min_speech is not speech; reaching it starts at the onset', opts, () => {
  // 250 ms = 7.8 windows: 7 voiced windows (224 ms) are not enough.
  assert.deepEqual(run([...rep(0.1, 5), ...rep(0.9, 7), ...rep(0.1, 20)]), []);
  const r = run([...rep(0.1, 5), ...rep(0.9, 8), ...rep(0.1, 20)]);
  assert.equal(r[0]!.i, 12, 'confirmed by the 8th voiced window');
  assert.deepEqual(r[0]!.ev, { kind: 'speech-start', atSample: 5 * W, fromSample: 0 });
});

test('end of speech needs end_silence of unvoiced audio, and ends where the silence began', opts, () => {
  // 400 ms = 12.5 windows: 12 silent windows keep the utterance open, the 13th ends it.
  const open = run([...rep(0.9, 20), ...rep(0.1, 12)]);
  assert.deepEqual(open.map((x) => x.ev.kind), ['speech-start']);
  const r = run([...rep(0.9, 20), ...rep(0.1, 13), ...rep(0.9, 3)]);
  assert.equal(r.length, 2);
  assert.equal(r[1]!.i, 32);
  assert.deepEqual(r[1]!.ev, { kind: 'speech-end', atSample: 20 * W, startSample: 0, reason: 'silence' });
  // Silence shorter than end_silence inside speech keeps one utterance.
  assert.deepEqual(run([...rep(0.9, 20), ...rep(0.1, 10), ...rep(0.9, 20), ...rep(0.1, 13)]).map((x) => x.ev.kind), ['speech-start', 'speech-end']);
});

test('hysteresis: between the thresholds neither starts, nor ends, nor interrupts a silence run', opts, () => {
  // 0.4 is below threshold (0.5) and above negThreshold (0.35).
  assert.deepEqual(run(rep(0.4, 50)), [], 'never starts');
  assert.deepEqual(run([...rep(0.9, 10), ...rep(0.4, 60)]).map((x) => x.ev.kind), ['speech-start'], 'never ends');
  // A silence run that began keeps counting through 0.4s and ends at its start.
  const r = run([...rep(0.9, 10), ...rep(0.2, 5), ...rep(0.4, 8)]);
  assert.deepEqual(r.at(-1)!.ev, { kind: 'speech-end', atSample: 10 * W, startSample: 0, reason: 'silence' });
  assert.equal(r.at(-1)!.i, 22);
  // Only a window at or above threshold interrupts it.
  assert.deepEqual(run([...rep(0.9, 10), ...rep(0.2, 5), ...rep(0.4, 3), 0.6, ...rep(0.2, 12)]).map((x) => x.ev.kind), ['speech-start']);
  // An onset carries on through 0.4s (voiced enough) and confirms.
  assert.deepEqual(run([0.9, ...rep(0.4, 9)]).map((x) => x.ev.kind), ['speech-start']);
  const ep = new Endpointer({ ...CFG, threshold: 0.6 });
  assert.ok(Math.abs(ep.negThreshold - 0.45) < 1e-9, 'negThreshold = threshold − 0.15');
  assert.equal(new Endpointer({ ...CFG, threshold: 0.1 }).negThreshold, 0.01, 'clamped above zero');
});

test('a short dip inside an onset is tolerated; a gap abandons it', opts, () => {
  const kept = run([...rep(0.9, 4), ...rep(0.1, 2), ...rep(0.9, 4), ...rep(0.1, 20)]);
  assert.deepEqual(kept[0]?.ev, { kind: 'speech-start', atSample: 0, fromSample: 0 });
  const dropped = run([...rep(0.9, 4), ...rep(0.1, 4), ...rep(0.9, 8), ...rep(0.1, 20)]);
  assert.equal(dropped[0]?.ev.kind, 'speech-start');
  assert.equal((dropped[0]!.ev as { atSample: number }).atSample, 8 * W, 'starts at the second onset');
});

test('pre-roll reaches 300 ms before the onset, never before the stream start or the last reset', opts, () => {
  const r = run([...rep(0.1, 30), ...rep(0.9, 10)]);
  assert.deepEqual(r[0]!.ev, { kind: 'speech-start', atSample: 30 * W, fromSample: 30 * W - 4800 });
  const early = run([...rep(0.1, 3), ...rep(0.9, 10)]);
  assert.equal((early[0]!.ev as { fromSample: number }).fromSample, 0);
  const ep = new Endpointer(CFG);
  for (const p of rep(0.1, 50)) ep.push(p);
  ep.reset(50 * W + 100); // listen.start after 1.6 s: audio before it is gone
  let ev: EndpointEvent | undefined;
  for (const p of rep(0.9, 8)) ev ??= ep.push(p);
  assert.deepEqual(ev, { kind: 'speech-start', atSample: 50 * W + 100, fromSample: 50 * W + 100 });
  assert.deepEqual(run([...rep(0.9, 10)], { preRollMs: 0 })[0]!.ev, { kind: 'speech-start', atSample: 0, fromSample: 0 });
  // While idle the audio to keep is the pre-roll; during an onset, from the onset's pre-roll.
  const k = new Endpointer(CFG);
  for (const p of rep(0.1, 40)) k.push(p);
  assert.equal(k.keepFrom, 40 * W - 4800);
  for (const p of [0.9, 0.9]) k.push(p);
  assert.equal(k.keepFrom, 40 * W - 4800);
});

test('events are audio positions: the same probabilities give the same events, shifted with the origin', opts, () => {
  const probs: number[] = [];
  let x = 7;
  for (let i = 0; i < 2000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    // Slow-changing random speech/silence with noisy probabilities.
    const speaking = Math.floor(i / 37) % 3 !== 0;
    probs.push(Math.min(1, Math.max(0, (speaking ? 0.7 : 0.2) + ((x / 2 ** 31) - 0.5) * 0.6)));
  }
  const a = run(probs);
  const b = run(probs);
  assert.deepEqual(a, b);
  assert.ok(a.length >= 10, `some events (${a.length})`);
  const shift = 123_457;
  const c = run(probs, {}, shift);
  assert.deepEqual(
    c.map(({ ev, i }) => ({ i, ev: ev.kind === 'speech-start' ? { ...ev, atSample: ev.atSample - shift, fromSample: ev.fromSample - shift } : { ...ev, atSample: ev.atSample - shift, startSample: ev.startSample - shift } })),
    a.map(({ ev, i }) => ({ i, ev: ev.kind === 'speech-start' ? { ...ev, fromSample: Math.max(0, ev.fromSample) } : ev })),
  );
  // Starts and ends alternate.
  a.forEach(({ ev }, i) => assert.equal(ev.kind, i % 2 === 0 ? 'speech-start' : 'speech-end'));
});

test('max length cuts an utterance that never pauses', opts, () => {
  const r = run(rep(0.9, 100), { maxSpeechMs: 1000 });
  assert.deepEqual(r[1]?.ev, { kind: 'speech-end', atSample: 32 * W, startSample: 0, reason: 'max-length' });
  assert.equal(r[2]?.ev.kind, 'speech-start', 'and the next one begins');
});

test('finalize ends speech now (or where its silence began); an onset only when accepted', opts, () => {
  const ep = new Endpointer(CFG);
  for (const p of rep(0.9, 10)) ep.push(p);
  assert.deepEqual(ep.finalize(), [{ kind: 'speech-end', atSample: 10 * W, startSample: 0, reason: 'finalize' }]);
  for (const p of [...rep(0.9, 10), ...rep(0.1, 3)]) ep.push(p);
  assert.deepEqual(ep.finalize(), [{ kind: 'speech-end', atSample: 20 * W, startSample: 10 * W, reason: 'finalize' }]);
  for (const p of rep(0.9, 3)) ep.push(p);
  assert.equal(ep.phase, 'onset');
  assert.deepEqual(ep.finalize(), []);
  assert.equal(ep.phase, 'idle');
  for (const p of rep(0.9, 3)) ep.push(p);
  assert.deepEqual(ep.finalize(true), [
    { kind: 'speech-start', atSample: 26 * W, fromSample: 26 * W - 4800 },
    { kind: 'speech-end', atSample: 29 * W, startSample: 26 * W, reason: 'finalize' },
  ]);
});
