// Pins clean shutdown: every message queued before shutdown is handled, in order, before any
// actor's stop hook runs; workers then end by themselves (exit code 0, never terminated), and a
// worker that cannot finish is terminated only when its pool allows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem } from '../../runtime/system.js';
import { fixture } from '../helpers/actors.js';

const T = { timeout: 30_000 };

function tempFile(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'xz-shutdown-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'stops.jsonl');
}

test('shutdown drains queued messages in order, then stops actors and ends workers on their own', T, async (t) => {
  const logFile = tempFile(t);
  const sys = new ActorSystem();
  sys.addPool({ name: 'x', size: 1, modules: [fixture('echo')] });
  sys.addPool({ name: 'y', size: 1, modules: [fixture('echo')] });
  const stopped: { slot: string; code: number; terminated: boolean }[] = [];
  sys.on('stopped', (x) => stopped.push(x));
  await sys.start();
  await sys.spawn('a', 'echo', { logFile }, { pool: 'x' });
  await sys.spawn('b', 'echo', { logFile }, { pool: 'y' });
  await sys.link('a', 'b');
  const N = 2_000;
  for (let n = 0; n < N; n++) sys.send('a', { t: 'echo.record', n });
  // a relays to b while it drains: cross-worker traffic queued before shutdown also lands
  for (let n = 0; n < 50; n++) sys.send('a', { t: 'echo.tell', to: 'b', msg: { t: 'echo.record', n } });
  await sys.shutdown();
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { self: string; log: number[] });
  const a = lines.find((l) => l.self === 'a')!;
  const b = lines.find((l) => l.self === 'b')!;
  assert.deepEqual(a.log, Array.from({ length: N }, (_, i) => i), 'every queued message ran, in order');
  assert.deepEqual(b.log, Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(stopped.map((s) => [s.slot, s.code, s.terminated]).sort(), [
    ['x#0', 0, false],
    ['y#0', 0, false],
  ]);
  assert.equal(sys.state, 'stopped');
  await assert.rejects(sys.spawn('late', 'echo', undefined, { pool: 'x' }), { code: 'XZ_ERR_SHUTTING_DOWN' });
});

for (const terminable of [false, true]) {
  test(`a worker that cannot drain in time is ${terminable ? 'terminated (pool allows it)' : 'left alone and reported (pool forbids terminate)'}`, T, async () => {
    const sys = new ActorSystem();
    sys.addPool({ name: 'x', size: 1, modules: [fixture('echo')], stopTimeoutMs: 200, terminable });
    const events: string[] = [];
    sys.on('stopped', (x: { terminated: boolean }) => events.push(x.terminated ? 'terminated' : 'ended'));
    sys.on('stuck', () => events.push('stuck'));
    await sys.start();
    await sys.spawn('a', 'echo', undefined, { pool: 'x' });
    // a handler that never finishes: the drain cannot complete
    void sys.request('a', { t: 'echo.slow', ms: 60_000, n: 1 }, { timeoutMs: 120_000 }).catch(() => {});
    await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    await sys.shutdown({ drainTimeoutMs: 300 });
    assert.ok(performance.now() - started < 2_000, 'the drain and stop timeouts bound shutdown');
    assert.deepEqual(events, [terminable ? 'terminated' : 'stuck']);
  });
}

test('a replacement worker still booting at shutdown is stopped too, not left running', T, async () => {
  const sys = new ActorSystem();
  sys.addPool({ name: 'x', size: 1, modules: [fixture('echo')], restart: { backoffInitialMs: 5 } });
  await sys.start();
  await sys.spawn('a', 'echo', undefined, { pool: 'x' });
  const crashed = new Promise((r) => sys.once('crashed', r));
  void sys.request('a', { t: 'echo.crash' }).catch(() => {});
  await crashed;
  await new Promise((r) => setTimeout(r, 15)); // the replacement is booting now
  await sys.shutdown({ drainTimeoutMs: 500 });
  const slot = sys.pool('x').slots[0]!;
  for (let i = 0; i < 100 && slot.handle?.state !== 'exited'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(slot.handle?.state, 'exited', 'the replacement worker ended');
  assert.equal(slot.state, 'stopped');
});
