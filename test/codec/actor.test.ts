// The codec actor in a real `codec` worker pool, with main-thread stand-ins for the session
// (collecting session.frames) and listen (collecting listen.pcm): uplink packets come out as
// 16 kHz PCM in order, TTS PCM at any rate comes out as exact 60 ms Opus frames that decode back
// to the speech, garbage is skipped without stopping the stream, and reset drops partial frames.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ActorSystem } from '../../runtime/system.js';
import { createDecoder, createEncoder, packetSamples } from '../../native/opus.js';
import type { CodecIn, CodecInit, CodecOut, CodecStats } from '../../actors/codec/messages.js';
// Registers the codec's codes on this thread too, so its errors keep their code after crossing.
import { CE } from '../../actors/codec/errors.js';
import { SENTENCES, bestCorrelation, concat, frames, rms, speak, speechTool } from '../fixtures/codec/speech.js';
import { collector } from '../fixtures/codec/collector.js';

const T = { timeout: 60_000 };
const MODULE = new URL('../../actors/codec/module.ts', import.meta.url);
type Pcm = Extract<CodecOut, { t: 'listen.pcm' }>;
type Frames = Extract<CodecOut, { t: 'session.frames' }>;

async function setup(t: TestContext, session = 's1', downlink: CodecInit['downlink'] = { sampleRate: 24_000, frameMs: 60, complexity: 5 }) {
  const sys = new ActorSystem({ requestTimeoutMs: 10_000 });
  sys.addPool({ name: 'codec', size: 2, modules: [MODULE] });
  t.after(() => sys.shutdown());
  await sys.start();
  const listen = collector<Pcm>();
  const sessionActor = collector<Frames>();
  await sys.spawn(`listen/${session}`, listen.def, undefined, { session });
  await sys.spawn(`session/${session}`, sessionActor.def, undefined, { session });
  const init: CodecInit = { session, sessionAddr: `session/${session}`, listenAddr: `listen/${session}`, downlink };
  await sys.spawn(`codec/${session}`, 'codec', init, { pool: 'codec', session });
  const send = (msg: CodecIn, transfer: ArrayBuffer[] = []) => sys.send(`codec/${session}`, msg, { session, transfer });
  const stats = () => sys.request<CodecStats>(`codec/${session}`, { t: 'codec.stats' }, { session });
  return { sys, listen, session: sessionActor, send, stats };
}

/** Uplink packets as a device would send them: 16 kHz, 60 ms, complexity 0. */
function devicePackets(speech: Int16Array): Uint8Array[] {
  const enc = createEncoder({ sampleRate: 16_000, frameMs: 60, complexity: 0 });
  return frames(speech, 960).map((f) => enc.encode(f));
}

test('decode path: uplink packets arrive at listen as 16 kHz PCM, in order, one message per packet', T, async (t) => {
  if (!speechTool(t)) return;
  const { listen, send, stats } = await setup(t);
  const speech = speak(SENTENCES[0]!, 16_000);
  const packets = devicePackets(speech);
  const t0 = performance.now();
  packets.forEach((p, seq) => send({ t: 'codec.decode', opus: p, seq }, [p.buffer as ArrayBuffer]));
  assert.equal(packets[0]!.byteLength, 0, 'the packet was transferred, not copied');
  const got = await listen.until((g) => g.length === packets.length);
  const ms = performance.now() - t0;
  assert.deepEqual(got.map((m) => m.seq), packets.map((_, i) => i));
  for (const m of got) {
    assert.ok(m.pcm instanceof Int16Array);
    assert.equal(m.pcm.length, 960);
  }
  const { r } = bestCorrelation(speech, concat(got.map((m) => m.pcm)), 400);
  assert.ok(r > 0.9, `decoded audio is the speech (r=${r.toFixed(3)})`);
  const s = await stats();
  assert.equal(s.decoded, packets.length);
  assert.equal(s.decodeErrors, 0);
  t.diagnostic(`${packets.length} packets main → codec worker → main in ${ms.toFixed(1)} ms (${((ms * 1000) / packets.length).toFixed(0)} µs per packet end to end; decode ${(s.decodeUs / s.decoded).toFixed(1)} µs)`);
});

test('a garbage packet mid-stream is counted and skipped; DTX becomes silence; the stream goes on', T, async (t) => {
  if (!speechTool(t)) return;
  const { listen, send, stats } = await setup(t);
  const packets = devicePackets(speak(SENTENCES[1]!, 16_000));
  const garbage = new TextEncoder().encode('garbagegarbagegarbage');
  const stream = [...packets.slice(0, 10), garbage, new Uint8Array(0), ...packets.slice(10)];
  stream.forEach((p, seq) => send({ t: 'codec.decode', opus: p, seq }, [p.buffer as ArrayBuffer]));
  const got = await listen.until((g) => g.length === stream.length - 1);
  assert.deepEqual(
    got.map((m) => m.seq),
    stream.map((_, i) => i).filter((i) => i !== 10),
    'everything but the garbage packet, in order',
  );
  const dtx = got.find((m) => m.seq === 11)!;
  assert.equal(dtx.pcm.length, 960, 'DTX stands for 60 ms');
  assert.equal(rms(dtx.pcm), 0);
  assert.ok(rms(got[got.length - 10]!.pcm) > 0, 'speech after the garbage decodes');
  const s = await stats();
  assert.deepEqual([s.decoded, s.decodeErrors, s.dtx], [stream.length - 1, 1, 1]);
});

test('encode path: 22 050 Hz TTS chunks become exact 60 ms frames at 24 kHz that decode back to the speech', T, async (t) => {
  if (!speechTool(t)) return;
  const { session, send, stats } = await setup(t);
  const tts = speak(SENTENCES[0]!, 22_050);
  let off = 0;
  let seed = 3;
  while (off < tts.length) {
    seed = (seed * 7919 + 13) % 4001;
    const pcm = tts.slice(off, off + 500 + seed);
    off += pcm.length;
    send({ t: 'codec.encode', pcm, sampleRate: 22_050, sentence: 1, last: false }, [pcm.buffer]);
  }
  send({ t: 'codec.encode', pcm: new Int16Array(0), sampleRate: 22_050, sentence: 1, last: true });
  const got = await session.until((g) => g.some((m) => m.last));
  const all = got.flatMap((m) => m.frames);
  const expected = Math.ceil(Math.ceil((tts.length * 24_000) / 22_050) / 1440);
  assert.equal(all.length, expected, 'the resampled sentence, padded to whole frames');
  for (const m of got) {
    assert.equal(m.sentence, 1);
    assert.equal(m.durationMs, m.frames.length * 60);
  }
  assert.equal(got.filter((m) => m.last).length, 1);
  assert.equal(got[got.length - 1]!.last, true, 'last comes last');
  for (const f of all) assert.equal(packetSamples(f, 24_000), 1440, 'every frame is exactly 60 ms');

  const dec = createDecoder({ sampleRate: 16_000 });
  const out = concat(all.map((f) => dec.decode(f)));
  assert.equal(out.length, all.length * 960);
  const ref = speak(SENTENCES[0]!, 16_000);
  const { r, lag } = bestCorrelation(ref, out, 400);
  assert.ok(r > 0.85, `downlink audio is the sentence (r=${r.toFixed(3)}, lag ${lag})`);
  const s = await stats();
  assert.equal(s.encoded, all.length);
  assert.equal(s.batches, got.length);
  t.diagnostic(`encode incl. resampling: ${(s.encodeUs / s.encoded).toFixed(0)} µs per 60 ms frame`);
});

test('PCM already at the downlink rate is cut without resampling; a bare `last` flushes the tail', T, async (t) => {
  if (!speechTool(t)) return;
  const { session, send } = await setup(t, 's2', { sampleRate: 16_000, frameMs: 20, complexity: 0 });
  const pcm = speak(SENTENCES[1]!, 16_000);
  const n = pcm.length;
  send({ t: 'codec.encode', pcm, sampleRate: 16_000, sentence: 7, last: false }, [pcm.buffer as ArrayBuffer]);
  const whole = Math.floor(n / 320);
  const first = await session.until((g) => g.reduce((a, m) => a + m.frames.length, 0) === whole);
  assert.equal(first[0]!.frames.length, 1, "the turn's first frame leaves alone, before the rest is encoded");
  assert.ok(first.every((m) => m.frames.length <= 4), 'a big chunk goes out in slices (other sessions get the worker in between)');
  assert.ok(first.every((m) => !m.last), 'the remainder is kept for the next chunk');
  const before = first.length;
  send({ t: 'codec.encode', pcm: new Int16Array(0), sampleRate: 16_000, sentence: 7, last: true });
  const got = await session.until((g) => g.length === before + 1);
  assert.equal(got[before]!.frames.length, n % 320 === 0 ? 0 : 1);
  assert.equal(got[before]!.last, true);
  for (const f of got.flatMap((m) => m.frames)) assert.equal(packetSamples(f, 16_000), 320);
});

test('reset drops the partial frame; a new sentence drops an unfinished one', T, async (t) => {
  const { session, send, stats } = await setup(t);
  const chunk = (n: number) => new Int16Array(n).fill(1000);
  send({ t: 'codec.encode', pcm: chunk(1000), sampleRate: 24_000, sentence: 1, last: false });
  send({ t: 'codec.reset' });
  send({ t: 'codec.encode', pcm: new Int16Array(0), sampleRate: 24_000, sentence: 1, last: true });
  const a = await session.until((g) => g.length === 1);
  assert.deepEqual([a[0]!.frames.length, a[0]!.last], [0, true], 'nothing left to flush after reset');
  send({ t: 'codec.encode', pcm: chunk(2000), sampleRate: 16_000, sentence: 2, last: false });
  send({ t: 'codec.encode', pcm: chunk(1440), sampleRate: 24_000, sentence: 3, last: true });
  const b = await session.until((g) => g.some((m) => m.sentence === 3));
  const s3 = b.filter((m) => m.sentence === 3);
  assert.equal(s3.flatMap((m) => m.frames).length, 1, 'sentence 3 alone: one frame');
  const s = await stats();
  // 1000 by the reset, then sentence 2's partial frame (its two whole frames were sent).
  assert.equal(b.filter((m) => m.sentence === 2).flatMap((m) => m.frames).length, 2);
  assert.ok(s.droppedSamples > 1000 && s.droppedSamples < 1000 + 1440, `dropped samples counted (${s.droppedSamples})`);
});

test('a bad downlink configuration fails the spawn with a coded error', T, async (t) => {
  const sys = new ActorSystem({ requestTimeoutMs: 10_000 });
  sys.addPool({ name: 'codec', size: 1, modules: [MODULE] });
  t.after(() => sys.shutdown());
  await sys.start();
  const init: CodecInit = { session: 'x', sessionAddr: 'session/x', listenAddr: null, downlink: { sampleRate: 22_050, frameMs: 60, complexity: 5 } };
  await assert.rejects(sys.spawn('codec/x', 'codec', init, { pool: 'codec', session: 'x' }), { code: CE.XZ_ERR_CODEC_CONFIG });
});
