/**
 * A frame ring in shared memory: one producer thread, one consumer thread, fixed-size slots,
 * no postMessage on the hot path.
 *
 *   SharedArrayBuffer
 *   ├─ Int32 header
 *   │    [0]  write counter   (producer stores, consumer loads)
 *   │    [16] read counter    (consumer stores, producer loads)
 *   │    [32] magic  [33] slots  [34] slotBytes  [35] closed
 *   │    [36] consumers waiting for data  [37] producers waiting for space
 *   │    [48 …48+slots) length of the frame in each slot
 *   └─ data: slots × slotBytes, starting on a 64-byte boundary
 *
 * The two counters sit 64 bytes apart so the producer and the consumer do not bounce one cache
 * line between their cores on every frame.
 *
 * Counters run freely and wrap at 2^32 (int32 arithmetic, `| 0`). The slot of counter c is
 * `c & (slots - 1)`, which stays continuous across the wrap only because 2^32 is a multiple of
 * the slot count: hence slots must be a power of two. The fill level is `(write - read) | 0`,
 * exact across the wrap as long as it never exceeds 2^31, which slots ≤ 2^16 guarantees.
 *
 * Ordering: the producer writes the payload and its length with plain stores, then publishes
 * them with Atomics.store on the write counter; the consumer's Atomics.load of that counter
 * synchronizes with it, so everything written before is visible. The same pairing on the read
 * counter tells the producer a slot has been read and may be overwritten.
 *
 * Waiting uses Atomics.waitAsync, never a blocking wait or a spin, so it is safe on the main
 * thread. Notify is skipped unless the other side announced a waiter: Atomics.notify takes a
 * process-wide lock in V8, a cost the common case (the peer is busy, not sleeping) need not pay.
 * A pending Atomics.waitAsync holds no reference on Node's event loop, and neither does the task
 * that delivers its wake-up, so a thread with nothing else to do could end (or a test runner
 * report "promise still pending") with a wait about to resolve. While any wait is pending the
 * thread therefore holds one shared timer reference: a thread waiting on a ring stays alive until
 * the wait ends, which `close()` forces (an actor that owns a ring closes it in its stop hook).
 */

const W = 0;
const R = 16;
const MAGIC = 32;
const SLOTS = 33;
const SLOT_BYTES = 34;
const CLOSED = 35;
const DATA_WAITERS = 36;
const SPACE_WAITERS = 37;
const LENS = 48;

const MAGIC_VALUE = 0x78_7a_72_31; // "xzr1"
const MAX_SLOTS = 1 << 16;

export type WaitResult = 'ok' | 'timed-out' | 'closed';

export interface RingOptions {
  /** Number of slots, a power of two (see the header comment for why). */
  slots: number;
  /** Largest frame a slot holds. */
  slotBytes: number;
  /**
   * Value both counters start from. Only tests need it: it lets them cross the int32 wrap
   * without pushing 2^32 frames.
   */
  origin?: number;
}

type WaitAsync = (ta: Int32Array, index: number, value: number, timeout?: number) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
// Node 20 has Atomics.waitAsync; the ES2023 lib the project compiles against does not declare it.
const waitAsync: WaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

export class FrameRing {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly slotBytes: number;
  readonly #h: Int32Array;
  readonly #data: Uint8Array<SharedArrayBuffer>;
  readonly #mask: number;

  /** Allocates a ring; hand `ring.buffer` to the other thread, which calls `attach`. */
  static create(opts: RingOptions): FrameRing {
    const { slots, slotBytes } = opts;
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS || (slots & (slots - 1)) !== 0) {
      throw new RangeError(`ring slots must be a power of two between 1 and ${MAX_SLOTS}, got ${slots}`);
    }
    if (!Number.isInteger(slotBytes) || slotBytes < 1) throw new RangeError(`ring slotBytes must be a positive integer, got ${slotBytes}`);
    const dataOffset = dataStart(slots);
    const sab = new SharedArrayBuffer(dataOffset + slots * slotBytes);
    const h = new Int32Array(sab, 0, LENS + slots);
    const origin = (opts.origin ?? 0) | 0;
    h[W] = origin;
    h[R] = origin;
    h[SLOTS] = slots;
    h[SLOT_BYTES] = slotBytes;
    // Written last so an attach racing a half-built header would fail the magic check.
    Atomics.store(h, MAGIC, MAGIC_VALUE);
    return new FrameRing(sab);
  }

  /** Opens a ring another thread created. */
  static attach(sab: SharedArrayBuffer): FrameRing {
    if (!(sab instanceof SharedArrayBuffer)) throw new TypeError('FrameRing.attach needs a SharedArrayBuffer');
    return new FrameRing(sab);
  }

  private constructor(sab: SharedArrayBuffer) {
    if (sab.byteLength < LENS * 4) throw new RangeError('buffer too small to be a frame ring');
    const head = new Int32Array(sab, 0, LENS);
    if (Atomics.load(head, MAGIC) !== MAGIC_VALUE) throw new TypeError('buffer is not a frame ring');
    const slots = head[SLOTS]!;
    const slotBytes = head[SLOT_BYTES]!;
    const dataOffset = dataStart(slots);
    if (sab.byteLength < dataOffset + slots * slotBytes) throw new RangeError('frame ring buffer is truncated');
    this.buffer = sab;
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.#mask = slots - 1;
    this.#h = new Int32Array(sab, 0, LENS + slots);
    this.#data = new Uint8Array(sab, dataOffset, slots * slotBytes);
  }

  /** Frames waiting to be read. */
  get size(): number {
    return (Atomics.load(this.#h, W) - Atomics.load(this.#h, R)) | 0;
  }

  get closed(): boolean {
    return Atomics.load(this.#h, CLOSED) !== 0;
  }

  // ── producer side ───────────────────────────────────────────────────────────────────────

  /** Copies a frame in; false when every slot is taken. Throws once the ring is closed. */
  push(frame: Uint8Array): boolean {
    const len = frame.byteLength;
    if (len > this.slotBytes) throw new RangeError(`frame of ${len} bytes exceeds the ring's ${this.slotBytes}-byte slots`);
    const h = this.#h;
    if (Atomics.load(h, CLOSED) !== 0) throw new Error('frame ring is closed');
    const w = Atomics.load(h, W);
    if (((w - Atomics.load(h, R)) | 0) >= this.slots) return false;
    const i = w & this.#mask;
    this.#data.set(frame, i * this.slotBytes);
    h[LENS + i] = len;
    Atomics.store(h, W, (w + 1) | 0);
    if (Atomics.load(h, DATA_WAITERS) !== 0) Atomics.notify(h, W);
    return true;
  }

  /** Resolves once a slot is free ('ok'), the ring is closed, or the timeout passed. */
  waitForSpace(timeoutMs = Infinity): Promise<WaitResult> {
    return this.#wait(R, SPACE_WAITERS, () => {
      const r = Atomics.load(this.#h, R);
      return ((Atomics.load(this.#h, W) - r) | 0) < this.slots ? null : r;
    }, timeoutMs);
  }

  // ── consumer side ───────────────────────────────────────────────────────────────────────

  /** The oldest frame as a fresh copy (transferable), or null when empty. */
  shift(): Uint8Array<ArrayBuffer> | null {
    const h = this.#h;
    const r = Atomics.load(h, R);
    if (Atomics.load(h, W) === r) return null;
    const i = r & this.#mask;
    const off = i * this.slotBytes;
    const out = this.#data.slice(off, off + h[LENS + i]!);
    this.#release(r);
    return out;
  }

  /**
   * Copies the oldest frame into `target` without allocating; returns its length, or -1 when
   * empty. A target too small for the frame throws RangeError and leaves the frame queued.
   */
  shiftInto(target: Uint8Array): number {
    const h = this.#h;
    const r = Atomics.load(h, R);
    if (Atomics.load(h, W) === r) return -1;
    const i = r & this.#mask;
    const len = h[LENS + i]!;
    if (len > target.byteLength) throw new RangeError(`frame of ${len} bytes does not fit a ${target.byteLength}-byte target`);
    const off = i * this.slotBytes;
    target.set(this.#data.subarray(off, off + len));
    this.#release(r);
    return len;
  }

  /**
   * Resolves 'ok' once a frame is waiting, 'closed' when the ring is closed and drained, or
   * 'timed-out'. Frames pushed before close can still be read.
   */
  waitForData(timeoutMs = Infinity): Promise<WaitResult> {
    return this.#wait(W, DATA_WAITERS, () => {
      const r = Atomics.load(this.#h, R);
      return Atomics.load(this.#h, W) !== r ? null : r;
    }, timeoutMs);
  }

  /** Tells both sides to stop: pushes throw, waits resolve 'closed' once nothing is left. */
  close(): void {
    Atomics.store(this.#h, CLOSED, 1);
    Atomics.notify(this.#h, W);
    Atomics.notify(this.#h, R);
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────

  #release(r: number): void {
    const h = this.#h;
    Atomics.store(h, R, (r + 1) | 0);
    if (Atomics.load(h, SPACE_WAITERS) !== 0) Atomics.notify(h, R);
  }

  /**
   * Waits on counter `index` while `blocked()` returns the value it must still hold (null once
   * the condition is met). The waiter count is raised before the condition is re-checked: with
   * sequentially consistent atomics, either the peer sees the count and notifies, or we see its
   * new counter value and do not sleep.
   */
  async #wait(index: number, waiters: number, blocked: () => number | null, timeoutMs: number): Promise<WaitResult> {
    const h = this.#h;
    if (blocked() === null) return 'ok';
    if (Atomics.load(h, CLOSED) !== 0) return 'closed';
    if (timeoutMs <= 0) return 'timed-out';
    const finite = Number.isFinite(timeoutMs);
    const deadline = finite ? performance.now() + timeoutMs : Infinity;
    holdLoop();
    Atomics.add(h, waiters, 1);
    try {
      for (;;) {
        const expect = blocked();
        if (expect === null) return 'ok';
        if (Atomics.load(h, CLOSED) !== 0) return 'closed';
        const left = deadline - performance.now();
        if (left <= 0) return 'timed-out';
        const res = waitAsync(h, index, expect, finite ? left : undefined);
        if (res.async) await res.value;
        // Woken, timed out or the value moved on: the loop re-reads the truth.
      }
    } finally {
      Atomics.sub(h, waiters, 1);
      releaseLoop();
    }
  }
}

function dataStart(slots: number): number {
  return Math.ceil(((LENS + slots) * 4) / 64) * 64;
}

// One timer per thread, ref'd only while some wait is pending: cheaper than a timer per wait.
let waiting = 0;
let loopHold: ReturnType<typeof setInterval> | undefined;

function holdLoop(): void {
  if (waiting++ > 0) return;
  if (loopHold) loopHold.ref();
  else loopHold = setInterval(noop, 1 << 30);
}

function releaseLoop(): void {
  if (--waiting === 0) loopHold?.unref();
}

function noop(): void {}
