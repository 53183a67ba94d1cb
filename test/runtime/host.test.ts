// Pins the single-thread actor host: request/response with timeouts and abort, faults on
// one-way messages reported without stopping the actor, barge-in through turn bumps, and an
// orderly drain that runs queued work before stop hooks (newest actor stopped first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineActor } from '../../runtime/actor.js';
import { SimClock } from '../../runtime/clock.js';
import { ActorSystem } from '../../runtime/system.js';

const T = { timeout: 10_000 };

type In = { t: 'w.add'; n: number } | { t: 'w.get' } | { t: 'w.fail' } | { t: 'w.wait'; ms: number } | { t: 'w.hang' };

function worker(stops: string[], clockSleeps = false) {
  return defineActor<{ sum: number[] }, void, In>({
    mailbox: { capacity: 64, overflow: 'fail' },
    start: () => ({ sum: [] }),
    async receive(s, m, _env, ctx, signal) {
      switch (m.t) {
        case 'w.add':
          if (clockSleeps) await ctx.clock.sleep(10);
          s.sum.push(m.n);
          return s.sum.length;
        case 'w.get':
          return s.sum;
        case 'w.fail':
          throw new Error('broken');
        case 'w.wait':
          await ctx.clock.sleep(m.ms);
          return 'waited';
        case 'w.hang':
          return signal.aborted ? Promise.reject(signal.reason) : new Promise((_, rej) => signal.addEventListener('abort', () => rej(signal.reason)));
      }
    },
    stop: (_s, ctx) => void stops.push(ctx.self),
  });
}

test('request/response on the main thread, replies in order', T, async () => {
  const sys = new ActorSystem();
  await sys.spawn('w', worker([]), undefined);
  const replies = await Promise.all([1, 2, 3].map((n) => sys.request('w', { t: 'w.add', n })));
  assert.deepEqual(replies, [1, 2, 3]);
  assert.deepEqual(await sys.request('w', { t: 'w.get' }), [1, 2, 3]);
  await assert.rejects(sys.request('nobody', { t: 'w.get' }), { code: 'XZ_ERR_NO_SUCH_ACTOR' });
  await sys.shutdown();
});

test('a handler error answers the requester with a code; on a one-way message it is a fault and the actor lives on', T, async () => {
  const sys = new ActorSystem();
  const faults: string[] = [];
  sys.on('fault', (f: { addr: string; error: { code: string } }) => faults.push(`${f.addr}:${f.error.code}`));
  await sys.spawn('w', worker([]), undefined);
  await assert.rejects(sys.request('w', { t: 'w.fail' }), { code: 'XZ_ERR_ACTOR_FAILED', message: 'broken' });
  sys.send('w', { t: 'w.fail' });
  assert.equal(await sys.request('w', { t: 'w.add', n: 5 }), 1);
  assert.deepEqual(faults, ['w:XZ_ERR_ACTOR_FAILED']);
  await sys.shutdown();
});

test('timeouts and aborts on the simulated clock reach the handler signal', T, async () => {
  const clock = new SimClock();
  const sys = new ActorSystem({ clock, requestTimeoutMs: 1_000 });
  await sys.spawn('w', worker([]), undefined);
  const timedOut = sys.request('w', { t: 'w.hang' });
  const outcome = timedOut.then(() => 'resolved', (e: { code: string }) => e.code);
  await clock.advance(999);
  assert.equal(await Promise.race([outcome, Promise.resolve('pending')]), 'pending');
  await clock.advance(2);
  assert.equal(await outcome, 'XZ_ERR_REQUEST_TIMEOUT');
  // the hung handler was released by the abort, so the actor answers again
  const ac = new AbortController();
  const aborted = sys.request('w', { t: 'w.hang' }, { signal: ac.signal });
  ac.abort();
  await assert.rejects(aborted, { code: 'XZ_ERR_ABORTED' });
  const slow = sys.request('w', { t: 'w.wait', ms: 500 });
  await clock.advance(500);
  assert.equal(await slow, 'waited');
  await sys.shutdown();
});

test('a turn bump drops the old turn of that session only', T, async () => {
  const clock = new SimClock();
  const sys = new ActorSystem({ clock });
  await sys.spawn('w', worker([], true), undefined, { session: 's1' });
  for (let n = 1; n <= 5; n++) sys.send('w', { t: 'w.add', n }, { session: 's1', turn: 1 });
  sys.send('w', { t: 'w.add', n: 100 }, { session: 's2', turn: 1 });
  await clock.advance(15); // the first message completes, the second is running
  sys.bumpTurn('s1', 2);
  sys.send('w', { t: 'w.add', n: 6 }, { session: 's1', turn: 2 });
  await clock.advance(200);
  assert.deepEqual(await sys.request('w', { t: 'w.get' }, { lane: 'system' }), [1, 2, 100, 6]);
  assert.equal(sys.stats().main.dropped, 3);
  await sys.shutdown();
});

test('a turn bump aborts the handler still working on the old turn, without a fault', T, async () => {
  const sys = new ActorSystem();
  const faults: unknown[] = [];
  sys.on('fault', (f) => faults.push(f));
  await sys.spawn('w', worker([]), undefined, { session: 's1' });
  const hung = sys.request('w', { t: 'w.hang' }, { session: 's1', turn: 1 });
  sys.send('w', { t: 'w.hang' }, { session: 's1', turn: 1 });
  await new Promise((r) => setImmediate(r));
  const started = performance.now();
  sys.bumpTurn('s1', 2);
  await assert.rejects(hung, { code: 'XZ_ERR_STALE_TURN' });
  assert.ok(performance.now() - started < 50);
  // the queued one-way hang was dropped unseen; the actor answers the new turn at once
  assert.equal(await sys.request('w', { t: 'w.add', n: 1 }, { session: 's1', turn: 2 }), 1);
  assert.deepEqual(faults, []);
  await sys.shutdown();
});

test('a detached answer frees the mailbox while the requester waits', T, async () => {
  const { detached } = await import('../../runtime/actor.js');
  const sys = new ActorSystem();
  let release!: (v: string) => void;
  const seen: string[] = [];
  await sys.spawn(
    'd',
    defineActor<null, void, { t: 'd.slow' } | { t: 'd.fast' }>({
      start: () => null,
      receive(_s, m) {
        seen.push(m.t);
        if (m.t === 'd.slow') return detached(new Promise<string>((r) => (release = r)));
        return 'fast';
      },
    }),
    undefined,
  );
  const slow = sys.request('d', { t: 'd.slow' });
  assert.equal(await sys.request('d', { t: 'd.fast' }), 'fast', 'the next message ran while the slow one waits');
  release('slow');
  assert.equal(await slow, 'slow');
  assert.deepEqual(seen, ['d.slow', 'd.fast']);
  await sys.shutdown();
});

test('shutdown drains queued work in order, then stops actors newest first', T, async () => {
  const stops: string[] = [];
  const sys = new ActorSystem();
  await sys.spawn('first', worker(stops), undefined);
  await sys.spawn('second', worker(stops), undefined);
  for (let n = 1; n <= 20; n++) sys.send('first', { t: 'w.add', n });
  let got: unknown;
  const probe = sys.request('first', { t: 'w.get' }).then((v) => (got = v));
  await sys.shutdown();
  await probe;
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i + 1));
  assert.deepEqual(stops, ['second', 'first']);
  await assert.rejects(sys.spawn('late', worker(stops), undefined), { code: 'XZ_ERR_SHUTTING_DOWN' });
});

test('a handler without a signal parameter gets one from ctx.signal(), aborted by a turn bump like the parameter', T, async () => {
  const sys = new ActorSystem();
  let seen: AbortSignal | undefined;
  await sys.spawn(
    'n',
    defineActor<null, void, { t: 'n.hang' }>({
      start: () => null,
      receive(_s, _m, _env, ctx) {
        seen = ctx.signal();
        return new Promise((_, reject) => seen!.addEventListener('abort', () => reject(seen!.reason), { once: true }));
      },
    }),
    undefined,
    { session: 's1' },
  );
  const hung = sys.request('n', { t: 'n.hang' }, { session: 's1', turn: 1 });
  await new Promise((r) => setImmediate(r));
  assert.equal(seen?.aborted, false);
  sys.bumpTurn('s1', 2);
  await assert.rejects(hung, { code: 'XZ_ERR_STALE_TURN' });
  assert.equal(seen?.aborted, true);
  await sys.shutdown();
});
