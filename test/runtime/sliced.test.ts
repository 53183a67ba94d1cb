// A burst of work runs a budget's worth per event-loop turn, in order, and a timer due meanwhile
// runs between slices instead of after the whole burst.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlicedQueue } from '../../runtime/sliced.js';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

test('a burst is run in order, a slice per loop turn; a timer gets in between', async () => {
  const errors: unknown[] = [];
  const q = new SlicedQueue(5, (e) => errors.push(e));
  const done: number[] = [];
  let timerAt = -1;
  for (let i = 0; i < 100; i++) q.push(() => {
    busy(1);
    done.push(i);
  });
  q.push(() => {
    throw new Error('one task fails');
  });
  q.push(() => done.push(100));
  // Due 10 ms into a burst of about 100 ms.
  setTimeout(() => (timerAt = done.length), 10);
  const t0 = performance.now();
  while (q.length > 0) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(done, Array.from({ length: 101 }, (_, i) => i), 'all of it, in order, past a failing task');
  assert.equal(errors.length, 1);
  assert.ok(timerAt >= 0 && timerAt < 100, `the timer ran after ${timerAt} of 100 one-ms tasks, not after all of them`);
  assert.ok(performance.now() - t0 >= 90);
});

test('an idle queue schedules nothing; a task pushed later runs on the next turn', async () => {
  const q = new SlicedQueue(2, () => {});
  let ran = false;
  q.push(() => (ran = true));
  assert.equal(ran, false, 'not synchronously');
  await new Promise((r) => setImmediate(r));
  assert.equal(ran, true);
  assert.equal(q.length, 0);
});
