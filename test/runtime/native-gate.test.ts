// Terminating a worker never cuts a native call: an addon built on an older node-addon-api
// aborts the whole process when its call is interrupted (seen with @discordjs/opus). The
// fixture's "native call" is a busy loop inside nativeCall that marks its entry and return in
// shared memory, so the test sees whether termination waited for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once, startSystem } from '../helpers/actors.js';

const T = { timeout: 30_000 };

async function entered(cell: Int32Array): Promise<void> {
  while (Atomics.load(cell, 0) !== 1) await new Promise((r) => setTimeout(r, 1));
}

test('terminate waits for the native call in flight to return, and no call starts after', T, async (t) => {
  const sys = await startSystem(t, [{}]);
  await sys.spawn('a', 'echo', undefined, { pool: 'w' });
  const cell = new Int32Array(new SharedArrayBuffer(8));
  sys.send('a', { t: 'echo.native', cell: cell.buffer as SharedArrayBuffer, ms: 300 });
  // Queued behind the first: it must not begin once the gate is closed.
  sys.send('a', { t: 'echo.native', cell: cell.buffer as SharedArrayBuffer, ms: 300 });
  await entered(cell);
  const crashed = once(sys, 'crashed');
  const t0 = performance.now();
  await sys.pool('w').terminateWorker(0);
  const waited = performance.now() - t0;
  assert.equal(Atomics.load(cell, 0), 2, 'the call in flight returned before the thread ended');
  assert.equal(Atomics.load(cell, 1), 1, 'the queued call never started');
  assert.ok(waited >= 150 && waited < 1500, `terminate waited for the call (${waited.toFixed(0)} ms)`);
  await crashed;
});

test('a native call that does not return in time does not stop the terminate', T, async (t) => {
  const sys = await startSystem(t, [{}]);
  await sys.spawn('a', 'echo', undefined, { pool: 'w' });
  const cell = new Int32Array(new SharedArrayBuffer(8));
  sys.send('a', { t: 'echo.native', cell: cell.buffer as SharedArrayBuffer, ms: 20_000 });
  await entered(cell);
  const t0 = performance.now();
  await sys.pool('w').terminateWorker(0);
  const waited = performance.now() - t0;
  assert.equal(Atomics.load(cell, 0), 1, 'still inside when the thread was ended');
  assert.ok(waited >= 1900 && waited < 5000, `gave up waiting after about 2 s (${waited.toFixed(0)} ms)`);
});

test('a worker that is not in a native call is terminated at once', T, async (t) => {
  const sys = await startSystem(t, [{}]);
  await sys.spawn('a', 'echo', undefined, { pool: 'w' });
  const cell = new Int32Array(new SharedArrayBuffer(8));
  await sys.request('a', { t: 'echo.native', cell: cell.buffer as SharedArrayBuffer, ms: 1 });
  const t0 = performance.now();
  await sys.pool('w').terminateWorker(0);
  assert.ok(performance.now() - t0 < 1500, "well short of the 2 s a native call in flight may take");
});

test('an async native call holds the gate until it settles; a later one is held back, the loop keeps turning', T, async (t) => {
  const sys = await startSystem(t, [{}]);
  await sys.spawn('a', 'echo', undefined, { pool: 'w' });
  await sys.spawn('b', 'echo', undefined, { pool: 'w' });
  const cell = new Int32Array(new SharedArrayBuffer(8));
  sys.send('a', { t: 'echo.nativeAsync', cell: cell.buffer as SharedArrayBuffer, ms: 300 });
  await entered(cell);
  const t0 = performance.now();
  const ended = sys.pool('w').terminateWorker(0);
  // Another actor of the same thread starts one while the gate closes: refused without blocking
  // the thread, or the first call's completion could never run.
  sys.send('b', { t: 'echo.nativeAsync', cell: cell.buffer as SharedArrayBuffer, ms: 300 });
  await ended;
  const waited = performance.now() - t0;
  assert.equal(Atomics.load(cell, 0), 2, 'the call in flight settled before the thread ended');
  assert.equal(Atomics.load(cell, 1), 1, 'the later call never started');
  assert.ok(waited >= 150 && waited < 1500, `terminate waited for the call (${waited.toFixed(0)} ms)`);
});
