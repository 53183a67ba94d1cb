// Pins per-provider concurrency quotas: at most max_concurrency attempts in flight, later
// requests wait in a FIFO queue of bounded length for a bounded time, and a request that cannot
// be served gets XZ_ERR_POOL_EXHAUSTED (category overloaded) with the provider, queue length and
// time waited in its details — or moves on to the next provider in the chain, which has room.
// A caller that gives up while queued leaves the queue at once. SimClock drives all timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../runtime/clock.js';
import { errorSpec } from '../../runtime/errors.js';
import { LocalPoolState, pooledLlm, type PolicyInput } from '../../providers/pool/index.js';
import { collect, ScriptedLlm, texts } from '../fixtures/pool/scripted.js';

const T = { timeout: 30_000 };
const ask = (signal = new AbortController().signal) => ({ messages: [{ role: 'user' as const, content: 'hi' }], signal });

function setup(policy: PolicyInput, ms = 100) {
  const clock = new SimClock();
  const state = new LocalPoolState({ clock, providers: { 'llm.a': policy } });
  const a = new ScriptedLlm('a', (n) => [{ wait: ms }, { item: `c${n}` }], clock);
  const llm = pooledLlm({ id: 'chain', chain: [a], state, clock });
  return { clock, state, a, llm };
}

const row = async (state: LocalPoolState, key = 'llm.a') => (await state.snapshot()).providers.find((p) => p.provider === key)!;

test('requests beyond the quota wait their turn, first come first served', T, async () => {
  const { clock, state, a, llm } = setup({ maxConcurrency: 1, maxQueue: 3, queueTimeoutMs: 10_000 });
  const runs = [0, 1, 2, 3].map(() => collect(llm.stream(ask())));
  await clock.advance(1);
  let s = await row(state);
  assert.equal(s.inFlight, 1);
  assert.equal(s.queued, 3);
  assert.equal(s.maxConcurrency, 1);
  await clock.advance(50);
  assert.equal(a.calls.length, 1, 'one attempt at a time');
  await clock.advance(400);
  const got = await Promise.all(runs);
  assert.deepEqual(got.map(texts), ['c0', 'c1', 'c2', 'c3'], 'served in arrival order');
  // each began only when the one before it had finished
  for (let i = 1; i < 4; i++) assert.ok(a.calls[i]!.startedAt >= a.calls[i - 1]!.endedAt!);
  s = await row(state);
  assert.equal(s.inFlight, 0);
  assert.equal(s.queued, 0);
});

test('a full queue refuses at once with XZ_ERR_POOL_EXHAUSTED and its details', T, async () => {
  const { clock, state, llm } = setup({ maxConcurrency: 1, maxQueue: 1, queueTimeoutMs: 10_000 });
  const first = collect(llm.stream(ask()));
  const second = collect(llm.stream(ask()));
  await clock.advance(1);
  await assert.rejects(collect(llm.stream(ask())), (e: { code: string; category: string; retryable: boolean; details: Record<string, unknown> }) => {
    assert.equal(e.code, 'XZ_ERR_POOL_EXHAUSTED');
    assert.equal(e.category, 'overloaded');
    assert.equal(e.retryable, true);
    assert.deepEqual(
      { provider: e.details.provider, reason: e.details.reason, queued: e.details.queued, waitedMs: e.details.waitedMs, inFlight: e.details.inFlight },
      { provider: 'llm.a', reason: 'queue-full', queued: 1, waitedMs: 0, inFlight: 1 },
    );
    return true;
  });
  await clock.advance(300);
  assert.deepEqual((await Promise.all([first, second])).map(texts), ['c0', 'c1']);
  assert.equal((await row(state)).exhausted, 1);
  assert.equal(errorSpec('XZ_ERR_POOL_EXHAUSTED')?.category, 'overloaded');
});

test('a request queued longer than queue_timeout_ms is refused with the time it waited', T, async () => {
  const { clock, state, llm } = setup({ maxConcurrency: 1, maxQueue: 4, queueTimeoutMs: 150 }, 500);
  const first = collect(llm.stream(ask()));
  const late = collect(llm.stream(ask()));
  const rejected = assert.rejects(late, (e: { code: string; details: Record<string, unknown> }) => {
    assert.equal(e.code, 'XZ_ERR_POOL_EXHAUSTED');
    assert.equal(e.details.reason, 'queue-timeout');
    assert.equal(e.details.waitedMs, 150);
    assert.equal(e.details.queued, 0, 'it left the queue');
    return true;
  });
  await clock.advance(149);
  assert.equal((await row(state)).queued, 1);
  await clock.advance(1);
  await rejected;
  await clock.advance(400);
  assert.equal(texts(await first), 'c0');
});

test('an exhausted provider fails over to the next one in the chain', T, async () => {
  const clock = new SimClock();
  const state = new LocalPoolState({ clock, providers: { 'llm.a': { maxConcurrency: 1, maxQueue: 0 } } });
  const a = new ScriptedLlm('a', [{ wait: 100 }, { item: 'a' }], clock);
  const b = new ScriptedLlm('b', [{ wait: 10 }, { item: 'b' }], clock);
  const llm = pooledLlm({ id: 'chain', chain: [a, b], state, clock });
  const first = collect(llm.stream(ask()));
  const second = collect(llm.stream(ask()));
  await clock.advance(200);
  assert.deepEqual([texts(await first), texts(await second)], ['a', 'b']);
  assert.equal(a.calls.length, 1);
  assert.equal(b.calls.length, 1);
});

test('a caller that gives up while queued leaves the queue; the next one moves up', T, async () => {
  const { clock, state, a, llm } = setup({ maxConcurrency: 1, maxQueue: 2, queueTimeoutMs: 10_000 });
  const first = collect(llm.stream(ask()));
  const ac = new AbortController();
  const quitter = collect(llm.stream(ask(ac.signal)));
  const third = collect(llm.stream(ask()));
  await clock.advance(10);
  assert.equal((await row(state)).queued, 2);
  ac.abort();
  await assert.rejects(quitter, { code: 'XZ_ERR_ABORTED' });
  assert.equal((await row(state)).queued, 1);
  await clock.advance(300);
  assert.deepEqual([texts(await first), texts(await third)], ['c0', 'c1']);
  assert.equal(a.calls.length, 2, 'the quitter never reached the provider');
  assert.equal((await row(state)).inFlight, 0);
});

test('acquire without waiting (a hedge) is refused when busy instead of queueing', T, async () => {
  const clock = new SimClock();
  const state = new LocalPoolState({ clock, providers: { p: { maxConcurrency: 1 } } });
  const held = await state.acquire('p');
  await assert.rejects(state.acquire('p', { wait: false }), (e: { code: string; details: { reason: string } }) => e.code === 'XZ_ERR_POOL_EXHAUSTED' && e.details.reason === 'busy');
  const waiting = state.acquire('p');
  state.release(held, { kind: 'ok', durationMs: 5 });
  state.release(held, { kind: 'ok', durationMs: 5 }); // twice is harmless
  const next = await waiting;
  assert.equal((await state.snapshot()).providers[0]!.inFlight, 1);
  state.release(next, { kind: 'cancelled' });
  assert.equal((await state.snapshot()).providers[0]!.inFlight, 0);
});

test('a lease never given back is reclaimed after lease_ms', T, async () => {
  const clock = new SimClock();
  const events: string[] = [];
  const state = new LocalPoolState({ clock, leaseMs: 1_000, providers: { p: { maxConcurrency: 1 } }, onEvent: (e) => events.push(e.kind) });
  await state.acquire('p', { holder: 'lost' });
  const waiting = state.acquire('p');
  await clock.advance(1_000);
  const p = await waiting;
  assert.equal(p.waitedMs, 1_000);
  assert.deepEqual(events, ['reclaimed']);
  assert.equal((await state.snapshot()).providers[0]!.reclaimed, 1);
});
