// Volcengine streaming ASR against a fake that speaks the binary protocol over a real socket
// (test/doubles/volc-asr.ts): partials then the final, what the request and packets carry,
// failures as coded errors, and a prompt abort that closes the socket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AsrEvent, AsrProvider } from '../../providers/contracts/asr.js';
import { createAsr, type ProviderConfig } from '../../providers/registry.js';
import { startVolcAsrFake, type VolcAsrFake } from '../doubles/volc-asr.js';

const T = { timeout: 30_000 };
let fake: VolcAsrFake;

before(async () => {
  fake = await startVolcAsrFake({ text: ['你好，', '我是小智。'] });
});
after(async () => {
  await fake.close();
});

function config(extra: Record<string, unknown> = {}): ProviderConfig {
  return { type: 'volc', url: fake.url, appid: fake.appId, access_token: fake.accessKey, ...extra };
}

/** ms of a 300 Hz tone at 16 kHz, distinct sample values so reordering would show. */
function speech(ms: number): Int16Array {
  const n = (16_000 * ms) / 1000;
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(Math.sin((2 * Math.PI * 300 * i) / 16_000) * 6000) + (i % 7);
  return pcm;
}

/** Writes `pcm` in 60 ms frames (as the uplink decodes them), yielding between frames. */
async function feed(s: { write(p: Int16Array): void }, pcm: Int16Array, frameMs = 60): Promise<void> {
  const step = 16 * frameMs;
  for (let at = 0; at < pcm.length; at += step) {
    s.write(pcm.slice(at, at + step));
    await new Promise((r) => setImmediate(r));
  }
}

async function collect(it: AsyncIterable<AsrEvent>): Promise<AsrEvent[]> {
  const out: AsrEvent[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

async function provider(extra?: Record<string, unknown>): Promise<AsrProvider> {
  return createAsr('doubao', config(extra));
}

test('partials grow, then one final with the whole utterance; the fake received exactly our audio', T, async () => {
  const asr = await provider();
  assert.equal(asr.caps.streaming, true);
  assert.equal(asr.caps.sampleRate, 16_000);
  const before = fake.sessions.length;
  const s = asr.open({ signal: new AbortController().signal });
  const events = collect(s);
  const pcm = speech(1300);
  await feed(s, pcm);
  s.end();
  const got = await events;
  const partials = got.filter((e) => e.kind === 'partial').map((e) => e.text);
  const finals = got.filter((e) => e.kind === 'final');
  assert.ok(partials.length >= 3, `partials: ${JSON.stringify(partials)}`);
  for (let i = 1; i < partials.length; i++) assert.ok(partials[i]!.startsWith(partials[i - 1]!), 'each partial extends the previous');
  assert.deepEqual(finals, [{ kind: 'final', text: '你好，我是小智。' }]);
  assert.equal(got.at(-1)?.kind, 'final');

  const rec = fake.sessions[before]!;
  assert.deepEqual(rec.violations, []);
  assert.deepEqual(rec.audio, Buffer.from(pcm.buffer), 'the audio the fake gunzipped equals the PCM written');
  assert.equal(rec.headers['x-api-app-key'], fake.appId);
  assert.equal(rec.headers['x-api-access-key'], fake.accessKey);
  assert.equal(rec.headers['x-api-resource-id'], 'volc.bigasr.sauc.duration');
  assert.match(String(rec.headers['x-api-connect-id']), /^[0-9a-f-]{36}$/);
  // The full request: type 1, JSON, gzip, no sequence; the audio format the service needs.
  assert.deepEqual(rec.frames[0], { type: 1, flags: 0, compression: 1, size: rec.frames[0]!.size });
  const req = rec.request as { audio: Record<string, unknown>; request: Record<string, unknown>; user: Record<string, unknown> };
  assert.deepEqual(req.audio, { format: 'pcm', codec: 'raw', rate: 16_000, bits: 16, channel: 1 });
  assert.equal(req.request.model_name, 'bigmodel');
  assert.equal(req.request.enable_punc, true);
  assert.equal(req.request.enable_itn, true);
  assert.equal(req.request.show_utterances, true);
  assert.equal(req.user.uid, 'xiaozhi-server');
  // Audio packets of 200 ms (6400 bytes, gzip), then the rest flagged last (bit1), nothing after.
  const audio = rec.frames.slice(1);
  assert.equal(audio.length, 7); // 6 × 200 ms + 100 ms
  for (const f of audio.slice(0, -1)) assert.deepEqual([f.type, f.flags, f.compression], [2, 0, 1]);
  assert.deepEqual([audio.at(-1)!.type, audio.at(-1)!.flags], [2, 0b0010]);
  assert.ok(rec.lastReceived);
  await fake.closed(before);
  await asr.close?.();
});

test('explicit numbering, single result type, plain payloads and the async endpoint', T, async () => {
  const own = await startVolcAsrFake({ text: ['今天天气', '怎么样？'], async: true, charsPerPacket: 1, finalSequence: 'positive' });
  try {
    const asr = await createAsr('doubao', { type: 'volc', url: own.url, appid: own.appId, access_token: own.accessKey, numbering: 'explicit', result_type: 'single', compression: 'none', packet_ms: 100 });
    const s = asr.open({ signal: new AbortController().signal, hints: ['小智', ''] });
    const events = collect(s);
    const pcm = speech(1000);
    await feed(s, pcm);
    s.end();
    const got = await events;
    const rec = own.sessions[0]!;
    assert.deepEqual(rec.violations, [], 'sequences 1, 2, …, −n were accepted');
    assert.deepEqual(rec.frames.map((f) => f.sequence), [1, ...Array.from({ length: 10 }, (_, i) => i + 2), -12]);
    assert.ok(rec.frames.every((f) => f.compression === 0));
    assert.deepEqual(rec.audio, Buffer.from(pcm.buffer));
    assert.equal((rec.request as { request: { result_type: string } }).request.result_type, 'single');
    const corpus = (rec.request as { request: { corpus: { context: string } } }).request.corpus;
    assert.deepEqual(JSON.parse(corpus.context), { hotwords: [{ word: '小智' }] });
    // In single mode the service does not repeat the first (definite) sentence: we keep it.
    assert.ok(rec.responses.some((r) => !(r.result as { text: string }).text.startsWith('今天')), 'the fake dropped definite sentences');
    assert.deepEqual(got.at(-1), { kind: 'final', text: '今天天气怎么样？' });
    assert.ok(got.filter((e) => e.kind === 'partial').some((e) => e.text === '今天天气怎'));
  } finally {
    await own.close();
  }
});

test('failures surface as coded errors: auth, throttling, busy, idle timeout, stall, disconnect, close without final, text frame', T, async () => {
  const run = async (extra: Record<string, unknown>, ms = 800): Promise<unknown> => {
    const asr = await provider(extra);
    const s = asr.open({ signal: new AbortController().signal });
    const events = collect(s);
    events.catch(() => {}); // it may fail while we are still feeding; read below
    await feed(s, speech(ms));
    s.end();
    return events.then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
  };
  const check = (e: unknown, code: string, category: string, retryable: boolean): void => {
    const err = e as { code: string; category: string; retryable: boolean; message: string };
    assert.equal(err.code, code, err.message);
    assert.equal(err.category, category);
    assert.equal(err.retryable, retryable);
  };
  try {
    check(await run({ access_token: 'wrong' }), 'XZ_ERR_VOLC_AUTH', 'auth', false);
    check(await run({ resource_id: 'volc.seedasr.sauc.duration' }), 'XZ_ERR_VOLC_AUTH', 'auth', false);
    fake.faults = { rejectUpgrade: { status: 429, body: 'too many requests' } };
    check(await run({}), 'XZ_ERR_VOLC_RATE_LIMIT', 'rate-limit', true);
    fake.faults = { errorAfterPackets: { packets: 2, code: 45_000_292, message: 'quota exceeded for types: concurrency' } };
    check(await run({}), 'XZ_ERR_VOLC_RATE_LIMIT', 'rate-limit', true);
    fake.faults = { errorAfterPackets: { packets: 1, code: 55_000_031, message: 'server busy' } };
    check(await run({}), 'XZ_ERR_VOLC_BUSY', 'upstream', true);
    fake.faults = { stallAfterPackets: 2 };
    const t0 = performance.now();
    check(await run({ final_timeout_ms: 300 }), 'XZ_ERR_VOLC_STALL', 'timeout', true);
    assert.ok(performance.now() - t0 < 3000);
    fake.faults = { disconnectAfterPackets: 2 };
    check(await run({}), 'XZ_ERR_VOLC_CONNECT', 'connectivity', true);
    fake.faults = { closeBeforeFinal: true };
    check(await run({}), 'XZ_ERR_VOLC_CONNECT', 'connectivity', true);
    fake.faults = { textErrorAfterPackets: { packets: 1, message: 'internal gateway error' } };
    check(await run({}), 'XZ_ERR_VOLC_BUSY', 'upstream', true);
    fake.faults = { idleTimeoutMs: 100 };
    {
      const asr = await provider();
      const s = asr.open({ signal: new AbortController().signal });
      s.write(speech(200));
      // No more audio and no end(): the vendor gives up waiting for the next packet.
      await assert.rejects(collect(s), { code: 'XZ_ERR_VOLC_TIMEOUT', category: 'timeout' });
    }
    fake.faults = {};
    const refused = await startVolcAsrFake();
    const url = refused.url;
    await refused.close();
    check(await run({ url, connect_timeout_ms: 1000 }), 'XZ_ERR_VOLC_CONNECT', 'connectivity', true);
  } finally {
    fake.faults = {};
  }
});

test('abort ends the iteration within 50 ms and the fake sees the socket close', T, async () => {
  const asr = await provider();
  const ac = new AbortController();
  const before = fake.sessions.length;
  const s = asr.open({ signal: ac.signal });
  const it = s[Symbol.asyncIterator]();
  const pcm = speech(2000);
  s.write(pcm.subarray(0, 3200)); // one 200 ms packet: one partial
  const first = await it.next();
  assert.equal(first.done, false);
  assert.equal((first.value as AsrEvent).kind, 'partial');
  const pending = it.next();
  const t0 = performance.now();
  ac.abort();
  await assert.rejects(pending, { code: 'XZ_ERR_ABORTED' });
  const iterMs = performance.now() - t0;
  const rec = await fake.closed(before, 2000);
  const closeMs = rec.closedAt! - t0;
  assert.ok(iterMs <= 50, `iteration ended after ${iterMs.toFixed(1)} ms`);
  assert.ok(closeMs <= 200, `fake saw the close after ${closeMs.toFixed(1)} ms`);
  assert.equal(rec.closeCode, 1000);
  assert.equal(rec.lastReceived, false);
  s.write(pcm.subarray(3200)); // writing after abort is harmless
  console.log(`# volc asr abort: iteration ${iterMs.toFixed(2)} ms, fake saw close ${closeMs.toFixed(2)} ms`);

  // Aborted before anything: no connection at all; an unsupported language fails before connecting.
  const attempts = fake.attempts;
  const dead = new AbortController();
  dead.abort();
  await assert.rejects(collect(asr.open({ signal: dead.signal })), { code: 'XZ_ERR_ABORTED' });
  await assert.rejects(collect(asr.open({ signal: new AbortController().signal, language: 'ja-JP' })), { code: 'XZ_ERR_ASR_LANGUAGE' });
  assert.equal(fake.attempts, attempts);

  // Leaving the loop early closes the socket too.
  const b2 = fake.sessions.length;
  const s2 = asr.open({ signal: new AbortController().signal });
  s2.write(pcm.subarray(0, 3200));
  for await (const ev of s2) if (ev.kind === 'partial') break;
  await fake.closed(b2, 2000);
});

test('config is checked', T, async () => {
  await assert.rejects(createAsr('x', { type: 'volc', appid: '1' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  await assert.rejects(createAsr('x', { type: 'volc', api_key: 'k', url: 'http://x' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  await assert.rejects(createAsr('x', { type: 'volc', api_key: 'k', result_type: 'partial' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  const a = await createAsr('x', { type: 'volc', appid: 123456789, access_token: 't' });
  assert.equal(a.id, 'x');
});
