// Pins native/opus.ts: real espeak-ng speech survives an encode/decode round trip, every packet
// is exactly one frame long, device DTX and empty packets become silence of the right length,
// garbage throws a coded error without breaking the stream, and complexity really is applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { DTX_MAX_BYTES, createDecoder, createEncoder, packetSamples, type EncoderOptions } from '../../native/opus.js';
import { SENTENCES, bestCorrelation, concat, frames, rms, speak, speechTool } from '../fixtures/codec/speech.js';

const T = { timeout: 60_000 };
const require = createRequire(import.meta.url);

test('uplink round trip: 16 kHz speech encoded like a device decodes back to the same speech, 960 samples a packet', T, (t) => {
  if (!speechTool(t)) return;
  const speech = speak(SENTENCES[0]!, 16_000);
  const enc = createEncoder({ sampleRate: 16_000, frameMs: 60, complexity: 0 });
  const dec = createDecoder({ sampleRate: 16_000 });
  const packets = frames(speech, 960).map((f) => enc.encode(f));
  const outs = packets.map((p) => dec.decode(p));
  for (const o of outs) assert.equal(o.length, 960);
  for (const o of outs) assert.equal(o.byteOffset, 0, 'each PCM chunk owns its buffer (transferable)');
  const out = concat(outs);
  const { r, lag } = bestCorrelation(speech, out, 400);
  assert.ok(r > 0.9, `decoded speech correlates with the original (r=${r.toFixed(3)} at lag ${lag})`);
  assert.ok(lag > 0 && lag < 240, `delay is the codec lookahead, a few ms (${lag} samples)`);
  enc.free();
  dec.free();
  assert.throws(() => dec.decode(packets[0]!), { code: 'OPUS_FREED' });
});

test('downlink frames are exactly frameMs at every rate and frame length, and decode to that length', T, (t) => {
  if (!speechTool(t)) return;
  const dec = createDecoder({ sampleRate: 16_000 });
  for (const rate of [8000, 16000, 24000, 48000] as const) {
    const speech = speak(SENTENCES[1]!, rate);
    for (const frameMs of [20, 40, 60, 120] as const) {
      const enc = createEncoder({ sampleRate: rate, frameMs, complexity: 5 });
      assert.equal(enc.frameSamples, (rate * frameMs) / 1000);
      assert.equal(enc.sampleRate, rate);
      for (const f of frames(speech, enc.frameSamples).slice(0, 8)) {
        const p = enc.encode(f);
        assert.equal(p.byteOffset, 0);
        assert.equal(p.buffer.byteLength, p.byteLength, 'each packet owns its whole buffer');
        assert.equal(packetSamples(p, rate), enc.frameSamples, `${rate} Hz ${frameMs} ms: TOC says one frame`);
        assert.equal(dec.decode(p).length, (16_000 * frameMs) / 1000);
      }
      assert.throws(() => enc.encode(new Int16Array(enc.frameSamples + 1)), { code: 'OPUS_BAD_FRAME' });
      assert.throws(() => enc.encode(new Int16Array(enc.frameSamples - 1)), { code: 'OPUS_BAD_FRAME' });
    }
  }
});

test('DTX, empty and 1–3 byte packets decode to silence of the packet duration, never throw', T, (t) => {
  if (!speechTool(t)) return;
  const dec = createDecoder({ sampleRate: 16_000 });
  assert.deepEqual(dec.decode(new Uint8Array(0)), new Int16Array(960), 'empty: one 60 ms frame of silence');
  assert.equal(dec.decode(Uint8Array.of(0x58)).length, 960, 'SILK WB 60 ms TOC only');
  assert.equal(dec.decode(Uint8Array.of(0x50)).length, 640, 'SILK WB 40 ms TOC only');
  assert.equal(dec.decode(Uint8Array.of(0xf8, 0xff, 0xfe)).length, 320, 'CELT 20 ms, 3 bytes');
  assert.equal(dec.decode(Uint8Array.of(0x5b)).length, 960, 'code 3 without a count byte: the last duration');

  // What a device's encoder really sends in silence: complexity 0, DTX on (protocol.md §7.1).
  const { OpusEncoder } = require('@discordjs/opus') as { OpusEncoder: new (r: number, c: number) => { applyEncoderCTL(c: number, v: number): void; encode(b: Buffer): Buffer } };
  const device = new OpusEncoder(16_000, 1);
  device.applyEncoderCTL(4010, 0);
  device.applyEncoderCTL(4016, 1);
  const speech = speak(SENTENCES[0]!, 16_000).subarray(0, 16_000);
  const stream = [...frames(speech, 960), ...frames(new Int16Array(960 * 30), 960), ...frames(speech, 960)];
  const packets = stream.map((f) => new Uint8Array(device.encode(Buffer.from(f.buffer, f.byteOffset, f.byteLength))));
  const dtx = packets.filter((p) => p.length <= DTX_MAX_BYTES);
  assert.ok(dtx.length >= 10, `the device encoder sent DTX packets in silence (${dtx.length})`);
  for (const p of dtx) {
    const pcm = dec.decode(p);
    assert.equal(pcm.length, 960, `DTX packet of ${p.length} B is 60 ms`);
    assert.equal(rms(pcm), 0);
  }
  const all = packets.map((p) => dec.decode(p));
  assert.equal(concat(all).length, stream.length * 960, 'the audio clock keeps real time through DTX');
  assert.ok(rms(all[all.length - 5]!) > 100, 'speech after the silence decodes normally');
});

test('garbage packets throw a coded error and the decoder keeps decoding afterwards', T, (t) => {
  if (!speechTool(t)) return;
  const enc = createEncoder({ sampleRate: 16_000, frameMs: 60, complexity: 0 });
  const dec = createDecoder({ sampleRate: 16_000 });
  const good = frames(speak(SENTENCES[0]!, 16_000), 960).slice(10, 20).map((f) => enc.encode(f));
  const garbage = [
    new TextEncoder().encode('garbagegarbagegarbage'),
    Uint8Array.of(0x03, 0x00, 0x01, 0x02), // code 3 with zero frames
    Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff), // code 3 claiming 63 × 20 ms
  ];
  for (const g of garbage) {
    assert.throws(
      () => dec.decode(g),
      (e: { code?: string; name?: string }) => e.code === 'OPUS_INVALID_PACKET' && e.name === 'OpusError',
      `${g.length} B of garbage`,
    );
  }
  for (const p of good) assert.equal(dec.decode(p).length, 960);
});

test('complexity is applied: higher complexity gives different packets and costs more', T, (t) => {
  if (!speechTool(t)) return;
  const fr = frames(speak(SENTENCES.join(' '), 24_000), 1440);
  const run = (complexity: number) => {
    const enc = createEncoder({ sampleRate: 24_000, frameMs: 60, complexity });
    const warm = fr.slice(0, 20).map((f) => enc.encode(f));
    enc.reset();
    const t0 = performance.now();
    const packets = fr.map((f) => enc.encode(f));
    return { ms: performance.now() - t0, packets, warm };
  };
  const c0 = run(0);
  const c10 = run(10);
  const differs = c0.packets.filter((p, i) => Buffer.compare(p, c10.packets[i]!) !== 0).length;
  assert.ok(differs > fr.length / 2, `most packets differ between complexity 0 and 10 (${differs}/${fr.length})`);
  assert.ok(c10.ms > c0.ms * 2, `complexity 10 costs more than twice complexity 0 (${c10.ms.toFixed(1)} vs ${c0.ms.toFixed(1)} ms)`);
  // reset() really resets: after it, the encoder repeats a fresh encoder's output bit for bit.
  assert.deepEqual(c0.packets.slice(0, 20), c0.warm, 'reset encoder matches a fresh one');
});

test('bad encoder settings and a non-16 kHz decoder are refused with a coded error', T, () => {
  const ok: EncoderOptions = { sampleRate: 24_000, frameMs: 60, complexity: 5 };
  for (const bad of [
    { ...ok, sampleRate: 22_050 },
    { ...ok, frameMs: 30 },
    { ...ok, complexity: 11 },
    { ...ok, complexity: 2.5 },
    { ...ok, bitrate: 100 },
  ]) {
    assert.throws(() => createEncoder(bad as EncoderOptions), { code: 'OPUS_BAD_CONFIG' }, JSON.stringify(bad));
  }
  assert.throws(() => createDecoder({ sampleRate: 24_000 } as unknown as { sampleRate: 16000 }), { code: 'OPUS_BAD_CONFIG' });
});
