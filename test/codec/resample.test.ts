// Pins native/resample.ts: speech-band tones pass unchanged, nothing above the target Nyquist
// folds back (≥ 40 dB down), upsampling leaves no images, and a stream cut into arbitrary
// chunks yields exactly the samples of one whole push (no clicks at chunk borders).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createResampler, resamplerTaps } from '../../native/resample.js';
import { SENTENCES, bestCorrelation, concat, rms, speak, speechTool, tone, toneAmplitude } from '../fixtures/codec/speech.js';

const T = { timeout: 60_000 };
const db = (x: number) => 20 * Math.log10(x);

function whole(from: number, to: number, x: Int16Array): Int16Array {
  const r = createResampler(from, to);
  return concat([r.push(x), r.flush()]);
}

/** The middle of a signal, away from the start and end transients. */
const middle = (x: Int16Array, rate: number) => x.subarray(Math.round(rate * 0.1), Math.round(rate * 0.1) + 8192);

const PAIRS = [
  [22_050, 24_000],
  [16_000, 24_000],
  [24_000, 16_000],
  [22_050, 16_000],
  [48_000, 16_000],
  [24_000, 48_000],
  [8_000, 24_000],
] as const;

test('a 1 kHz tone survives every rate pair: same amplitude, same frequency, exact length', T, () => {
  for (const [from, to] of PAIRS) {
    const x = tone(1000, from, from);
    const y = whole(from, to, x);
    assert.equal(y.length, to, `${from}→${to}: one second stays one second`);
    const gain = db(toneAmplitude(middle(y, to), 1000, to) / 10_000);
    assert.ok(Math.abs(gain) < 0.1, `${from}→${to}: 1 kHz gain ${gain.toFixed(3)} dB`);
    assert.ok(Math.abs(db(rms(middle(y, to)) / rms(middle(x, from)))) < 0.1, `${from}→${to}: rms kept`);
  }
});

test('passband is flat to 0.7 × the lower Nyquist', T, () => {
  for (const [from, to] of PAIRS) {
    const f = 0.7 * (Math.min(from, to) / 2);
    const y = whole(from, to, tone(f, from, from));
    const gain = db(toneAmplitude(middle(y, to), f, to) / 10_000);
    assert.ok(gain > -1, `${from}→${to}: ${f.toFixed(0)} Hz at ${gain.toFixed(2)} dB`);
  }
});

test('downsampling: tones above the target Nyquist are attenuated by at least 40 dB (no aliasing)', T, () => {
  for (const [from, to] of PAIRS.filter(([f, t]) => t < f)) {
    const nyq = to / 2;
    for (const f of [nyq * 1.05, nyq * 1.2, Math.min(from / 2 - 200, nyq * 1.8)]) {
      const y = whole(from, to, tone(f, from, from));
      const level = db(rms(middle(y, to)) / (10_000 / Math.SQRT2));
      assert.ok(level <= -40, `${from}→${to}: ${f.toFixed(0)} Hz comes out at ${level.toFixed(1)} dB`);
    }
  }
});

test('upsampling: the spectral image of a tone is at least 40 dB down', T, () => {
  for (const [from, to] of PAIRS.filter(([f, t]) => t > f)) {
    for (const f of [1000, 0.7 * (from / 2)]) {
      const image = from - f;
      if (image >= to / 2) continue;
      const y = middle(whole(from, to, tone(f, from, from)), to);
      const level = db(toneAmplitude(y, image, to) / 10_000);
      assert.ok(level <= -40, `${from}→${to}: image of ${f.toFixed(0)} Hz at ${image.toFixed(0)} Hz is ${level.toFixed(1)} dB`);
    }
  }
});

test('streaming: any chunking gives exactly the samples of one whole push, and the tone has no clicks', T, () => {
  for (const [from, to] of PAIRS) {
    const x = tone(440, from, from);
    const ref = whole(from, to, x);
    let seed = 7;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n) + 1;
    for (const maxChunk of [1, 7, 480, 3000]) {
      const r = createResampler(from, to);
      const parts: Int16Array[] = [];
      for (let i = 0; i < x.length; ) {
        const n = maxChunk === 1 ? 1 : rnd(maxChunk);
        parts.push(r.push(x.subarray(i, i + n)));
        i += n;
      }
      parts.push(r.flush());
      const y = concat(parts);
      assert.equal(y.length, ref.length, `${from}→${to} chunks ≤ ${maxChunk}: same length`);
      assert.deepEqual(y, ref, `${from}→${to} chunks ≤ ${maxChunk}: same samples`);
    }
    // No step anywhere larger than a 440 Hz sine can make between two samples (plus rounding).
    const maxStep = 10_000 * 2 * Math.sin((Math.PI * 440) / to) + 2;
    let worst = 0;
    for (let i = 1 + to / 100; i < ref.length - to / 100; i++) worst = Math.max(worst, Math.abs(ref[i]! - ref[i - 1]!));
    assert.ok(worst <= maxStep, `${from}→${to}: largest step ${worst} ≤ ${maxStep.toFixed(1)}`);
  }
});

test('output is centred: no delay against the input, and flush() makes a reused resampler fresh', T, () => {
  const x = tone(1000, 22_050, 22_050);
  const y = whole(22_050, 24_000, x);
  const ref = tone(1000, 24_000, 24_000);
  assert.equal(bestCorrelation(ref.subarray(0, 20_000), y, 20).lag, 0);
  const r = createResampler(22_050, 24_000);
  r.push(tone(3000, 22_050, 5000));
  r.flush();
  assert.deepEqual(concat([r.push(x), r.flush()]), y);
  r.push(tone(3000, 22_050, 5000));
  r.reset();
  assert.deepEqual(concat([r.push(x), r.flush()]), y);
});

test('equal rates pass through (copied), bad rates are refused, taps grow when decimating', T, () => {
  const r = createResampler(16_000, 16_000);
  const x = tone(1000, 16_000, 100);
  const y = r.push(x);
  assert.deepEqual(y, x);
  assert.notEqual(y.buffer, x.buffer);
  assert.equal(r.flush().length, 0);
  assert.throws(() => createResampler(0, 16_000), RangeError);
  assert.throws(() => createResampler(16_000, 22_050.5), RangeError);
  assert.ok(resamplerTaps(48_000, 16_000) > resamplerTaps(16_000, 48_000));
});

test('espeak-ng speech at 22 050 Hz resampled to 24 kHz and 16 kHz keeps its waveform', T, (t) => {
  if (!speechTool(t)) return;
  const s16 = speak(SENTENCES[0]!, 16_000);
  const s24 = speak(SENTENCES[0]!, 24_000);
  const back = whole(24_000, 16_000, s24);
  assert.ok(Math.abs(back.length - s16.length) <= 1);
  const { r, lag } = bestCorrelation(s16, back, 4);
  assert.equal(lag, 0);
  assert.ok(r > 0.99, `22050→24000→16000 vs 22050→16000: r=${r.toFixed(4)}`);
});
