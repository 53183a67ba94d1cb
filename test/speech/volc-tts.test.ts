// Volcengine v3 bidirectional TTS against a fake speaking the event protocol over a real socket
// (test/doubles/volc-tts.ts): PCM at the declared rate, text streamed in pieces with audio before
// end(), one handshake across sentences and turns, prompt abort with CancelSession, coded failures.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PcmChunk } from '../../providers/contracts/audio.js';
import type { TtsProvider } from '../../providers/contracts/tts.js';
import { createTts, type ProviderConfig } from '../../providers/registry.js';
import { sine } from '../doubles/volc-wire.js';
import { startVolcTtsFake, type VolcTtsFake } from '../doubles/volc-tts.js';

const T = { timeout: 30_000 };
let fake: VolcTtsFake;

before(async () => {
  fake = await startVolcTtsFake({ sampleRate: 24_000, msPerChar: 40 });
});
after(async () => {
  await fake.close();
});

function config(f: VolcTtsFake, extra: Record<string, unknown> = {}): ProviderConfig {
  return { type: 'volc', url: f.url, appid: f.appId, access_token: f.accessKey, voice: 'zh_female_test_bigtts', ...extra };
}

const never = (): AbortSignal => new AbortController().signal;

async function pcmOf(it: AsyncIterable<PcmChunk>): Promise<{ samples: Int16Array; chunks: number; rates: Set<number> }> {
  const parts: Int16Array[] = [];
  const rates = new Set<number>();
  for await (const c of it) {
    parts.push(c.pcm);
    rates.add(c.sampleRate);
  }
  const samples = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    samples.set(p, at);
    at += p.length;
  }
  return { samples, chunks: parts.length, rates };
}

/** Time for the last frames the fake sent to reach the client. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 2));
  }
};

test('synthesize yields the PCM the service sent, at the declared rate, reassembled across odd frames', T, async () => {
  const tts = await createTts('doubao', config(fake));
  assert.deepEqual(tts.caps, { sampleRate: 24_000, streamingAudio: true, streamingText: true });
  const text = '你好，我是小智。';
  const got = await pcmOf(tts.synthesize({ text, voice: { rate: 1.5, pitch: 2 }, signal: never() }));
  const want = sine(24_000, [...text].length * 40).pcm;
  assert.deepEqual(got.rates, new Set([24_000]));
  assert.ok(got.chunks > 3, `${got.chunks} chunks`);
  assert.deepEqual(Buffer.from(got.samples.buffer), want, 'byte-exact after odd-sized frames');
  const rec = fake.sessions.at(-1)!;
  assert.deepEqual(fake.connections.flatMap((c) => c.violations), []);
  assert.equal(rec.outcome, 'finished');
  assert.deepEqual(rec.texts, [text]);
  const params = (rec.start as { req_params: Record<string, unknown> }).req_params;
  assert.equal(params.speaker, 'zh_female_test_bigtts');
  assert.deepEqual(params.audio_params, { format: 'pcm', sample_rate: 24_000, speech_rate: 50, loudness_rate: 0 });
  assert.deepEqual(JSON.parse(params.additions as string), { post_process: { pitch: 2 } });
  const h = fake.connections[rec.connection]!.headers;
  assert.equal(h['x-api-app-key'], fake.appId);
  assert.equal(h['x-api-access-key'], fake.accessKey);
  assert.equal(h['x-api-resource-id'], 'seed-tts-1.0');
  // Empty text costs nothing on the wire.
  const sessions = fake.sessions.length;
  assert.equal((await pcmOf(tts.synthesize({ text: '  ', voice: {}, signal: never() }))).samples.length, 0);
  assert.equal(fake.sessions.length, sessions);
  await tts.close?.();
});

test('open() streams text pieces: audio arrives before end(), all pieces reach one session', T, async () => {
  const tts = await createTts('doubao', config(fake));
  const s = tts.open!({ name: 'zh_male_other_bigtts' }, never());
  const it = s[Symbol.asyncIterator]();
  s.pushText('你好，');
  const first = await it.next();
  assert.equal(first.done, false, 'audio for the first fragment came before end()');
  const rec = fake.sessions.at(-1)!;
  assert.equal(rec.finishReceived, false);
  s.pushText('我是');
  s.pushText('小智。');
  s.end();
  let samples = first.value!.pcm.length;
  for (let r = await it.next(); !r.done; r = await it.next()) samples += r.value.pcm.length;
  assert.deepEqual(rec.texts, ['你好，', '我是', '小智。']);
  assert.equal((rec.start as { req_params: { speaker: string } }).req_params.speaker, 'zh_male_other_bigtts');
  assert.equal(samples, (24_000 * 40 * 8) / 1000);
  assert.ok(rec.firstAudioAt! > rec.firstTextAt!);
  assert.throws(() => s.pushText('late'), { code: 'XZ_ERR_INTERNAL' });
  await tts.close?.();
});

test('one handshake for 5 sentences over 2 turns; a closed connection is replaced', T, async () => {
  const own = await startVolcTtsFake({ msPerChar: 10 });
  try {
    const tts = await createTts('doubao', config(own));
    // Turn 1: three sentences, synthesized one after another as the reply is split.
    for (const text of ['第一句。', '第二句。', '第三句。']) await pcmOf(tts.synthesize({ text, voice: {}, signal: never() }));
    // Turn 2: streamed text, two sentences.
    const s = tts.open!({}, never());
    s.pushText('第四句。');
    s.pushText('第五句。');
    s.end();
    await pcmOf(s);
    assert.equal(own.handshakes, 1);
    assert.equal(own.connections.length, 1);
    assert.equal(own.sessions.length, 4);
    assert.deepEqual(own.sessions.map((x) => x.outcome), ['finished', 'finished', 'finished', 'finished']);
    assert.deepEqual(own.connections[0]!.events.filter((e) => e === 1), [1], 'StartConnection once');
    assert.equal(new Set(own.sessions.map((x) => x.id)).size, 4, 'session ids unique');
    console.log(`# volc tts: ${own.handshakes} handshake for 5 sentences in ${own.sessions.length} sessions over 2 turns`);

    // The server closes the idle connection: the next sentence quietly opens a new one.
    own.dropAll();
    await until(() => own.openSockets === 0);
    await pcmOf(tts.synthesize({ text: '重连。', voice: {}, signal: never() }));
    assert.equal(own.handshakes, 2);
    // An idle connection that died unnoticed (it breaks at StartSession): one retry on a new one.
    own.faults = { closeOnReuse: true };
    await pcmOf(tts.synthesize({ text: '重试。', voice: {}, signal: never() }));
    assert.equal(own.handshakes, 3);
    // A session cut mid-stream fails (connectivity, retryable); the next one reconnects.
    own.faults = { disconnectAfterChunks: 0 };
    await assert.rejects(pcmOf(tts.synthesize({ text: '断开', voice: {}, signal: never() })), { code: 'XZ_ERR_VOLC_CONNECT', category: 'connectivity', retryable: true });
    own.faults = {};
    await pcmOf(tts.synthesize({ text: '重连。', voice: {}, signal: never() }));
    assert.equal(own.handshakes, 4);
    // Two sessions at once need two connections (one session per connection at a time); both
    // stay pooled, so the next ones handshake no more.
    await Promise.all(['并发一。', '并发二。'].map((text) => pcmOf(tts.synthesize({ text, voice: {}, signal: never() }))));
    assert.equal(own.handshakes, 5);
    await Promise.all(['并发三。', '并发四。'].map((text) => pcmOf(tts.synthesize({ text, voice: {}, signal: never() }))));
    assert.equal(own.handshakes, 5);
    assert.deepEqual(own.connections.flatMap((c) => c.violations), []);

    // close() ends the connection politely: FinishConnection, then the socket closes.
    await tts.close?.();
    await until(() => own.openSockets === 0);
    assert.ok(own.connections.every((x) => x.closedAt !== null));
    assert.equal(own.connections.at(-1)!.events.at(-1), 2, 'FinishConnection last');
  } finally {
    await own.close();
  }
});

test('abort stops the iteration within 50 ms, cancels the session, and the connection is reused', T, async () => {
  const own = await startVolcTtsFake({ msPerChar: 200, chunkDelayMs: 5, chunkBytes: [501, 999] });
  try {
    const tts = await createTts('doubao', config(own));
    // Barge-in while the reply is still streaming in: CancelSession (valid before FinishSession).
    own.faults = { staleFramesAfterCancel: 3 };
    const ac = new AbortController();
    const s = tts.open!({}, ac.signal);
    s.pushText('这是一个很长的句子，需要很久才能说完。');
    const it = s[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    const pending = it.next();
    const t0 = performance.now();
    ac.abort();
    await assert.rejects(pending, { code: 'XZ_ERR_ABORTED' });
    const ms = performance.now() - t0;
    assert.ok(ms <= 50, `iteration ended after ${ms.toFixed(1)} ms`);
    const rec = own.sessions[0]!;
    await until(() => rec.outcome === 'canceled');
    const cancelMs = rec.cancelAt! - t0;
    console.log(`# volc tts abort (open): iteration ${ms.toFixed(2)} ms, CancelSession at the fake after ${cancelMs.toFixed(2)} ms`);
    assert.ok(cancelMs <= 50);
    await settle(); // SessionCanceled still has to reach the client before the connection is free
    // The next sentence rides the same connection; the cancelled session's late frames are dropped.
    const got = await pcmOf(tts.synthesize({ text: '好。', voice: {}, signal: never() }));
    assert.equal(got.samples.length, (24_000 * 200 * 2) / 1000);
    assert.equal(own.handshakes, 1);

    // After FinishSession (synthesize sends it at once) a cancel is not valid: the iteration still
    // stops at once, the rest of the session is drained unread and the connection reused.
    const ac1 = new AbortController();
    const it1 = tts.synthesize({ text: '整句合成到一半被打断。', voice: {}, signal: ac1.signal })[Symbol.asyncIterator]();
    await it1.next();
    const p1 = it1.next();
    const t1 = performance.now();
    ac1.abort();
    await assert.rejects(p1, { code: 'XZ_ERR_ABORTED' });
    const ms1 = performance.now() - t1;
    assert.ok(ms1 <= 50, `iteration ended after ${ms1.toFixed(1)} ms`);
    console.log(`# volc tts abort (synthesize): iteration ${ms1.toFixed(2)} ms`);
    await until(() => own.sessions[2]?.outcome === 'finished', 5000);
    assert.equal(own.sessions[2]!.cancelReceived, false);
    await settle();
    await pcmOf(tts.synthesize({ text: '好。', voice: {}, signal: never() }));
    assert.equal(own.handshakes, 1);

    // Aborted before StartSession: nothing reaches the service.
    const n = own.sessions.length;
    const ac2 = new AbortController();
    const s2 = tts.open!({}, ac2.signal);
    s2.pushText('再来一句。');
    ac2.abort();
    await assert.rejects(pcmOf(s2), { code: 'XZ_ERR_ABORTED' });
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(own.sessions.length, n);
    // Leaving the loop early cancels too.
    const s3 = tts.open!({}, never());
    s3.pushText('中途离开的一句话。');
    for await (const _ of s3) break;
    await until(() => own.sessions[n]?.outcome === 'canceled');
    assert.equal(own.handshakes, 1);

    // A cancel that is never confirmed drops the connection rather than reusing it blind.
    own.faults = { ignoreCancel: true };
    const tts2 = await createTts('doubao', config(own, { cancel_timeout_ms: 100 }));
    const ac3 = new AbortController();
    const s4 = tts2.open!({}, ac3.signal);
    s4.pushText('不会被确认的取消。');
    const it4 = s4[Symbol.asyncIterator]();
    await it4.next();
    ac3.abort();
    await assert.rejects(it4.next(), { code: 'XZ_ERR_ABORTED' });
    assert.equal(own.openSockets, 2);
    await until(() => own.openSockets === 1, 3000);
    await tts.close?.();
    await tts2.close?.();
  } finally {
    await own.close();
  }
});

test('failures surface as coded errors', T, async () => {
  const own = await startVolcTtsFake({ msPerChar: 20 });
  const check = async (tts: TtsProvider, code: string, category: string, retryable: boolean): Promise<void> => {
    await assert.rejects(pcmOf(tts.synthesize({ text: '测试一下。', voice: {}, signal: never() })), (e: { code: string; category: string; retryable: boolean; message: string }) => {
      assert.equal(e.code, code, e.message);
      assert.equal(e.category, category);
      assert.equal(e.retryable, retryable);
      return true;
    });
  };
  try {
    await check(await createTts('d', config(own, { access_token: 'nope' })), 'XZ_ERR_VOLC_AUTH', 'auth', false);
    const tts = await createTts('d', config(own, { stall_ms: 200 }));
    own.faults = { connectionFailed: { status_code: 45_000_000, message: 'unauthorized' } };
    await check(tts, 'XZ_ERR_VOLC_AUTH', 'auth', false);
    own.faults = { errorFrame: { on: 'StartSession', code: 45_000_292, message: 'quota exceeded for types: concurrency' } };
    await check(tts, 'XZ_ERR_VOLC_RATE_LIMIT', 'rate-limit', true);
    own.faults = { errorFrame: { on: 'TaskRequest', code: 55_000_031, message: 'server busy' } };
    await check(tts, 'XZ_ERR_VOLC_BUSY', 'upstream', true);
    own.faults = { sessionFailedAfterChunks: { chunks: 2, status_code: 55_000_001, message: 'server session error' } };
    await check(tts, 'XZ_ERR_VOLC_BUSY', 'upstream', true);
    own.faults = { stallAfterChunks: 2 };
    await check(tts, 'XZ_ERR_VOLC_STALL', 'timeout', true);
    own.faults = { disconnectAfterChunks: 1 };
    await check(tts, 'XZ_ERR_VOLC_CONNECT', 'connectivity', true);
    own.faults = { textFrameError: 'internal gateway error' };
    await check(tts, 'XZ_ERR_VOLC_BUSY', 'upstream', true);
    own.faults = { rejectUpgrade: { status: 429, body: 'too many connections' } };
    await check(tts, 'XZ_ERR_VOLC_RATE_LIMIT', 'rate-limit', true);
    own.faults = {};
    // A rate the fake was not set up for is refused by the session (the vendor checks its set).
    await check(await createTts('d', config(own, { sample_rate: 16_000 })), 'XZ_ERR_VOLC_BAD_REQUEST', 'invalid-request', false);
    // After all that, it still works, and nothing it sent broke the protocol.
    assert.ok((await pcmOf(tts.synthesize({ text: '好了。', voice: {}, signal: never() }))).samples.length > 0);
    assert.deepEqual(own.connections.flatMap((c) => c.violations), ['audio_params.sample_rate 16000, expected 24000']);
    await tts.close?.();
  } finally {
    await own.close();
  }
});

test('config is checked', T, async () => {
  await assert.rejects(createTts('x', { type: 'volc' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  await assert.rejects(createTts('x', { type: 'volc', api_key: 'k', sample_rate: 12_345 }), { code: 'XZ_ERR_CONFIG_INVALID' });
  await assert.rejects(createTts('x', { type: 'volc', api_key: 'k', additions: 'x' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  const t = await createTts('x', { type: 'volc', api_key: 'k', sample_rate: 16_000 });
  assert.equal(t.caps.sampleRate, 16_000);
});
