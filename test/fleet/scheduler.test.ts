// The one shared timer behind every simulated device: min-heap ordering, moving and cancelling
// entries, monotonic schedules without drift, and real-time batching of many devices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, timed } from '../../bench/fleet/scheduler.js';

const T = { timeout: 20_000 };

function manual() {
  let now = 0;
  const s = new Scheduler({ clock: { now: () => now }, realTime: false });
  return { s, set: (t: number) => (now = t) };
}

test('entries fire in due order, each once, and only when due', T, () => {
  const { s, set } = manual();
  const fired: string[] = [];
  const mk = (name: string) => timed(() => fired.push(name));
  const [a, b, c, d] = [mk('a'), mk('b'), mk('c'), mk('d')];
  s.at(c, 30);
  s.at(a, 10);
  s.at(d, 40);
  s.at(b, 20);
  assert.equal(s.size, 4);
  set(5);
  assert.equal(s.runDue(), 0);
  set(25);
  assert.equal(s.runDue(), 2);
  assert.deepEqual(fired, ['a', 'b']);
  set(100);
  s.runDue();
  assert.deepEqual(fired, ['a', 'b', 'c', 'd']);
  assert.equal(s.size, 0);
  assert.equal(a.slot, -1);
});

test('rescheduling moves an entry; cancelling removes it from anywhere in the heap', T, () => {
  const { s, set } = manual();
  const fired: number[] = [];
  const entries = Array.from({ length: 50 }, (_, i) => timed(() => fired.push(i)));
  entries.forEach((e, i) => s.at(e, 1000 - i * 10)); // reverse order
  s.cancel(entries[10]!);
  s.cancel(entries[10]!); // twice is harmless
  s.at(entries[0]!, 1); // moved to the front
  s.cancel(entries[49]!);
  set(10_000);
  s.runDue();
  assert.equal(fired.length, 48);
  assert.equal(fired[0], 0);
  // the rest in due order: 48, 47, … 11, 9, … 1
  const rest = fired.slice(1);
  assert.deepEqual(rest, [...rest].sort((x, y) => y - x));
  assert.ok(!fired.includes(10) && !fired.includes(49));
});

test('an entry that reschedules itself on epoch + k × period never drifts', T, () => {
  const { s, set } = manual();
  const epoch = 3;
  let k = 0;
  const sentAt: number[] = [];
  const e = timed((now) => {
    sentAt.push(now);
    k++;
    s.at(e, epoch + k * 60);
  });
  s.at(e, epoch);
  // The clock wakes late, irregularly; due times stay on the grid.
  for (const t of [3, 70, 125, 190, 243, 309]) {
    set(t);
    s.runDue();
  }
  assert.deepEqual(sentAt, [3, 70, 125, 190, 243, 309]);
  assert.equal(e.due, epoch + 6 * 60);
});

test('real time: 300 devices on a 60 ms cadence share wake-ups and fire on time', T, async () => {
  const s = new Scheduler();
  const period = 60;
  const late: number[] = [];
  let fires = 0;
  const start = performance.now() + 5;
  const devices = Array.from({ length: 300 }, (_, i) => {
    let k = 0;
    const epoch = start + (i % 60); // spread over the period like staggered devices
    const e = timed((now) => {
      late.push(now - e.due);
      fires++;
      if (++k < 10) s.at(e, epoch + k * period);
    });
    s.at(e, epoch);
    return e;
  });
  await new Promise((r) => setTimeout(r, 60 + 10 * period + 100));
  assert.equal(fires, 3000);
  assert.equal(s.size, 0);
  assert.ok(s.wakeups < fires / 2, `${s.wakeups} wake-ups for ${fires} fires`);
  late.sort((a, b) => a - b);
  const p99 = late[Math.floor(late.length * 0.99)]!;
  assert.ok(p99 < 25, `p99 lateness ${p99.toFixed(1)} ms`);
  assert.ok(late[0]! >= -0.5, 'never more than half a millisecond early');
  s.clear();
  void devices;
});
