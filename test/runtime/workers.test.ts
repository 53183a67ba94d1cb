// Pins the worker host: boot handshake, request/response across threads with correlation,
// timeouts and cancellation, buffers that really move (detached on the sender, both ways),
// and direct worker-to-worker ports that keep traffic off the main thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, startSystem } from '../helpers/actors.js';

const T = { timeout: 30_000 };

test('actors in workers answer requests, each on its own thread', T, async (t) => {
  const sys = await startSystem(t, [{ name: 'w', size: 2 }]);
  await sys.spawn('a', 'echo', undefined, { pool: 'w', session: 's1' });
  await sys.spawn('b', 'echo', undefined, { pool: 'w' });
  const ra = await sys.request<{ pong: number; self: string; session: string }>('a', { t: 'echo.ping', n: 7 }, { session: 's1' });
  assert.deepEqual(ra, { pong: 7, self: 'a', session: 's1', turn: 0 });
  const [wa, wb] = await Promise.all([sys.request<{ threadId: number }>('a', { t: 'echo.where' }), sys.request<{ threadId: number }>('b', { t: 'echo.where' })]);
  assert.notEqual(wa.threadId, wb.threadId, 'least-loaded placement spreads actors over the slots');
  assert.notEqual(wa.threadId, 0);
  // many requests in flight at once are matched to their own replies
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => sys.request<{ pong: number }>(i % 2 ? 'a' : 'b', { t: 'echo.ping', n: i })));
  assert.deepEqual(many.map((r) => r.pong), Array.from({ length: 200 }, (_, i) => i));
  await assert.rejects(sys.request('a', { t: 'echo.coded' }), { code: 'XZ_ERR_UNKNOWN_MESSAGE', message: 'coded failure' });
  await assert.rejects(sys.request('a', { t: 'echo.throw' }), { code: 'XZ_ERR_ACTOR_FAILED' });
  await assert.rejects(sys.spawn('a', 'echo', undefined, { pool: 'w' }), { code: 'XZ_ERR_ACTOR_EXISTS' });
  await assert.rejects(sys.spawn('c', 'no-such-kind', undefined, { pool: 'w' }), { code: 'XZ_ERR_NO_SUCH_ACTOR' });
});

test('a request to a worker times out and is cancelled there', T, async (t) => {
  const sys = await startSystem(t, [{}], { requestTimeoutMs: 200 });
  await sys.spawn('a', 'echo', undefined, { pool: 'w' });
  const started = performance.now();
  await assert.rejects(sys.request('a', { t: 'echo.hang' }), { code: 'XZ_ERR_REQUEST_TIMEOUT' });
  assert.ok(performance.now() - started >= 190);
  // the hung handler saw the cancel, so the actor's mailbox moves on
  assert.equal((await sys.request<{ pong: number }>('a', { t: 'echo.ping', n: 1 })).pong, 1);
  const ac = new AbortController();
  const p = sys.request('a', { t: 'echo.hang' }, { signal: ac.signal, timeoutMs: 5_000 });
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(p, { code: 'XZ_ERR_ABORTED' });
  assert.equal((await sys.request<{ pong: number }>('a', { t: 'echo.ping', n: 2 })).pong, 2);
});

test('transferred buffers move: detached on the sender, intact on the receiver, both ways', T, async (t) => {
  const sys = await startSystem(t, [{}]);
  await sys.spawn('a', 'echo', undefined, { pool: 'w' });
  const buf = new ArrayBuffer(2048);
  new Uint8Array(buf)[0] = 42;
  const r = await sys.request<{ bytes: number; first: number }>('a', { t: 'echo.buffer', buf }, { transfer: [buf] });
  assert.deepEqual(r, { bytes: 2048, first: 42 });
  assert.equal(buf.byteLength, 0, 'the sender no longer holds the buffer');
  // without a transfer list the buffer is copied and stays usable
  const kept = new ArrayBuffer(16);
  await sys.request('a', { t: 'echo.buffer', buf: kept });
  assert.equal(kept.byteLength, 16);
  // a reply wrapped in withTransfer moves its buffer to the caller
  const got = await sys.request<{ buf: ArrayBuffer }>('a', { t: 'echo.give', bytes: 960 });
  assert.equal(got.buf.byteLength, 960);
  assert.equal(new Uint8Array(got.buf)[959], 7);
});

test('linked workers talk over their own port; without a link main relays', T, async (t) => {
  const sys = await startSystem(t, [
    { name: 'x', size: 1 },
    { name: 'y', size: 1 },
  ]);
  await sys.spawn('a', 'echo', undefined, { pool: 'x' });
  await sys.spawn('b', 'echo', undefined, { pool: 'y' });
  const before = sys.stats().main.forwarded;
  assert.equal((await sys.request<{ pong: number }>('a', { t: 'echo.relay', to: 'b', msg: { t: 'echo.ping', n: 1 } })).pong, 1);
  assert.equal(sys.stats().main.forwarded, before + 1, 'unlinked: the main thread relayed the request');
  await sys.link('a', 'b');
  const afterLink = sys.stats().main.forwarded;
  for (let i = 0; i < 20; i++) {
    assert.equal((await sys.request<{ pong: number }>('a', { t: 'echo.relay', to: 'b', msg: { t: 'echo.ping', n: i } })).pong, i);
  }
  // one-way traffic too: b records what a tells it
  for (let i = 0; i < 5; i++) await sys.request('a', { t: 'echo.tell', to: 'b', msg: { t: 'echo.record', n: i } });
  // asked through a, over the same port as the tells, so it cannot overtake them
  assert.deepEqual(await sys.request('a', { t: 'echo.relay', to: 'b', msg: { t: 'echo.log' } }), [0, 1, 2, 3, 4]);
  assert.equal(sys.stats().main.forwarded, afterLink, 'linked: nothing passed through the main thread');
});

test('worker actors reach main-thread actors through the parent channel', T, async (t) => {
  const sys = await startSystem(t, [{}]);
  const { defineActor } = await import('../../runtime/actor.js');
  await sys.spawn('main-svc', defineActor<null, void, { t: 'svc.hello' }>({ start: () => null, receive: () => 'hello from main' }), undefined);
  await sys.spawn('a', 'echo', undefined, { pool: 'w' });
  assert.equal(await sys.request('a', { t: 'echo.relay', to: 'main-svc', msg: { t: 'svc.hello' } }), 'hello from main');
  await assert.rejects(sys.request('a', { t: 'echo.relay', to: 'ghost', msg: { t: 'svc.hello' } }), { code: 'XZ_ERR_NO_SUCH_ACTOR' });
  void fixture;
});
