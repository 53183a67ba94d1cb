// Pins the mailbox contract: bounded queues with a declared overflow policy, run-to-completion
// delivery, the system lane overtaking data, turn bumps dropping stale data (before delivery,
// answering any waiting requester), and expiry decided on the simulated clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../runtime/clock.js';
import { TurnTable, type Envelope } from '../../runtime/envelope.js';
import { Mailbox, type Delivery, type MailboxOptions } from '../../runtime/mailbox.js';
import type { XzError } from '../../runtime/errors.js';

const T = { timeout: 10_000 };

function env(n: number, extra: Partial<Envelope> = {}): Envelope {
  return { to: 'a', session: 's', turn: 0, seq: n, lane: 'data', msg: { t: 'x.n', n } as { t: string }, ...extra };
}

function setup(opts: MailboxOptions, handler?: (d: Delivery) => void | Promise<void>) {
  const clock = new SimClock();
  const turns = new TurnTable();
  const seen: number[] = [];
  let gate: Promise<void> | undefined;
  const mb = new Mailbox(
    async (d) => {
      if (gate) await gate;
      seen.push((d.env.msg as unknown as { n: number }).n);
      await handler?.(d);
    },
    clock,
    turns,
    opts,
  );
  let open!: () => void;
  const hold = () => {
    gate = new Promise((r) => (open = r));
  };
  const release = () => {
    gate = undefined;
    open();
  };
  return { clock, turns, mb, seen, hold, release };
}

function request(mb: Mailbox, e: Envelope): Promise<{ err: XzError | null; value?: unknown }> {
  return new Promise((resolve) => {
    void mb.put({ env: e, settle: (err, value) => resolve({ err, value }) });
  });
}

test('delivers in order, one at a time, awaiting async handlers', T, async () => {
  let running = 0;
  let maxRunning = 0;
  const { mb, seen, clock } = setup({ capacity: 10 }, async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise((r) => setImmediate(r));
    running--;
  });
  for (let i = 0; i < 5; i++) mb.put({ env: env(i) });
  await mb.idle();
  assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  assert.equal(maxRunning, 1);
  assert.equal(mb.stats().delivered, 5);
  void clock;
});

test('fail policy refuses the newest message with XZ_ERR_MAILBOX_FULL', T, async () => {
  const { mb, seen, hold, release } = setup({ capacity: 2, overflow: 'fail' });
  hold();
  mb.put({ env: env(0) }); // taken by the handler, waits on the gate
  await new Promise((r) => setImmediate(r));
  assert.equal(mb.put({ env: env(1) }), true);
  assert.equal(mb.put({ env: env(2) }), true);
  const refused = await request(mb, env(3));
  assert.equal(refused.err?.code, 'XZ_ERR_MAILBOX_FULL');
  release();
  await mb.idle();
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(mb.stats().refused, 1);
});

test('drop-oldest policy makes room by dropping the oldest queued data', T, async () => {
  const { mb, seen, hold, release } = setup({ capacity: 2, overflow: 'drop-oldest' });
  hold();
  mb.put({ env: env(0) });
  await new Promise((r) => setImmediate(r));
  const oldest = request(mb, env(1));
  mb.put({ env: env(2) });
  mb.put({ env: env(3) });
  assert.equal((await oldest).err?.code, 'XZ_ERR_MAILBOX_FULL');
  release();
  await mb.idle();
  assert.deepEqual(seen, [0, 2, 3]);
  assert.equal(mb.stats().droppedOverflow, 1);
});

test('block policy makes the producer wait until there is room, keeping order', T, async () => {
  const { mb, seen, hold, release } = setup({ capacity: 1, overflow: 'block' });
  hold();
  mb.put({ env: env(0) });
  await new Promise((r) => setImmediate(r));
  assert.equal(mb.put({ env: env(1) }), true);
  const p2 = mb.put({ env: env(2) });
  const p3 = mb.put({ env: env(3) });
  assert.ok(p2 instanceof Promise, 'a full block mailbox returns a promise');
  assert.ok(p3 instanceof Promise);
  assert.equal(mb.stats().waiting, 2);
  let admitted = false;
  void (p2 as Promise<boolean>).then(() => (admitted = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(admitted, false, 'still blocked while the queue is full');
  release();
  assert.equal(await p2, true);
  assert.equal(await p3, true);
  await mb.idle();
  assert.deepEqual(seen, [0, 1, 2, 3]);
});

test('system lane overtakes queued data', T, async () => {
  const { mb, seen, hold, release } = setup({ capacity: 10 });
  hold();
  mb.put({ env: env(0) });
  await new Promise((r) => setImmediate(r));
  mb.put({ env: env(1) });
  mb.put({ env: env(2) });
  mb.put({ env: env(99, { lane: 'system' }) });
  release();
  await mb.idle();
  assert.deepEqual(seen, [0, 99, 1, 2]);
});

test('a turn bump drops queued data of older turns; system messages and the new turn survive', T, async () => {
  const { mb, seen, turns, hold, release } = setup({ capacity: 10 });
  hold();
  mb.put({ env: env(0, { turn: 1 }) });
  await new Promise((r) => setImmediate(r));
  const stale = request(mb, env(1, { turn: 1 }));
  mb.put({ env: env(2, { turn: 1 }) });
  mb.put({ env: env(3, { turn: 1, lane: 'system' }) });
  turns.bump('s', 2);
  assert.equal(mb.purgeStale(), 2);
  mb.put({ env: env(4, { turn: 2 }) });
  // data of the old turn arriving after the bump is refused at the door
  assert.equal(mb.put({ env: env(5, { turn: 1 }) }), false);
  // another session's turn is untouched
  mb.put({ env: env(6, { turn: 0, session: 'other' }) });
  release();
  assert.equal((await stale).err?.code, 'XZ_ERR_STALE_TURN');
  await mb.idle();
  assert.deepEqual(seen, [0, 3, 4, 6]);
  assert.equal(mb.stats().droppedStale, 3);
});

test('stream messages keep their order with data but survive a turn bump', T, async () => {
  const { mb, seen, turns, hold, release } = setup({ capacity: 10 });
  hold();
  mb.put({ env: env(0, { turn: 1 }) });
  await new Promise((r) => setImmediate(r));
  mb.put({ env: env(1, { turn: 1, lane: 'stream' }) });
  mb.put({ env: env(2, { turn: 1 }) });
  mb.put({ env: env(3, { turn: 1, lane: 'stream' }) });
  turns.bump('s', 2);
  mb.purgeStale();
  mb.put({ env: env(4, { turn: 1, lane: 'stream' }) });
  release();
  await mb.idle();
  assert.deepEqual(seen, [0, 1, 3, 4]);
});

test('an envelope of a newer turn moves the turn forward and purges the backlog', T, async () => {
  const { mb, seen, turns, hold, release } = setup({ capacity: 10 });
  hold();
  mb.put({ env: env(0, { turn: 3 }) });
  await new Promise((r) => setImmediate(r));
  mb.put({ env: env(1, { turn: 3 }) });
  mb.put({ env: env(2, { turn: 4 }) });
  assert.equal(turns.current('s'), 4);
  release();
  await mb.idle();
  assert.deepEqual(seen, [0, 2]);
});

test('data past its expiry on the simulated clock is dropped unseen', T, async () => {
  const { mb, seen, clock, hold, release } = setup({ capacity: 10 });
  hold();
  mb.put({ env: env(0) });
  await new Promise((r) => setImmediate(r));
  mb.put({ env: env(1, { expiresAt: clock.now() + 100 }) });
  mb.put({ env: env(2, { expiresAt: clock.now() + 300 }) });
  mb.put({ env: env(3) });
  await clock.advance(200);
  release();
  await mb.idle();
  assert.deepEqual(seen, [0, 2, 3]);
  assert.equal(mb.stats().droppedExpired, 1);
  assert.ok(mb.stats().maxWaitMs >= 200, 'queue wait is measured on the clock');
});

test('close without drain refuses what is queued; close with drain runs it', T, async () => {
  {
    const { mb, seen, hold, release } = setup({ capacity: 10 });
    hold();
    mb.put({ env: env(0) });
    await new Promise((r) => setImmediate(r));
    const queued = request(mb, env(1));
    mb.close(false);
    release();
    assert.equal((await queued).err?.code, 'XZ_ERR_SHUTTING_DOWN');
    await mb.idle();
    assert.deepEqual(seen, [0]);
    assert.equal(mb.put({ env: env(2) }), false);
  }
  {
    const { mb, seen, hold, release } = setup({ capacity: 10 });
    hold();
    mb.put({ env: env(0) });
    await new Promise((r) => setImmediate(r));
    mb.put({ env: env(1) });
    mb.close(true);
    release();
    await mb.idle();
    assert.deepEqual(seen, [0, 1]);
  }
});

test('SimClock fires timers in time order and sleeps honour abort', T, async () => {
  const clock = new SimClock(0);
  const fired: string[] = [];
  clock.setTimer(30, () => fired.push('c'));
  clock.setTimer(10, () => fired.push('a'));
  clock.setTimer(10, () => fired.push('b'));
  const t = clock.setTimer(20, () => fired.push('x'));
  t.cancel();
  await clock.advance(25);
  assert.deepEqual(fired, ['a', 'b']);
  assert.equal(clock.now(), 25);
  const ac = new AbortController();
  const s = clock.sleep(100, ac.signal);
  ac.abort(new Error('stop'));
  await assert.rejects(s, /stop/);
  await clock.advance(10);
  assert.deepEqual(fired, ['a', 'b', 'c']);
});

test('a turn signal aborts when its session moves on or is forgotten, and only then', T, () => {
  const turns = new TurnTable();
  turns.bump('s', 1);
  const one = turns.signal('s', 1);
  const other = turns.signal('t', 1);
  assert.equal(turns.signal('s', 1), one, 'one signal per session and turn');
  assert.equal(one.aborted, false);
  turns.bump('s', 2);
  assert.equal(one.aborted, true);
  assert.equal((one.reason as { code: string }).code, 'XZ_ERR_STALE_TURN');
  assert.equal(other.aborted, false, 'another session is untouched');
  assert.equal(turns.signal('s', 1).aborted, true, 'a signal for a past turn starts aborted');
  const two = turns.signal('s', 2);
  turns.forget('s');
  assert.equal(two.aborted, true);
});
