// Pins the one-owner rule for pool state: quotas are held by the main thread's `pools` actor, so
// two worker threads streaming through the same pooled provider at once never exceed its quota
// together (measured by a counter shared by the threads, not by the pool's own books); and a
// worker that dies mid-attempt gives its permit back, so a request queued on another thread
// goes through instead of waiting for the queue timeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, startSystem } from '../helpers/actors.js';
import { startPools } from '../../actors/pools/pools.js';
import type { PoolSnapshot } from '../../providers/pool/index.js';
import { liveClock } from '../fixtures/pool/scripted.js';

const T = { timeout: 30_000 };
const workerModule = new URL('../fixtures/pool/worker.ts', import.meta.url);

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await pred()) return;
    await liveClock.sleep(5);
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('two worker threads share one process-wide quota held on the main thread', T, async (t) => {
  const sab = new SharedArrayBuffer(8);
  const counter = new Int32Array(sab);
  const sys = await startSystem(t, [{ name: 'w', size: 2, modules: [workerModule], data: { counter: sab, delayMs: 15 } }]);
  const state = await startPools(sys, { providers: { 'llm.shared': { maxConcurrency: 2, maxQueue: 100, queueTimeoutMs: 20_000 } } });
  const addrs = Array.from({ length: 8 }, (_, i) => `u${i}`);
  for (const [i, a] of addrs.entries()) await sys.spawn(a, 'poolfix', undefined, { pool: 'w', slot: i % 2 });
  let peakQueued = 0;
  const watch = setInterval(() => (peakQueued = Math.max(peakQueued, state.snapshotNow().providers[0]?.queued ?? 0)), 2);
  t.after(() => clearInterval(watch));
  const results = await Promise.all(
    addrs.map(async (a) => {
      const out: { text: string; threadId: number }[] = [];
      for (let i = 0; i < 4; i++) out.push(await sys.request<{ text: string; threadId: number }>(a, { t: 'poolfix.stream' }));
      return out;
    }),
  );
  const flat = results.flat();
  assert.equal(flat.length, 32);
  assert.ok(flat.every((r) => r.text === 'ab'));
  assert.equal(new Set(flat.map((r) => r.threadId)).size, 2, 'both threads streamed');
  assert.equal(Atomics.load(counter, 1), 2, 'in flight across both threads reached the quota and never passed it');
  assert.ok(peakQueued > 0, 'requests queued on the main thread');
  const row = state.snapshotNow().providers.find((p) => p.provider === 'llm.shared')!;
  assert.equal(row.inFlight, 0);
  assert.equal(row.successes, 32);
  // The worker-side client reads the same state.
  const viaWorker = await sys.request<PoolSnapshot>('u0', { t: 'poolfix.snapshot' });
  assert.equal(viaWorker.providers.find((p) => p.provider === 'llm.shared')!.successes, 32);
});

test('a worker crash mid-attempt frees its permit for a request queued on another thread', T, async (t) => {
  const sab = new SharedArrayBuffer(8);
  const sys = await startSystem(t, [{ name: 'w', size: 2, modules: [workerModule], data: { counter: sab } }]);
  const state = await startPools(sys, { providers: { 'llm.shared': { maxConcurrency: 1, maxQueue: 4, queueTimeoutMs: 20_000 } } });
  await sys.spawn('holder', 'poolfix', undefined, { pool: 'w', slot: 0 });
  await sys.spawn('bomb', 'poolfix', undefined, { pool: 'w', slot: 0 });
  await sys.spawn('waiter', 'poolfix', undefined, { pool: 'w', slot: 1 });
  const row = () => state.snapshotNow().providers.find((p) => p.provider === 'llm.shared');

  const held = sys.request('holder', { t: 'poolfix.hold' }).catch((e: { code: string }) => e.code);
  await until('the holder to take the only permit', () => row()?.inFlight === 1);
  const waited = sys.request<{ text: string }>('waiter', { t: 'poolfix.stream' });
  await until('the waiter to queue', () => row()?.queued === 1);

  // Awaited before teardown: a shutdown while the replacement worker still boots leaves that
  // worker running (runtime/pool.ts stop() skips a slot whose new handle is not alive yet).
  const restarted = once(sys, 'restarted');
  const started = performance.now();
  await assert.rejects(sys.request('bomb', { t: 'poolfix.crash' }), { code: 'XZ_ERR_WORKER_CRASHED' });
  assert.equal(await held, 'XZ_ERR_WORKER_CRASHED');
  assert.equal((await waited).text, 'ab', 'the queued request went through');
  assert.ok(performance.now() - started < 5_000, 'long before the queue timeout');
  const r = row()!;
  assert.equal(r.reclaimed, 1);
  assert.equal(r.inFlight, 0);
  assert.equal(r.failures, 0, 'a crash of ours is no verdict on the provider');
  await restarted;
});
