// Pins the shared-memory frame ring: order, full and empty, oversize frames, counters that
// wrap (int32 overflow included), waits that wake and time out, and real traffic between two
// threads through the actor runtime, checked frame by frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameRing } from '../../runtime/ring.js';
import { fixture, startSystem } from '../helpers/actors.js';
import { checkFrame, fold, makeFrame, type Tally } from '../fixtures/actors/ring.js';

const T = { timeout: 30_000 };

const bytes = (...xs: number[]) => Uint8Array.from(xs);

test('frames come out in the order they went in, as copies', T, () => {
  const ring = FrameRing.create({ slots: 4, slotBytes: 8 });
  assert.equal(ring.size, 0);
  assert.equal(ring.shift(), null);
  assert.ok(ring.push(bytes(1)));
  assert.ok(ring.push(bytes(2, 2)));
  assert.ok(ring.push(new Uint8Array(0)), 'an empty frame is a frame');
  assert.equal(ring.size, 3);
  const first = ring.shift();
  assert.deepEqual(first, bytes(1));
  assert.ok(first!.buffer instanceof ArrayBuffer, 'shift hands out a plain, transferable buffer');
  assert.deepEqual(ring.shift(), bytes(2, 2));
  assert.deepEqual(ring.shift(), new Uint8Array(0));
  assert.equal(ring.shift(), null);
  assert.equal(ring.size, 0);
});

test('a full ring refuses, an empty one yields nothing, oversize frames throw', T, () => {
  const ring = FrameRing.create({ slots: 4, slotBytes: 8 });
  for (let i = 0; i < 4; i++) assert.ok(ring.push(bytes(i)));
  assert.equal(ring.push(bytes(9)), false, 'full');
  assert.equal(ring.size, 4);
  assert.deepEqual(ring.shift(), bytes(0));
  assert.ok(ring.push(bytes(4)), 'one slot freed');
  assert.equal(ring.push(bytes(9)), false);

  assert.throws(() => ring.push(new Uint8Array(9)), RangeError);
  assert.equal(ring.size, 4, 'a refused frame changes nothing');

  const small = new Uint8Array(0);
  ring.shift();
  ring.shift();
  ring.shift();
  ring.shift();
  assert.equal(ring.shiftInto(small), -1, 'empty');
  ring.push(bytes(5, 6, 7));
  assert.throws(() => ring.shiftInto(small), RangeError);
  assert.equal(ring.size, 1, 'a frame that did not fit stays queued');
  const target = new Uint8Array(8).fill(0xee);
  assert.equal(ring.shiftInto(target), 3);
  assert.deepEqual(target, bytes(5, 6, 7, 0xee, 0xee, 0xee, 0xee, 0xee));

  assert.throws(() => FrameRing.create({ slots: 6, slotBytes: 8 }), RangeError, 'slots must be a power of two');
  assert.throws(() => FrameRing.create({ slots: 4, slotBytes: 0 }), RangeError);
  assert.throws(() => FrameRing.attach(new SharedArrayBuffer(4096)), TypeError, 'not a ring');
});

test('counters wrap around: many cycles, and across the int32 overflow', T, () => {
  for (const origin of [0, 0x7fff_ffff - 100, -100]) {
    const ring = FrameRing.create({ slots: 8, slotBytes: 16, origin });
    const other = FrameRing.attach(ring.buffer);
    let next = 0;
    let expect = 0;
    // uneven batches so the fill level and the slot position drift through every combination
    for (let cycle = 0; cycle < 2_000; cycle++) {
      const batch = (cycle % 8) + 1;
      for (let i = 0; i < batch; i++) {
        const f = new Uint8Array((next % 16) + 1).fill(next & 0xff);
        assert.ok(ring.push(f), `push ${next} (origin ${origin})`);
        next++;
      }
      assert.equal(other.size, batch);
      for (let i = 0; i < batch; i++) {
        const f = other.shift();
        assert.ok(f, `frame ${expect}`);
        assert.equal(f.byteLength, (expect % 16) + 1);
        assert.ok(f.every((b) => b === (expect & 0xff)), `frame ${expect} intact (origin ${origin})`);
        expect++;
      }
      assert.equal(ring.size, 0);
    }
    assert.equal(expect, next);
  }
});

test('waits wake on the peer, time out, and end on close', T, async () => {
  const ring = FrameRing.create({ slots: 2, slotBytes: 4 });
  assert.equal(await ring.waitForData(0), 'timed-out');
  const started = performance.now();
  assert.equal(await ring.waitForData(50), 'timed-out');
  assert.ok(performance.now() - started >= 45);

  const woke = ring.waitForData(5_000);
  setTimeout(() => ring.push(bytes(1)), 10);
  assert.equal(await woke, 'ok');
  assert.equal(await ring.waitForData(), 'ok', 'data already there');

  ring.push(bytes(2));
  assert.equal(await ring.waitForSpace(20), 'timed-out');
  const space = ring.waitForSpace(5_000);
  setTimeout(() => ring.shift(), 10);
  assert.equal(await space, 'ok');

  ring.shift();
  assert.equal(ring.size, 0);
  const pending = ring.waitForData();
  setTimeout(() => ring.close(), 10);
  assert.equal(await pending, 'closed');
  assert.throws(() => ring.push(bytes(3)), /closed/);

  const drained = FrameRing.create({ slots: 2, slotBytes: 4 });
  drained.push(bytes(4));
  drained.close();
  assert.equal(await drained.waitForData(), 'ok', 'frames pushed before close can still be read');
  assert.deepEqual(drained.shift(), bytes(4));
  assert.equal(await drained.waitForData(), 'closed');
});

const FRAMES = 10_000;
// Starts just short of the int32 overflow so the traffic crosses it.
const ORIGIN = 0x7fff_ffff - FRAMES / 2;

test('a worker actor reads 10,000 frames main pushes, in order and intact', T, async (t) => {
  const sys = await startSystem(t, [{ name: 'ring', modules: [fixture('ring')] }]);
  const ring = FrameRing.create({ slots: 64, slotBytes: 4096, origin: ORIGIN });
  await sys.spawn('reader', 'ring', { sab: ring.buffer }, { pool: 'ring' });
  const reading = sys.request<Tally>('reader', { t: 'ring.consume', count: FRAMES }, { timeoutMs: 25_000 });

  let digest = 0;
  let full = 0;
  for (let seq = 0; seq < FRAMES; seq++) {
    const f = makeFrame(seq, ring.slotBytes);
    while (!ring.push(f)) {
      full++;
      assert.equal(await ring.waitForSpace(10_000), 'ok');
    }
    digest = fold(digest, checkFrame(f, f.byteLength, seq) as number);
  }
  const got = await reading;
  assert.equal(got.error, undefined);
  assert.equal(got.frames, FRAMES);
  assert.equal(got.digest, digest);
  assert.equal(ring.size, 0);
  t.diagnostic(`main found the ring full ${full} times`);
});

test('main reads 10,000 frames a worker actor pushes, in order and intact', T, async (t) => {
  const sys = await startSystem(t, [{ name: 'ring', modules: [fixture('ring')] }]);
  const ring = FrameRing.create({ slots: 64, slotBytes: 4096, origin: ORIGIN });
  await sys.spawn('writer', 'ring', { sab: ring.buffer }, { pool: 'ring' });
  const writing = sys.request<Tally>('writer', { t: 'ring.produce', count: FRAMES }, { timeoutMs: 25_000 });

  let digest = 0;
  const buf = new Uint8Array(ring.slotBytes);
  for (let seq = 0; seq < FRAMES; ) {
    const len = ring.shiftInto(buf);
    if (len < 0) {
      assert.equal(await ring.waitForData(10_000), 'ok', `waiting for frame ${seq}`);
      continue;
    }
    const sum = checkFrame(buf, len, seq);
    if (typeof sum === 'string') assert.fail(sum);
    digest = fold(digest, sum);
    seq++;
  }
  const sent = await writing;
  assert.equal(sent.error, undefined);
  assert.equal(sent.frames, FRAMES);
  assert.equal(sent.digest, digest);
});
