// Pins the crash policy of worker pools: a worker that throws, exits or is killed mid-request
// fails its callers with XZ_ERR_WORKER_CRASHED at once, comes back after the backoff with its
// actors re-spawned (fresh state), and actors in other workers never notice. Repeated crashes
// escalate instead of looping, and a worker that fails during boot is latched as failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActorSystem } from '../../runtime/system.js';
import { fixture, once, startSystem } from '../helpers/actors.js';

const T = { timeout: 30_000 };

/** Pings the bystander continuously; resolves with how many answered and every failure. */
function keepPinging(sys: ActorSystem, addr: string) {
  let stop = false;
  const failures: unknown[] = [];
  let ok = 0;
  const done = (async () => {
    while (!stop) {
      try {
        await sys.request(addr, { t: 'echo.ping', n: ok });
        ok++;
      } catch (e) {
        failures.push(e);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    async end() {
      stop = true;
      await done;
      return { ok, failures };
    },
  };
}

const ways = [
  { name: 'throws an uncaught exception', provoke: (sys: ActorSystem) => sys.request('a', { t: 'echo.crash' }) },
  { name: 'calls process.exit', provoke: (sys: ActorSystem) => sys.request('a', { t: 'echo.exit', code: 3 }) },
  {
    name: 'is killed mid-request',
    provoke: async (sys: ActorSystem) => {
      const inflight = sys.request('a', { t: 'echo.hang' });
      await new Promise((r) => setTimeout(r, 20));
      await sys.pool('victim').terminateWorker(0);
      return inflight;
    },
  },
];

for (const way of ways) {
  test(`a worker that ${way.name}: callers get the coded error, the actor is back after the backoff, others never notice`, T, async (t) => {
    const backoff = 100;
    const sys = await startSystem(t, [
      { name: 'victim', restart: { backoffInitialMs: backoff } },
      { name: 'bystander' },
    ]);
    await sys.spawn('a', 'echo', undefined, { pool: 'victim' });
    await sys.spawn('b', 'echo', undefined, { pool: 'bystander' });
    await sys.request('a', { t: 'echo.record', n: 1 });
    const pinger = keepPinging(sys, 'b');
    const crashed = once<{ slot: string; error: { code: string } }>(sys, 'crashed');
    const restarted = once<{ slot: string; actors: string[] }>(sys, 'restarted');

    await assert.rejects(way.provoke(sys), { code: 'XZ_ERR_WORKER_CRASHED', retryable: true });
    const crashedAt = performance.now();
    assert.equal((await crashed).slot, 'victim#0');
    // while it restarts, callers fail fast instead of hanging
    await assert.rejects(sys.request('a', { t: 'echo.ping' }), { code: 'XZ_ERR_WORKER_CRASHED' });

    const back = await restarted;
    const downFor = performance.now() - crashedAt;
    assert.deepEqual(back.actors, ['a']);
    assert.ok(downFor >= backoff - 5, `waited the backoff (${downFor.toFixed(0)} ms)`);
    assert.ok(downFor < backoff + 3_000, `back within the backoff plus a boot (${downFor.toFixed(0)} ms)`);
    assert.equal((await sys.request<{ pong: number }>('a', { t: 'echo.ping', n: 5 })).pong, 5);
    assert.deepEqual(await sys.request('a', { t: 'echo.log' }), [], 'the actor restarted with fresh state');

    const { ok, failures } = await pinger.end();
    assert.deepEqual(failures, [], 'the actor in the other worker never saw an error');
    assert.ok(ok > 5);
    assert.equal(sys.pool('bystander').stats().slots[0]!.restarts, 0);
  });
}

test('repeated crashes back off longer each time, then escalate instead of looping', T, async (t) => {
  const sys = await startSystem(t, [{ name: 'victim', restart: { backoffInitialMs: 30, backoffFactor: 3, maxRestarts: 2, windowMs: 60_000 } }]);
  await sys.spawn('a', 'echo', undefined, { pool: 'victim' });
  const downtimes: number[] = [];
  for (let i = 0; i < 2; i++) {
    const restarted = once(sys, 'restarted');
    await assert.rejects(sys.request('a', { t: 'echo.crash' }), { code: 'XZ_ERR_WORKER_CRASHED' });
    const at = performance.now();
    await restarted;
    downtimes.push(performance.now() - at);
  }
  assert.ok(downtimes[0]! >= 25, `first backoff ≥ 30 ms (${downtimes[0]})`);
  assert.ok(downtimes[1]! >= 85, `second backoff ≥ 90 ms (${downtimes[1]})`);
  const escalated = once<{ slot: string; error: { code: string }; actors: string[] }>(sys, 'escalated');
  await assert.rejects(sys.request('a', { t: 'echo.crash' }), { code: 'XZ_ERR_WORKER_CRASHED' });
  const esc = await escalated;
  assert.equal(esc.error.code, 'XZ_ERR_WORKER_ESCALATED');
  assert.deepEqual(esc.actors, ['a']);
  assert.equal(sys.pool('victim').stats().slots[0]!.state, 'failed');
  await assert.rejects(sys.spawn('a2', 'echo', undefined, { pool: 'victim' }), { code: 'XZ_ERR_WORKER_ESCALATED' });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(sys.pool('victim').stats().slots[0]!.state, 'failed', 'a latched slot stays down');
});

for (const mod of ['boot-fail', 'boot-exit']) {
  test(`a worker that fails during boot (${mod}) is retried a bounded number of times, then latched`, T, async (t) => {
    const { ActorSystem } = await import('../../runtime/system.js');
    const sys = new ActorSystem();
    t.after(() => sys.shutdown());
    sys.addPool({ name: 'bad', size: 1, modules: [fixture(mod)], restart: { backoffInitialMs: 10, maxBootFailures: 3 } });
    sys.addPool({ name: 'good', size: 1, modules: [fixture('echo')] });
    const escalated = once<{ slot: string }>(sys, 'escalated');
    const err = await sys.start().then(
      () => null,
      (e: { code: string; message: string }) => e,
    );
    assert.equal(err?.code, 'XZ_ERR_WORKER_BOOT_FAILED');
    if (mod === 'boot-fail') assert.match(err!.message, /model file missing/);
    else assert.match(err!.message, /exited \(code 2\) before its handshake/);
    assert.equal((await escalated).slot, 'bad#0');
    const slot = sys.stats().pools.find((p) => p.name === 'bad')!.slots[0]!;
    assert.equal(slot.bootFailures, 3);
    assert.equal(slot.state, 'failed');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(sys.stats().pools.find((p) => p.name === 'bad')!.slots[0]!.bootFailures, 3, 'no further boot attempts');
  });
}
