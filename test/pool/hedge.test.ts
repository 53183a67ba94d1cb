// Pins hedging: when the first item has not arrived after hedge_ms, the next provider starts
// too; the first to yield answers and the other is aborted at once — its signal fires within
// 50 ms of the winner's first item — and its permit goes back as no verdict. A fast primary is
// never hedged, and a hedge never queues for a busy provider. Real time (abort latency is the
// point), with generous margins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalPoolState, pooledLlm } from '../../providers/pool/index.js';
import { collect, FIX, liveClock, ScriptedLlm, texts } from '../fixtures/pool/scripted.js';

const T = { timeout: 30_000 };
const ask = () => ({ messages: [{ role: 'user' as const, content: 'hi' }], signal: new AbortController().signal });

async function settled(state: LocalPoolState): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if ((await state.snapshot()).providers.every((p) => p.inFlight === 0)) return;
    await liveClock.sleep(5);
  }
  assert.fail('permits still out');
}

function pair(aScript: ConstructorParameters<typeof ScriptedLlm>[1], bScript: ConstructorParameters<typeof ScriptedLlm>[1], hedgeMs = 50) {
  const state = new LocalPoolState({ clock: liveClock });
  const a = new ScriptedLlm('a', aScript);
  const b = new ScriptedLlm('b', bScript);
  return { state, a, b, llm: pooledLlm({ id: 'chain', chain: [a, b], state, clock: liveClock, hedgeMs }) };
}

test('a slow primary is hedged: the faster provider answers, the loser is aborted within 50 ms', T, async () => {
  const { state, a, b, llm } = pair([{ wait: 2_000 }, { item: 'slow a' }], [{ wait: 30 }, { item: 'fast ' }, { item: 'b' }]);
  assert.equal(texts(await collect(llm.stream(ask()))), 'fast b');
  const ca = a.calls[0]!;
  const cb = b.calls[0]!;
  assert.ok(cb.startedAt - ca.startedAt >= 45, `b started ${cb.startedAt - ca.startedAt} ms after a`);
  assert.ok(ca.abortedAt !== undefined, "the loser's signal fired");
  const lag = ca.abortedAt - cb.firstItemAt!;
  assert.ok(lag >= 0 && lag < 50, `loser aborted ${lag.toFixed(1)} ms after the winner's first item`);
  assert.equal(ca.how, 'aborted');
  await settled(state);
  const rows = Object.fromEntries((await state.snapshot()).providers.map((p) => [p.provider, p]));
  assert.equal(rows['llm.a']!.failures, 0, 'losing a hedge is no failure');
  assert.equal(rows['llm.b']!.successes, 1);
});

test('the primary can still win after the hedge started; then the hedge is the one aborted', T, async () => {
  const { state, a, b, llm } = pair([{ wait: 90 }, { item: 'a wins' }], [{ wait: 2_000 }, { item: 'b' }]);
  assert.equal(texts(await collect(llm.stream(ask()))), 'a wins');
  assert.equal(b.calls.length, 1, 'the hedge did start');
  const lag = b.calls[0]!.abortedAt! - a.calls[0]!.firstItemAt!;
  assert.ok(lag >= 0 && lag < 50, `hedge aborted ${lag.toFixed(1)} ms after a's first item`);
  await settled(state);
});

test('a fast primary is not hedged', T, async () => {
  const { b, llm } = pair([{ wait: 5 }, { item: 'quick' }, { wait: 200 }, { item: '!' }], [{ item: 'b' }]);
  assert.equal(texts(await collect(llm.stream(ask()))), 'quick!');
  assert.equal(b.calls.length, 0, 'only the first item is raced; a slow tail is not hedged');
});

test('a hedge does not queue for a busy provider', T, async () => {
  const state = new LocalPoolState({ clock: liveClock, providers: { 'llm.b': { maxConcurrency: 1 } } });
  const a = new ScriptedLlm('a', [{ wait: 150 }, { item: 'a after all' }]);
  const b = new ScriptedLlm('b', [{ item: 'b' }]);
  const held = await state.acquire('llm.b');
  const llm = pooledLlm({ id: 'chain', chain: [a, b], state, clock: liveClock, hedgeMs: 30 });
  assert.equal(texts(await collect(llm.stream(ask()))), 'a after all');
  assert.equal(b.calls.length, 0);
  const rowB = (await state.snapshot()).providers.find((p) => p.provider === 'llm.b')!;
  assert.equal(rowB.queued, 0);
  assert.equal(rowB.exhausted, 1);
  state.release(held, { kind: 'cancelled' });
});

test('if the primary fails while the hedge runs, the hedge answers', T, async () => {
  const { state, a, llm } = pair([{ wait: 80 }, { fail: FIX.XZ_ERR_FIX_UPSTREAM }], [{ wait: 100 }, { item: 'b' }]);
  assert.equal(texts(await collect(llm.stream(ask()))), 'b');
  assert.equal(a.calls[0]!.how, 'failed');
  await settled(state);
  assert.equal((await state.snapshot()).providers.find((p) => p.provider === 'llm.a')!.failures, 1);
});
