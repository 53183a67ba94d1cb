// The device playback-buffer model (protocol.md §7.2) with synthetic arrival times: 40 packets
// queued at most, played back to back in real time, underrun = ran dry mid-turn, overflow = drop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlaybackBuffer, DEVICE_QUEUE_PACKETS, STEADY_AFTER } from '../../bench/fleet/playback.js';

const T = { timeout: 10_000 };

test('a stream paced at real time with a lead never underruns nor overflows', T, () => {
  const b = new PlaybackBuffer(60);
  b.startTurn();
  const start = 1000;
  for (let i = 0; i < 5; i++) assert.equal(b.arrive(start), true); // lead burst
  for (let i = 5; i < 70; i++) assert.equal(b.arrive(start + (i - 5) * 60 + 3), true); // paced, 3 ms late each
  assert.deepEqual({ ...b.turn, minHeadroomMs: Math.round(b.turn.minHeadroomMs) }, {
    accepted: 70,
    overflows: 0,
    underruns: 0,
    underrunMs: 0,
    minHeadroomMs: 297, // five frames ahead minus the 3 ms lateness
    playEnd: start + 70 * 60,
  });
  assert.equal(b.playEnd, start + 70 * 60);
  assert.ok(b.playingAt(start + 70 * 60 - 1));
  assert.ok(!b.playingAt(start + 70 * 60));
});

test('a frame arriving after the buffer ran dry is an underrun, its gap is the silence heard', T, () => {
  const b = new PlaybackBuffer(60);
  b.startTurn();
  b.arrive(0); // plays 0..60
  b.arrive(60); // exactly on time: 60..120, no underrun
  b.arrive(200); // dry from 120 to 200
  b.arrive(230); // 260..320 queued behind it
  b.arrive(400); // dry from 320 to 400
  assert.equal(b.turn.underruns, 2);
  assert.equal(b.turn.underrunMs, 80 + 80);
  assert.equal(b.turn.overflows, 0);
  assert.equal(b.turn.accepted, 5);
  assert.equal(b.playEnd, 460);
});

test('the first frame of a turn is never an underrun, and a new turn starts empty', T, () => {
  const b = new PlaybackBuffer(60);
  b.startTurn();
  b.arrive(0);
  b.startTurn();
  b.arrive(10_000);
  assert.equal(b.turn.underruns, 0);
  assert.equal(b.turn.accepted, 1);
  assert.equal(b.queuedAt(10_000), 0);
});

test('dumping a whole reply at once: 1 playing + 40 queued are kept, the rest dropped', T, () => {
  const b = new PlaybackBuffer(60);
  b.startTurn();
  let kept = 0;
  for (let i = 0; i < 60; i++) if (b.arrive(0)) kept++;
  assert.equal(kept, 1 + DEVICE_QUEUE_PACKETS);
  assert.equal(b.turn.overflows, 60 - 41);
  assert.equal(b.queuedAt(0), DEVICE_QUEUE_PACKETS);
  // One packet later there is room for exactly one more.
  assert.equal(b.queuedAt(60), DEVICE_QUEUE_PACKETS - 1);
  assert.equal(b.arrive(60), true);
  assert.equal(b.arrive(60), false);
  assert.equal(b.turn.overflows, 20);
  assert.equal(b.turn.underruns, 0);
});

test('queuedAt counts waiting packets, not the one playing, at exact boundaries', T, () => {
  const b = new PlaybackBuffer(60);
  b.startTurn();
  assert.equal(b.queuedAt(0), 0);
  b.arrive(0);
  b.arrive(0);
  b.arrive(0); // plays until 180
  assert.equal(b.queuedAt(0), 2);
  assert.equal(b.queuedAt(59.999), 2);
  assert.equal(b.queuedAt(60), 1);
  assert.equal(b.queuedAt(179), 0);
  assert.equal(b.queuedAt(180), 0);
});

test('headroom counts only once the turn is under way', T, () => {
  const b = new PlaybackBuffer(60);
  b.startTurn();
  for (let i = 0; i < STEADY_AFTER; i++) b.arrive(0); // the start is shallow by nature: not counted
  assert.equal(b.turn.minHeadroomMs, Infinity);
  b.arrive(520); // 80 ms of the ten packets left to play
  assert.equal(b.turn.minHeadroomMs, 80);
  b.arrive(640); // plays until 660: 20 ms left
  assert.equal(b.turn.minHeadroomMs, 20);
  b.arrive(720); // exactly as the buffer empties: no gap, zero headroom, no underrun
  assert.equal(b.turn.minHeadroomMs, 0);
  assert.equal(b.turn.underruns, 0);
});

test('frame duration follows the server hello', T, () => {
  const b = new PlaybackBuffer(20);
  b.startTurn();
  b.arrive(0);
  b.arrive(0);
  assert.equal(b.playEnd, 40);
});
