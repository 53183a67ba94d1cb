// The listen actor in a real worker pool, fed real speech (espeak-ng) as 16 kHz PCM chunks the
// way the codec actor sends it: utterance boundaries in audio time, pre-roll, chunking and
// batching independence, manual mode, reset, and the ASR hand-off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { energyEnvelope } from '../../actors/listen/echo.js';
import type { ListenOut } from '../../actors/listen/messages.js';
import { VAD, startListen, type Session } from '../fixtures/listen/harness.js';
import { sileroModel } from '../fixtures/listen/model.js';
import { checksum, REGISTRY } from '../fixtures/listen/asr-registry.js';
import { concat, silence, speak, speechTools } from '../fixtures/listen/speech.js';
import { fixture, once } from '../helpers/actors.js';

const opts = { timeout: 60_000 };
const WINDOW_MS = 32;
const CHUNK = 960; // 60 ms, as the device sends
const ASR = { provider: { type: 'fixture' }, registry: REGISTRY };

/** Where the sentence's audible part lies inside `pcm`, ms (10 ms energy frames over −45 dBFS). */
function audible(pcm: Int16Array): [number, number] {
  const e = energyEnvelope(pcm, 16_000);
  const first = e.findIndex((x) => x > -45);
  let last = first;
  e.forEach((x, i) => {
    if (x > -45) last = i;
  });
  return [first * 10, (last + 1) * 10];
}

function twoSentences() {
  const a = speak('The quick brown fox jumps over the lazy dog near the river bank.', 'en-us+f3');
  const b = speak('Please turn on the kitchen lights and set a timer for ten minutes.', 'en+m1');
  const lead = silence(700);
  const gap = silence(1000);
  const pcm = concat(lead, a, gap, b, silence(1500));
  const offA = 700;
  const offB = 700 + (a.length + gap.length) / 16;
  const [a0, a1] = audible(a);
  const [b0, b1] = audible(b);
  return { pcm, spans: [[offA + a0, offA + a1], [offB + b0, offB + b1]] as [number, number][] };
}

/** The events without wall-clock fields, for comparing runs. */
const audioOnly = (evs: ListenOut[]) => evs.map((e) => (e.t === 'session.transcript' ? { ...e, asrMs: 0 } : e));

test('speech, 1 s of silence, speech: two utterances at the right audio times', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const s = await h.add('s1', { asr: ASR });
  const { pcm, spans } = twoSentences();
  await s.feed(pcm, CHUNK);
  await s.waitFor('session.transcript', (e) => e.utterance === 2);
  const started = s.events.filter((e) => e.t === 'session.speech-started');
  const ended = s.events.filter((e) => e.t === 'session.speech-ended');
  assert.deepEqual(started.map((e) => e.utterance), [1, 2]);
  assert.deepEqual(ended.map((e) => e.utterance), [1, 2]);
  for (let i = 0; i < 2; i++) {
    const [from, to] = spans[i]!;
    const st = started[i]!;
    const en = ended[i]!;
    // ±1 window on the window grid: the onset's window, or one either side.
    assert.ok(Math.abs(st.atMs / WINDOW_MS - Math.round(from / WINDOW_MS)) <= 1, `utterance ${i + 1} starts at ${st.atMs} ms, speech at ${from} ms`);
    // Silero's probability decays over 2–3 windows after the last phoneme; the end is where
    // it fell below the negative threshold.
    assert.ok(en.atMs >= to - WINDOW_MS && en.atMs <= to + 4 * WINDOW_MS, `utterance ${i + 1} ends at ${en.atMs} ms, speech until ${to} ms`);
    assert.equal(en.reason, 'silence');
    assert.equal(st.bargeIn, false);
    // The ASR got exactly the audio from 300 ms before the onset on: checked by its checksum.
    const tr = s.events.find((e): e is Extract<ListenOut, { t: 'session.transcript' }> => e.t === 'session.transcript' && e.utterance === i + 1)!;
    const audioFrom = (st.atMs - 300) * 16;
    const audio = pcm.subarray(audioFrom, audioFrom + en.audioMs * 16);
    assert.equal(tr.text, `${audio.length} samples sum ${checksum(audio)}`);
    assert.equal(tr.audioMs, en.audioMs);
    assert.ok(en.audioMs >= en.atMs - st.atMs + 300 + 400 && en.audioMs <= en.atMs - st.atMs + 300 + 400 + 60 + WINDOW_MS, `audioMs ${en.audioMs}: pre-roll + speech + the end silence`);
  }
  // The transcript follows the end of speech; ordering on the session's system lane holds.
  const order = s.events.map((e) => `${e.t}:${e.utterance}`);
  assert.deepEqual(order, [
    'session.speech-started:1',
    'session.speech-ended:1',
    'session.transcript:1',
    'session.speech-started:2',
    'session.speech-ended:2',
    'session.transcript:2',
  ]);
  const st = await s.stats();
  assert.equal(st.utterances, 2);
  assert.equal(st.open, null);
  assert.ok(st.heldMs <= 400, `only the pre-roll is held between utterances (${st.heldMs} ms)`);
});

test('events depend on the audio only: any chunking, alone or batched with other sessions', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const { pcm } = twoSentences();
  const sizes: (number | (() => number))[] = [CHUNK, 320, 4096];
  let x = 11;
  sizes.push(() => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return 1 + (x % 2500);
  });
  // One session alone first (every batch has one window)...
  const alone = await h.add('alone');
  await alone.feed(pcm, CHUNK);
  await alone.settle();
  const reference = audioOnly(alone.events);
  assert.equal(reference.length, 6);
  // ...then four at once with different chunkings, so their windows share model calls.
  const sessions: Session[] = [];
  for (let i = 0; i < sizes.length; i++) sessions.push(await h.add(`c${i}`));
  const before = (await alone.stats()).batcher;
  await Promise.all(sessions.map((s, i) => s.feed(pcm, sizes[i]!)));
  await Promise.all(sessions.map((s) => s.settle()));
  for (const s of sessions) {
    assert.deepEqual(audioOnly(s.events), reference, `session ${s.id}`);
    assert.equal((await s.stats()).seqGaps, 0, 'no audio dropped at the mailbox');
  }
  const after = (await alone.stats()).batcher;
  const runs = after.runs - before.runs;
  const windows = after.windows - before.windows;
  assert.ok(after.largest >= 3, `windows of several sessions scored together (largest batch ${after.largest})`);
  assert.ok(runs < windows, `${windows} windows in ${runs} model calls`);
});

test('manual mode: one utterance across pauses, finalized by listen.stop', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const s = await h.add('m1', { asr: ASR, mode: null });
  const { pcm, spans } = twoSentences();
  s.send({ t: 'listen.start', mode: 'manual' });
  await s.feed(pcm.subarray(0, pcm.length - 16_000), CHUNK); // released 500 ms after the second sentence
  s.send({ t: 'listen.stop', untilSeq: s.lastSeq });
  const tr = await s.waitFor('session.transcript');
  assert.deepEqual(s.events.map((e) => e.t), ['session.speech-started', 'session.speech-ended', 'session.transcript']);
  const st = s.events[0] as Extract<ListenOut, { t: 'session.speech-started' }>;
  const en = s.events[1] as Extract<ListenOut, { t: 'session.speech-ended' }>;
  assert.ok(Math.abs(st.atMs / WINDOW_MS - Math.round(spans[0]![0] / WINDOW_MS)) <= 1);
  assert.equal(en.reason, 'stop');
  assert.ok(en.atMs >= spans[1]![1] - WINDOW_MS && en.atMs <= spans[1]![1] + 4 * WINDOW_MS, `ends where speech ended (${en.atMs} vs ${spans[1]![1]})`);
  // Everything from the pre-roll to the release went to ASR, the pause included.
  const audio = pcm.subarray((st.atMs - 300) * 16, pcm.length - 16_000);
  assert.equal(en.audioMs, audio.length / 16);
  assert.equal(tr.text, `${audio.length} samples sum ${checksum(audio)}`);
  assert.equal((await s.stats()).mode, null, 'not listening after stop');

  // Push-to-talk released without a word: an empty result, so the session is not left waiting.
  s.send({ t: 'listen.start', mode: 'manual' });
  await s.feed(silence(600), CHUNK);
  s.send({ t: 'listen.stop' });
  const empty = await s.waitFor('session.transcript', (e) => e.utterance !== tr.utterance);
  assert.equal(empty.text, '');
  assert.equal(empty.audioMs, 0);
});

test('a stop that overtakes its audio waits for the frame it names', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const s = await h.add('m2', { mode: 'manual' });
  const a = concat(silence(300), speak('Hello there, how are you?', 'en-us'), silence(200));
  const chunks = Math.ceil(a.length / CHUNK);
  // The stop travels on the system lane and so jumps the queued audio.
  void h.sys.send(s.addr, { t: 'listen.stop', untilSeq: chunks - 1 }, { session: s.id, lane: 'system' });
  await s.feed(a, CHUNK);
  const u = await s.waitFor('session.utterance');
  const started = s.events.find((e) => e.t === 'session.speech-started')!;
  assert.equal(u.audioMs, a.length / 16 - (started.atMs - 300), 'all audio up to the named frame');
});

test('listen.reset forgets the utterance in progress and the buffered audio', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const s = await h.add('r1', { asr: ASR });
  const a = speak('The quick brown fox jumps over the lazy dog near the river bank.', 'en-us+f3');
  const b = speak('Please turn on the kitchen lights.', 'en+m1');
  await s.feed(concat(silence(500), a.subarray(0, 2 * 16_000)), CHUNK); // two seconds into A
  await s.settle();
  assert.equal((await s.stats()).open?.utterance, 1, 'an utterance is open');
  s.send({ t: 'listen.reset' });
  await s.settle();
  const st = await s.stats();
  assert.equal(st.open, null);
  assert.equal(st.heldMs, 0, 'no audio held');
  // The rest of A, silence, then B: A's tail is a new utterance; nothing of before the reset.
  const rest = concat(a.subarray(2 * 16_000), silence(1000), b, silence(1000));
  await s.feed(rest, CHUNK);
  await s.waitFor('session.transcript', (e) => e.utterance === 3);
  assert.equal(s.events.filter((e) => e.utterance === 1 && e.t !== 'session.speech-started').length, 0, 'utterance 1 never ends nor transcribes');
  const startedAfter = s.events.filter((e) => e.t === 'session.speech-started' && e.utterance > 1) as Extract<ListenOut, { t: 'session.speech-started' }>[];
  const resetAt = 500 + 2000;
  assert.ok(startedAfter[0]!.atMs >= resetAt, `first start after the reset (${startedAfter[0]!.atMs} ≥ ${resetAt})`);
  const tr2 = s.events.find((e) => e.t === 'session.transcript' && e.utterance === 2) as Extract<ListenOut, { t: 'session.transcript' }>;
  // Its pre-roll cannot reach back past the reset: the audio starts at the reset at the earliest.
  const from = Math.max(resetAt, startedAfter[0]!.atMs - 300) * 16 - resetAt * 16;
  const audio = rest.subarray(from, from + tr2.audioMs * 16);
  assert.equal(tr2.text, `${audio.length} samples sum ${checksum(audio)}`);
});

test('audio before listen.start is ignored but keeps the audio clock', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const s = await h.add('n1', { mode: null });
  const a = concat(silence(400), speak('Good morning.', 'en-us'), silence(800));
  await s.feed(a, CHUNK); // the wake-word burst: not listening yet
  s.send({ t: 'listen.start', mode: 'auto' });
  await s.feed(a, CHUNK);
  const u = await s.waitFor('session.utterance');
  const st = s.events.find((e) => e.t === 'session.speech-started')!;
  assert.equal(s.events.filter((e) => e.t === 'session.speech-started').length, 1);
  assert.ok(st.atMs > a.length / 16, `timed on the session's audio clock (${st.atMs} ms)`);
  assert.ok(u.audioMs > 0);
  const stats = await s.stats();
  assert.equal(stats.ignoredMs, a.length / 16);
  assert.equal(stats.seqGaps, 0);
});

test('an ASR failure reaches the session as a coded error', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const s = await h.add('f1', { asr: { provider: { type: 'fixture', fail: true }, registry: REGISTRY } });
  await s.feed(concat(silence(300), speak('This will not be understood.', 'en-us'), silence(800)), CHUNK);
  const f = await s.waitFor('session.asr-failed');
  assert.equal(f.code, 'XZ_ERR_INTERNAL');
  assert.match(f.message, /on purpose/);
  assert.ok(f.audioMs > 0);
});

test('a listen worker that crashes mid-run is restarted with fresh actors and model; the process lives on', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  // An echo fixture actor shares the worker, to crash it with an uncaught exception on command.
  const h = await startListen(t, {}, [fixture('echo')]);
  const s = await h.add('k1');
  await h.sys.spawn('crasher', 'echo', undefined, { pool: 'listen' });
  const pcm = concat(silence(300), speak('Good evening.', 'en-us'), silence(800));
  await s.feed(pcm, CHUNK);
  await s.waitFor('session.utterance');
  // Crash while model runs are in flight (a second session keeps the batcher busy).
  const busy = await h.add('k2');
  // (its in-flight stats requests fail with the crash: expected)
  const feeding = busy.feed(concat(pcm, pcm, pcm), 320).catch(() => undefined);
  const restarted = once(h.sys, 'restarted');
  void h.sys.send('crasher', { t: 'echo.crash' });
  await restarted;
  await feeding;
  const st = await s.stats();
  assert.equal(st.audioMs, 0, 'fresh state');
  await s.feed(pcm, CHUNK);
  await s.waitFor('session.utterance', () => s.events.filter((x) => x.t === 'session.utterance').length === 2);
});

test('early transcription: a pause that ends the utterance was already being transcribed', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const vad = { ...VAD, early_asr_ms: 200 };
  const s = await h.add('x1', { asr: ASR, vad });
  const { pcm, spans } = twoSentences();
  await s.feed(pcm, CHUNK);
  await s.waitFor('session.transcript', (e) => e.utterance === 2);
  const st = await s.stats();
  assert.equal(st.earlyAsrUsed, 2, 'both utterances were answered by their early request');
  // The worker's totals, as the status page shows them, count them too.
  const pool = h.sys.pool('listen');
  const counters = await Promise.all(pool.slots.filter((x) => x.alive).map((x) => pool.control<{ counters?: Record<string, number> }>(x, { t: 'host.stats' })));
  const used = counters.reduce((n, c) => n + (c.counters?.['earlyAsrUsed'] ?? 0), 0);
  assert.ok(used >= 2, `worker totals: ${JSON.stringify(counters.map((c) => c.counters))}`);
  for (let i = 0; i < 2; i++) {
    const started = s.events.find((e) => e.t === 'session.speech-started' && e.utterance === i + 1) as Extract<ListenOut, { t: 'session.speech-started' }>;
    const ended = s.events.find((e) => e.t === 'session.speech-ended' && e.utterance === i + 1) as Extract<ListenOut, { t: 'session.speech-ended' }>;
    const tr = s.events.find((e) => e.t === 'session.transcript' && e.utterance === i + 1) as Extract<ListenOut, { t: 'session.transcript' }>;
    // The text is that of the utterance's audio from the pre-roll up to 200 ms into the pause
    // (on the window grid): all of the speech, less of the trailing silence.
    const samples = Number(tr.text.split(' ')[0]);
    const audioFrom = (started.atMs - 300) * 16;
    assert.equal(tr.text, `${samples} samples sum ${checksum(pcm.subarray(audioFrom, audioFrom + samples))}`);
    const pauseMs = audioFrom / 16 + samples / 16 - ended.atMs;
    assert.ok(pauseMs >= 200 && pauseMs < 200 + 2 * WINDOW_MS, `utterance ${i + 1}: ${pauseMs} ms of its pause went along`);
    assert.ok(ended.atMs >= spans[i]![1] - WINDOW_MS, 'the speech itself is all there');
    assert.equal(tr.audioMs, ended.audioMs);
  }
});

test('early transcription: a pause inside the utterance is dropped when speech goes on', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const s = await h.add('x2', { asr: ASR, vad: { ...VAD, early_asr_ms: 150 } });
  const audibleOf = (x: Int16Array) => {
    const [from, to] = audible(x);
    return x.subarray(from * 16, to * 16);
  };
  const a = audibleOf(speak('Turn on the kitchen lights.', 'en-us+f3'));
  const b = audibleOf(speak('And set a timer for ten minutes.', 'en-us+f3'));
  // A 300 ms pause: past the early mark, short of the 400 ms that would end the utterance.
  const pcm = concat(silence(500), a, silence(300), b, silence(1000));
  await s.feed(pcm, CHUNK);
  const tr = await s.waitFor('session.transcript');
  assert.equal(s.events.filter((e) => e.t === 'session.speech-ended').length, 1, 'one utterance across the pause');
  const st = await s.stats();
  assert.ok(st.earlyAsr >= 2, `an early request at the inner pause and at the end (${st.earlyAsr})`);
  assert.equal(st.earlyAsrUsed, 1);
  const samples = Number(tr.text.split(' ')[0]);
  const started = s.events.find((e) => e.t === 'session.speech-started') as Extract<ListenOut, { t: 'session.speech-started' }>;
  const audioFrom = (started.atMs - 300) * 16;
  assert.ok(audioFrom + samples >= (500 + (a.length + b.length) / 16 + 300) * 16, 'the text covers the speech after the pause');
  assert.equal(tr.text, `${samples} samples sum ${checksum(pcm.subarray(audioFrom, audioFrom + samples))}`);
});

test('early transcription is not used with a streaming ASR, nor when turned off', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const { pcm } = twoSentences();
  for (const [id, asr, vad] of [
    ['x3', { provider: { type: 'fixture', streaming: true }, registry: REGISTRY }, { ...VAD, early_asr_ms: 200 }],
    ['x4', ASR, { ...VAD, early_asr_ms: 0 }],
  ] as const) {
    const s = await h.add(id, { asr, vad });
    await s.feed(pcm, CHUNK);
    const tr = await s.waitFor('session.transcript', (e) => e.utterance === 2);
    const st = await s.stats();
    assert.equal(st.earlyAsr, 0, `${id}: no early request`);
    const ended = s.events.find((e) => e.t === 'session.speech-ended' && e.utterance === 2) as Extract<ListenOut, { t: 'session.speech-ended' }>;
    assert.equal(Number(tr.text.split(' ')[0]), ended.audioMs * 16, `${id}: the whole utterance, end silence included`);
  }
});

test('early transcription that fails: the whole utterance is transcribed the usual way', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t);
  const s = await h.add('x5', { asr: { provider: { type: 'fixture', failFirst: true }, registry: REGISTRY }, vad: { ...VAD, early_asr_ms: 200 } });
  const a = speak('Turn on the kitchen lights.', 'en-us+f3');
  await s.feed(concat(silence(500), a, silence(1000)), CHUNK);
  const tr = await s.waitFor('session.transcript');
  const ended = s.events.find((e) => e.t === 'session.speech-ended') as Extract<ListenOut, { t: 'session.speech-ended' }>;
  assert.equal(Number(tr.text.split(' ')[0]), ended.audioMs * 16, 'the whole utterance, end silence included');
  assert.equal(s.events.filter((e) => e.t === 'session.asr-failed').length, 0, 'the failed early request is not reported');
  assert.equal((await s.stats()).earlyAsrUsed, 1);
});
