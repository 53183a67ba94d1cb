// Pins downlink pacing on the simulated clock: the first `lead` frames leave after the start
// gap, then one per frame period; a 70 ms main-thread stall causes no device underrun and no
// burst beyond the lead; a TTS stall lets the device buffer drain and the schedule resume
// without catching up; subtitles leave with their sentence's first frame; the end marker
// reports the playout end; a cancel stops everything at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../runtime/clock.js';
import { Pacer, type PacedLink } from '../../actors/pacer/pacer.js';

const T = { timeout: 10_000 };
const FRAME = 60;

/** A link that records sends and models the device's 40-packet buffer played at real time. */
class DeviceModel implements PacedLink {
  closed = false;
  readonly sent: { at: number; kind: 'audio' | 'text'; text?: string }[] = [];
  bufferEnd = 0;
  underruns = 0;
  overflows = 0;
  playing = false;
  constructor(private readonly clock: SimClock) {}
  sendAudio(): number {
    const now = this.clock.now();
    const queued = Math.max(0, this.bufferEnd - now) / FRAME;
    if (queued >= 40) this.overflows++;
    if (this.playing && this.bufferEnd < now) this.underruns++;
    this.playing = true;
    this.bufferEnd = Math.max(this.bufferEnd, now) + FRAME;
    this.sent.push({ at: now, kind: 'audio' });
    return 1;
  }
  sendText(text: string): number {
    this.sent.push({ at: this.clock.now(), kind: 'text', text });
    return 1;
  }
  cork(fn: () => void): void {
    fn();
  }
  bufferedAmount(): number {
    return 0;
  }
  audioTimes(): number[] {
    return this.sent.filter((s) => s.kind === 'audio').map((s) => s.at);
  }
}

const frames = (n: number) => Array.from({ length: n }, () => new Uint8Array(40));

function setup(lead = 4, coalesceMs = 0) {
  const clock = new SimClock(0);
  const pacer = new Pacer({ frameMs: FRAME, leadFrames: lead, clock, coalesceMs });
  const dev = new DeviceModel(clock);
  return { clock, pacer, dev };
}

test('lead frames after the start gap, then real time', T, async () => {
  const { clock, pacer, dev } = setup(4);
  pacer.begin('s', dev, 1, clock.now() + 40);
  pacer.pushFrames('s', 1, frames(20));
  await clock.advance(30);
  assert.equal(dev.audioTimes().length, 0, 'nothing before the start gap');
  await clock.advance(10);
  assert.deepEqual(dev.audioTimes(), [40, 40, 40, 40]);
  await clock.advance(2000);
  const t = dev.audioTimes();
  assert.equal(t.length, 20);
  for (let i = 4; i < 20; i++) assert.equal(t[i], 40 + (i - 3) * FRAME, `frame ${i} at real time`);
  assert.equal(dev.underruns, 0);
  assert.ok(pacer.stats().latenessMax < 1);
});

test('frames due within the coalescing slot leave together, a little early, never late', T, async () => {
  const { clock, pacer, dev } = setup(4, 5);
  pacer.begin('a', dev, 1, clock.now() + 40);
  pacer.pushFrames('a', 1, frames(20));
  await clock.advance(34);
  assert.equal(dev.audioTimes().length, 0, 'not before the slot opens');
  await clock.advance(1);
  assert.equal(dev.audioTimes().length, 0, 'not before the start gap, even inside the slot');
  await clock.advance(5);
  assert.deepEqual(dev.audioTimes(), [40, 40, 40, 40]);
  await clock.advance(2000);
  const t = dev.audioTimes();
  // Playback began when the lead arrived (40 ms): frame i is due (lead − 1) frames before it plays.
  for (let i = 4; i < 20; i++) {
    const due = 40 + (i - 3) * FRAME;
    assert.ok(t[i]! >= due - 5 && t[i]! <= due, `frame ${i} at ${t[i]} for ${due}`);
  }
  assert.equal(dev.underruns, 0);
  assert.equal(pacer.stats().latenessMax, 0);
});

test('a 70 ms stall of the main thread: no underrun, no burst beyond the lead', T, async () => {
  const { clock, pacer, dev } = setup(4);
  pacer.begin('s', dev, 1, clock.now());
  pacer.pushFrames('s', 1, frames(50));
  await clock.advance(600);
  const before = dev.audioTimes().length;
  clock.stall(70);
  await clock.advance(0);
  const burst = dev.audioTimes().length - before;
  assert.ok(burst <= 2, `sent ${burst} frames on waking (the lead covers the stall)`);
  await clock.advance(5000);
  assert.equal(dev.audioTimes().length, 50);
  assert.equal(dev.underruns, 0);
  assert.equal(dev.overflows, 0);
  // never more than lead+1 frames ahead of playout
  let maxAhead = 0;
  const times = dev.audioTimes();
  for (let i = 0; i < times.length; i++) maxAhead = Math.max(maxAhead, (i + 1) * FRAME - (times[i]! - times[0]!) );
  assert.ok(maxAhead <= 5 * FRAME, `ahead ${maxAhead} ms`);
  assert.ok(pacer.stats().latenessMax >= 9, 'the stall shows up as send lateness');
  assert.ok(pacer.stats().latenessP50 < 1, 'the other frames left on time');
  // The window closes: its figures move to lastWindow and a fresh window starts empty.
  const closed = pacer.rotate();
  assert.equal(closed.frames, 50);
  assert.ok(closed.latenessMax >= 9);
  assert.deepEqual([pacer.stats().latenessMax, pacer.stats().lastWindow.frames], [0, 50]);
});

test('a TTS stall drains the device buffer; the schedule resumes without catching up', T, async () => {
  const { clock, pacer, dev } = setup(3);
  pacer.begin('s', dev, 1, clock.now());
  pacer.pushFrames('s', 1, frames(5));
  await clock.advance(1000); // the device played everything and is waiting
  pacer.pushFrames('s', 1, frames(6));
  await clock.advance(0);
  const t = dev.audioTimes();
  assert.deepEqual(t.slice(5, 8), [1000, 1000, 1000], 'a fresh lead, not a burst of everything');
  await clock.advance(1000);
  assert.equal(dev.audioTimes().length, 11);
});

test('subtitles leave with the first frame of their sentence; the end reports playout end', T, async () => {
  const { clock, pacer, dev } = setup(2);
  let end = -1;
  let first = -1;
  pacer.begin('s', dev, 1, clock.now(), { onEnd: (e) => (end = e), onFirstFrame: (f) => (first = f) });
  pacer.pushText('s', 1, 'one');
  await clock.advance(100);
  assert.equal(dev.sent.length, 0, 'a subtitle waits for its audio');
  pacer.pushFrames('s', 1, frames(4));
  pacer.pushText('s', 1, 'two');
  pacer.pushFrames('s', 1, frames(4));
  pacer.end('s', 1);
  await clock.advance(2000);
  const kinds = dev.sent.map((s) => (s.kind === 'text' ? s.text : 'f'));
  assert.deepEqual(kinds, ['one', 'f', 'f', 'f', 'f', 'two', 'f', 'f', 'f', 'f']);
  const twoAt = dev.sent.find((s) => s.text === 'two')!.at;
  assert.equal(twoAt, dev.audioTimes()[4], 'sentence two shows as its first frame leaves');
  assert.equal(first, 100);
  assert.equal(end, dev.bufferEnd, 'playout end = when the last frame will have played');
});

test('cancel stops a stream at once; frames of another turn are ignored', T, async () => {
  const { clock, pacer, dev } = setup(4);
  pacer.begin('s', dev, 1, clock.now());
  pacer.pushFrames('s', 1, frames(30));
  await clock.advance(300);
  const n = dev.audioTimes().length;
  pacer.cancel('s');
  pacer.pushFrames('s', 1, frames(5));
  await clock.advance(2000);
  assert.equal(dev.audioTimes().length, n);
  pacer.begin('s', dev, 2, clock.now());
  pacer.pushFrames('s', 1, frames(3));
  await clock.advance(500);
  assert.equal(dev.audioTimes().length, n, 'old-turn frames never sent');
  pacer.pushFrames('s', 2, frames(3));
  await clock.advance(500);
  assert.equal(dev.audioTimes().length, n + 3);
});

test('many sessions share one timer and each keeps real time', T, async () => {
  const { clock, pacer } = setup(4);
  const devs = Array.from({ length: 200 }, () => new DeviceModel(clock));
  devs.forEach((d, i) => {
    pacer.begin(`s${i}`, d, 1, clock.now() + (i % 60));
    pacer.pushFrames(`s${i}`, 1, frames(30));
  });
  await clock.advance(3000);
  for (const d of devs) {
    assert.equal(d.audioTimes().length, 30);
    assert.equal(d.underruns, 0);
  }
  assert.equal(pacer.stats().framesSent, 6000);
});
