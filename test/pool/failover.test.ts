// Pins failover along the configured chain: providers are tried in order; only failures whose
// category or retryable flag says another provider could help move on, and only before the first
// item reached the caller — after that a failure ends the stream with its error and the next
// provider is never asked (answers are never spliced). Also: a chain that fails everywhere
// reports every attempt, the caller's abort is prompt in both phases, and every permit is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalPoolState, pooledLlm, pooledAsr, pooledTts } from '../../providers/pool/index.js';
import { collect, FIX, liveClock, ScriptedAsr, ScriptedLlm, ScriptedTts, ScriptedTtsSessions, texts } from '../fixtures/pool/scripted.js';

const T = { timeout: 30_000 };
const ask = (signal = new AbortController().signal) => ({ messages: [{ role: 'user' as const, content: 'hi' }], signal });

function chainOf(...scripts: ConstructorParameters<typeof ScriptedLlm>[1][]) {
  const state = new LocalPoolState({ clock: liveClock });
  const ps = scripts.map((s, i) => new ScriptedLlm(String.fromCharCode(97 + i), s));
  return { state, ps, llm: pooledLlm({ id: 'chain', chain: ps, state, clock: liveClock }) };
}

async function allReleased(state: LocalPoolState): Promise<void> {
  // Aborted attempts hand their permits back once they wound down.
  for (let i = 0; i < 50; i++) {
    if ((await state.snapshot()).providers.every((p) => p.inFlight === 0)) return;
    await liveClock.sleep(5);
  }
  assert.fail(`permits still out: ${JSON.stringify((await state.snapshot()).providers.map((p) => [p.provider, p.inFlight]))}`);
}

test('fails over in chain order on connectivity, timeout-like, upstream and rate-limit failures', T, async () => {
  const { state, ps, llm } = chainOf([{ fail: FIX.XZ_ERR_FIX_CONNECT }], [{ fail: FIX.XZ_ERR_FIX_UPSTREAM }], [{ fail: FIX.XZ_ERR_FIX_RATE }], [{ item: 'd says hi' }]);
  assert.equal(texts(await collect(llm.stream(ask()))), 'd says hi');
  assert.deepEqual(ps.map((p) => p.calls.length), [1, 1, 1, 1]);
  // each started only after the one before it had failed
  for (let i = 1; i < ps.length; i++) assert.ok(ps[i]!.calls[0]!.startedAt >= ps[i - 1]!.calls[0]!.endedAt!);
  await allReleased(state);
  const snap = (await state.snapshot()).providers;
  assert.deepEqual(snap.map((p) => [p.provider, p.failures, p.successes]), [['llm.a', 1, 0], ['llm.b', 1, 0], ['llm.c', 1, 0], ['llm.d', 0, 1]]);
});

test('no failover on a failure retrying cannot fix (invalid request, auth)', T, async () => {
  for (const code of [FIX.XZ_ERR_FIX_BAD_REQUEST, FIX.XZ_ERR_FIX_AUTH]) {
    const { ps, llm } = chainOf([{ fail: code }], [{ item: 'never' }]);
    await assert.rejects(collect(llm.stream(ask())), { code });
    assert.equal(ps[1]!.calls.length, 0, `${code}: the next provider was not asked`);
  }
});

test('no failover after the first item: the stream ends with the error, nothing spliced', T, async () => {
  const { state, ps, llm } = chainOf([{ item: 'Hello, ' }, { wait: 5 }, { fail: FIX.XZ_ERR_FIX_CONNECT }], [{ item: 'other answer' }]);
  const got: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const d of llm.stream(ask())) if (d.kind === 'text') got.push(d.text);
    })(),
    { code: FIX.XZ_ERR_FIX_CONNECT },
  );
  assert.deepEqual(got, ['Hello, ']);
  assert.equal(ps[1]!.calls.length, 0);
  await allReleased(state);
  const a = (await state.snapshot()).providers.find((p) => p.provider === 'llm.a')!;
  assert.equal(a.failures, 1, 'a mid-stream failure still counts against the provider');
});

test('a chain that fails everywhere reports the last failure with every attempt', T, async () => {
  const { llm } = chainOf([{ fail: FIX.XZ_ERR_FIX_CONNECT }], [{ fail: FIX.XZ_ERR_FIX_UPSTREAM }]);
  await assert.rejects(collect(llm.stream(ask())), (e: { code: string; details: { attempts: { provider: string; code: string }[] } }) => {
    assert.equal(e.code, FIX.XZ_ERR_FIX_UPSTREAM);
    assert.deepEqual(e.details.attempts.map((x) => [x.provider, x.code]), [['llm.a', FIX.XZ_ERR_FIX_CONNECT], ['llm.b', FIX.XZ_ERR_FIX_UPSTREAM]]);
    return true;
  });
});

test('an empty answer is an answer: no failover when a provider ends without items', T, async () => {
  const { ps, llm } = chainOf([], [{ item: 'b' }]);
  assert.deepEqual(await collect(llm.stream(ask())), []);
  assert.equal(ps[1]!.calls.length, 0);
});

test('the caller\'s abort is prompt before and after the first item, and frees the permits', T, async () => {
  const { state, ps, llm } = chainOf([{ stall: true }], [{ item: 'b' }]);
  const ac = new AbortController();
  const started = performance.now();
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(collect(llm.stream(ask(ac.signal))), { code: 'XZ_ERR_ABORTED' });
  assert.ok(performance.now() - started < 200);
  assert.equal(ps[1]!.calls.length, 0, 'an abort is not a failure to fail over from');
  assert.ok(ps[0]!.calls[0]!.abortedAt !== undefined, 'the provider saw its signal fire');

  ps[0]!.setScript([{ item: 'one' }, { stall: true }]);
  const ac2 = new AbortController();
  const got: string[] = [];
  const run = (async () => {
    for await (const d of llm.stream(ask(ac2.signal))) {
      if (d.kind === 'text') got.push(d.text);
      ac2.abort();
    }
  })();
  await assert.rejects(run, { code: 'XZ_ERR_ABORTED' });
  assert.deepEqual(got, ['one']);
  await allReleased(state);
  const a = (await state.snapshot()).providers.find((p) => p.provider === 'llm.a')!;
  assert.equal(a.failures, 0, 'aborts are no verdict on the provider');
});

test('a consumer that stops reading early releases the permit as a success', T, async () => {
  const { state, ps, llm } = chainOf([{ item: 'a' }, { item: 'b' }, { stall: true }]);
  for await (const d of llm.stream(ask())) if (d.kind === 'text') break;
  await allReleased(state);
  assert.equal((await state.snapshot()).providers[0]!.successes, 1);
  assert.ok(ps[0]!.calls[0]!.abortedAt !== undefined, 'the provider was told to stop');
});

test('ASR: audio written before and during the failed attempt is replayed to the next recogniser', T, async () => {
  const state = new LocalPoolState({ clock: liveClock });
  const a = new ScriptedAsr('a', [{ wait: 10 }, { fail: FIX.XZ_ERR_FIX_CONNECT }]);
  const b = new ScriptedAsr('b', [{ untilEnd: true }, { item: 'b heard' }]);
  const asr = pooledAsr({ id: 'asr', chain: [a, b], state, clock: liveClock });
  const s = asr.open({ signal: new AbortController().signal });
  s.write(new Int16Array(320));
  const events = collect(s);
  s.write(new Int16Array(320));
  await liveClock.sleep(30);
  s.write(new Int16Array(160));
  s.end();
  const got = await events;
  assert.deepEqual(got, [{ kind: 'final', text: 'b heard:800' }], 'b got every sample, in one piece');
  assert.equal(a.calls.length, 1);
});

test('TTS: synthesize fails over like any stream', T, async () => {
  const state = new LocalPoolState({ clock: liveClock });
  const a = new ScriptedTts('a', [{ fail: FIX.XZ_ERR_FIX_UPSTREAM }]);
  const b = new ScriptedTts('b', [{ item: 'xxxx' }, { item: 'yy' }]);
  const tts = pooledTts({ id: 'tts', chain: [a, b], state, clock: liveClock });
  const chunks = await collect(tts.synthesize({ text: 'hello', voice: {}, signal: new AbortController().signal }));
  assert.deepEqual(chunks.map((c) => c.pcm.length), [4, 2]);
  assert.equal(tts.open, undefined, 'no text sessions unless every member has them');
});

test('TTS sessions: text pushed before a failover is replayed to the next voice', T, async () => {
  const state = new LocalPoolState({ clock: liveClock });
  const a = new ScriptedTtsSessions('a', [{ wait: 10 }, { fail: FIX.XZ_ERR_FIX_CONNECT }]);
  const b = new ScriptedTtsSessions('b', [{ untilEnd: true }, { item: 'all' }]);
  const tts = pooledTts({ id: 'tts', chain: [a, b], state, clock: liveClock });
  assert.equal(tts.caps.streamingText, true);
  const s = tts.open!({}, new AbortController().signal);
  s.pushText('Hello, ');
  const chunks = collect(s);
  await liveClock.sleep(30);
  s.pushText('world.');
  s.end();
  assert.deepEqual((await chunks).map((c) => c.pcm.length), [13], 'b heard all 13 characters');
  assert.equal(a.calls[0]!.how, 'failed');
});
