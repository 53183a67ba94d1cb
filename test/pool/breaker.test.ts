// Pins the per-provider circuit breaker as the pool applies it: it opens after N consecutive
// failures (or a failure rate in a window), skips the provider while open without calling it,
// lets exactly one trial through once the cool-down is over, closes on the trial's success and
// re-opens on its failure; a 429's retry-after overrides the cool-down; health probes run while
// the breaker is open and an explicit probe feeds the status route. SimClock drives all timing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../runtime/clock.js';
import { LocalPoolState, pooledLlm, providersStatus, type PolicyInput } from '../../providers/pool/index.js';
import { collect, FIX, ScriptedLlm, texts } from '../fixtures/pool/scripted.js';

const T = { timeout: 30_000 };
const ask = (signal = new AbortController().signal) => ({ messages: [{ role: 'user' as const, content: 'hi' }], signal });

function setup(policy: PolicyInput, scriptA: ConstructorParameters<typeof ScriptedLlm>[1], extra: { probes?: Record<string, (s: AbortSignal) => Promise<void>> } = {}) {
  const clock = new SimClock();
  const state = new LocalPoolState({ clock, providers: { 'llm.a': policy }, ...(extra.probes ? { probes: extra.probes } : {}) });
  const a = new ScriptedLlm('a', scriptA, clock);
  const llm = pooledLlm({ id: 'chain', chain: [a], state, clock });
  return { clock, state, a, llm };
}

const snap = async (state: LocalPoolState, key = 'llm.a') => (await state.snapshot()).providers.find((p) => p.provider === key)!;

test('opens after N consecutive failures, skips while open, one trial after the cool-down, closes on success', T, async () => {
  const { clock, state, a, llm } = setup({ breaker: { failures: 3, cooldownMs: 1_000 } }, [{ fail: FIX.XZ_ERR_FIX_UPSTREAM }]);
  for (let i = 0; i < 3; i++) await assert.rejects(collect(llm.stream(ask())), { code: FIX.XZ_ERR_FIX_UPSTREAM });
  assert.equal((await snap(state)).breaker, 'open');
  // Open: refused without reaching the provider.
  await assert.rejects(collect(llm.stream(ask())), (e: { code: string; details: { provider: string; retryInMs: number } }) => {
    assert.equal(e.code, 'XZ_ERR_POOL_CIRCUIT_OPEN');
    assert.equal(e.details.provider, 'llm.a');
    assert.equal(e.details.retryInMs, 1_000);
    return true;
  });
  assert.equal(a.calls.length, 3);
  await clock.advance(999);
  await assert.rejects(collect(llm.stream(ask())), { code: 'XZ_ERR_POOL_CIRCUIT_OPEN' });
  assert.equal(a.calls.length, 3);

  // Cool-down over: half-open lets one trial through; a second caller meanwhile is skipped.
  await clock.advance(1);
  a.setScript([{ wait: 100 }, { item: 'ok' }]);
  const trial = collect(llm.stream(ask()));
  await clock.advance(10);
  assert.equal((await snap(state)).breaker, 'half-open');
  await assert.rejects(collect(llm.stream(ask())), { code: 'XZ_ERR_POOL_CIRCUIT_OPEN' });
  assert.equal(a.calls.length, 4, 'only the trial reached the provider');
  await clock.advance(100);
  assert.equal(texts(await trial), 'ok');
  const s = await snap(state);
  assert.equal(s.breaker, 'closed');
  assert.equal(s.consecutiveFailures, 0);
  assert.equal(s.inFlight, 0);
  assert.equal(s.skipped, 3);
  // Closed again: traffic flows.
  const p = collect(llm.stream(ask()));
  await clock.advance(100);
  assert.equal(texts(await p), 'ok');
});

test('a failed trial re-opens the breaker for another cool-down', T, async () => {
  const { clock, state, a, llm } = setup({ breaker: { failures: 2, cooldownMs: 500 } }, [{ fail: FIX.XZ_ERR_FIX_CONNECT }]);
  for (let i = 0; i < 2; i++) await assert.rejects(collect(llm.stream(ask())), { code: FIX.XZ_ERR_FIX_CONNECT });
  await clock.advance(500);
  await assert.rejects(collect(llm.stream(ask())), { code: FIX.XZ_ERR_FIX_CONNECT }, 'the trial ran and failed');
  assert.equal(a.calls.length, 3);
  const s = await snap(state);
  assert.equal(s.breaker, 'open');
  assert.equal(s.retryInMs, 500);
  await assert.rejects(collect(llm.stream(ask())), { code: 'XZ_ERR_POOL_CIRCUIT_OPEN' });
  assert.equal(a.calls.length, 3);
});

test('failures that are the caller\'s (invalid request, abort) do not trip the breaker', T, async () => {
  const { state, llm } = setup({ breaker: { failures: 2, cooldownMs: 500 } }, [{ fail: FIX.XZ_ERR_FIX_BAD_REQUEST }]);
  for (let i = 0; i < 4; i++) await assert.rejects(collect(llm.stream(ask())), { code: FIX.XZ_ERR_FIX_BAD_REQUEST });
  const s = await snap(state);
  assert.equal(s.breaker, 'closed');
  assert.equal(s.failures, 0);
  assert.equal(s.lastError?.code, FIX.XZ_ERR_FIX_BAD_REQUEST, 'still visible in the status');
});

test('a failure rate over the window opens the breaker before N consecutive failures', T, async () => {
  const { state, llm } = setup(
    { breaker: { failures: 100, cooldownMs: 500, rate: { threshold: 0.5, windowMs: 10_000, minCalls: 4 } } },
    (n) => (n % 2 ? [{ fail: FIX.XZ_ERR_FIX_UPSTREAM }] : [{ item: 'x' }]),
  );
  for (let i = 0; i < 4; i++) await collect(llm.stream(ask())).catch(() => {});
  const s = await snap(state);
  assert.equal(s.breaker, 'open');
  assert.equal(s.consecutiveFailures, 1, 'never two in a row: the rate did it');
});

test('a 429 retry-after keeps the provider skipped until then, longer than the cool-down', T, async () => {
  const { clock, state, a, llm } = setup({ breaker: { failures: 5, cooldownMs: 1_000 } }, [{ fail: FIX.XZ_ERR_FIX_RATE, details: { retryAfterMs: 5_000 } }]);
  await assert.rejects(collect(llm.stream(ask())), { code: FIX.XZ_ERR_FIX_RATE });
  assert.equal((await snap(state)).breaker, 'open', 'one 429 with retry-after is enough');
  await clock.advance(1_000);
  await assert.rejects(collect(llm.stream(ask())), (e: { code: string; details: { retryInMs: number } }) => e.code === 'XZ_ERR_POOL_CIRCUIT_OPEN' && e.details.retryInMs === 4_000);
  await clock.advance(3_999);
  await assert.rejects(collect(llm.stream(ask())), { code: 'XZ_ERR_POOL_CIRCUIT_OPEN' });
  assert.equal(a.calls.length, 1);
  await clock.advance(1);
  a.setScript([{ item: 'back' }]);
  assert.equal(texts(await collect(llm.stream(ask()))), 'back');
  assert.equal((await snap(state)).breaker, 'closed');

  // A short retry-after is honoured too: the vendor knows better than our cool-down.
  a.setScript([{ fail: FIX.XZ_ERR_FIX_RATE, details: { retryAfterMs: 200 } }]);
  await assert.rejects(collect(llm.stream(ask())), { code: FIX.XZ_ERR_FIX_RATE });
  await clock.advance(200);
  a.setScript([{ item: 'soon' }]);
  assert.equal(texts(await collect(llm.stream(ask()))), 'soon');
});

test('an open provider is skipped straight to the next in the chain', T, async () => {
  const clock = new SimClock();
  const state = new LocalPoolState({ clock, defaults: { breaker: { failures: 1, cooldownMs: 10_000 } } });
  const a = new ScriptedLlm('a', [{ fail: FIX.XZ_ERR_FIX_UPSTREAM }], clock);
  const b = new ScriptedLlm('b', [{ item: 'from b' }], clock);
  const llm = pooledLlm({ id: 'chain', chain: [a, b], state, clock });
  assert.equal(texts(await collect(llm.stream(ask()))), 'from b', 'failed over');
  for (let i = 0; i < 3; i++) assert.equal(texts(await collect(llm.stream(ask()))), 'from b');
  assert.equal(a.calls.length, 1, 'a was skipped while open');
  assert.equal(b.calls.length, 4);
});

test('probes run while open: a good probe ends the cool-down early, explicit probe() feeds the status', T, async () => {
  let healthy = false;
  const probes = {
    'llm.a': async () => {
      if (!healthy) throw new Error('still down');
    },
  };
  const { clock, state, a, llm } = setup({ breaker: { failures: 1, cooldownMs: 60_000 }, probeIntervalMs: 500 }, [{ fail: FIX.XZ_ERR_FIX_CONNECT }], { probes });
  await assert.rejects(collect(llm.stream(ask())), { code: FIX.XZ_ERR_FIX_CONNECT });
  await clock.advance(500);
  let s = await snap(state);
  assert.equal(s.breaker, 'open');
  assert.equal(s.lastProbe?.ok, false);
  healthy = true;
  await clock.advance(500);
  s = await snap(state);
  assert.equal(s.lastProbe?.ok, true);
  assert.equal(s.breaker, 'half-open', 'long before the 60 s cool-down');
  a.setScript([{ item: 'fine' }]);
  assert.equal(texts(await collect(llm.stream(ask()))), 'fine');
  assert.equal((await snap(state)).breaker, 'closed');
  // Closed: the periodic probe stops.
  const before = (await snap(state)).lastProbe!.at;
  await clock.advance(5_000);
  assert.equal((await snap(state)).lastProbe!.at, before);

  healthy = false;
  const [r] = await state.probe('llm.a');
  assert.equal(r?.ok, false);
  assert.equal(r?.error?.code, 'XZ_ERR_INTERNAL');
  const status = await providersStatus(state);
  const row = status.providers.find((p) => p.provider === 'llm.a')!;
  assert.equal(row.breaker, 'closed');
  assert.equal(row.healthy, true);
  assert.equal(row.lastProbe?.ok, false);
  assert.equal(row.successes, 1);
  assert.equal(row.failures, 1);
  assert.equal(typeof status.generatedAt, 'string');
  assert.doesNotThrow(() => JSON.stringify(status));
});

test('latency p50 comes from time to first item of successful attempts', T, async () => {
  const { clock, state, llm } = setup({}, (n) => [{ wait: [10, 30, 20][n] ?? 5 }, { item: 'x' }, { wait: 1_000 }]);
  for (let i = 0; i < 3; i++) {
    const p = collect(llm.stream(ask()));
    await clock.advance(1_100);
    await p;
  }
  assert.equal((await snap(state)).latencyP50Ms, 20);
});
