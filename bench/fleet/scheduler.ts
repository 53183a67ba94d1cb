/**
 * One shared timer for every simulated device. Thousands of devices each sending a frame every
 * 60 ms would mean thousands of Node timers (and setInterval drifts); instead each device owns a
 * few preallocated `Timed` entries, and a binary min-heap keyed by due time decides which one
 * fires next. A single setTimeout is armed for the earliest entry, and each wake-up fires every
 * entry that is due, so devices due in the same millisecond share one wake-up. Scheduling an
 * entry never allocates (the heap array only grows to the number of live entries).
 *
 * Due times are absolute on the monotonic clock (performance.now()), so a device that schedules
 * `epoch + k × 60` never drifts, and the caller can measure its own lateness as `now - due`.
 */

export interface Timed {
  /** Absolute due time, ms on the scheduler clock. Owned by the scheduler while queued. */
  due: number;
  /** Position in the heap, -1 when not queued. Owned by the scheduler. */
  slot: number;
  fire(now: number): void;
}

export interface SchedulerClock {
  now(): number;
}

/** Entries due within this much of now fire in the current wake-up (timers have 1 ms grain). */
const EARLY_MS = 0.5;

export function timed(fire: (now: number) => void): Timed {
  return { due: 0, slot: -1, fire };
}

export class Scheduler {
  readonly #heap: Timed[] = [];
  readonly #clock: SchedulerClock;
  /** When false, nothing is armed: tests drive `runDue` themselves. */
  readonly #realTime: boolean;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Infinity;
  #running = false;
  /** Wake-ups so far (a cheap measure of how well devices were batched). */
  wakeups = 0;

  constructor(opts: { clock?: SchedulerClock; realTime?: boolean } = {}) {
    this.#clock = opts.clock ?? performance;
    this.#realTime = opts.realTime ?? true;
  }

  now(): number {
    return this.#clock.now();
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Queues `t` at absolute time `due`, moving it if it was already queued. */
  at(t: Timed, due: number): void {
    if (t.slot >= 0) this.cancel(t);
    t.due = due;
    t.slot = this.#heap.length;
    this.#heap.push(t);
    this.#up(t.slot);
    if (!this.#running) this.#arm();
  }

  after(t: Timed, ms: number): void {
    this.at(t, this.now() + ms);
  }

  cancel(t: Timed): void {
    const i = t.slot;
    if (i < 0) return;
    const last = this.#heap.pop()!;
    t.slot = -1;
    if (i < this.#heap.length) {
      this.#heap[i] = last;
      last.slot = i;
      this.#down(i);
      this.#up(last.slot);
    }
  }

  /** Fires everything due at `now` (entries may reschedule themselves while this runs). */
  runDue(now = this.now()): number {
    let fired = 0;
    this.#running = true;
    try {
      for (;;) {
        const top = this.#heap[0];
        if (!top || top.due > now + EARLY_MS) break;
        this.cancel(top);
        fired++;
        top.fire(now);
        // A slow callback should not delay what became due meanwhile.
        if ((fired & 63) === 0) now = this.now();
      }
    } finally {
      this.#running = false;
    }
    this.#arm();
    return fired;
  }

  /** Stops the shared timer; queued entries stay queued but never fire. */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  clear(): void {
    for (const t of this.#heap) t.slot = -1;
    this.#heap.length = 0;
    this.stop();
  }

  #arm(): void {
    if (!this.#realTime) return;
    const top = this.#heap[0];
    if (!top) {
      this.stop();
      return;
    }
    if (this.#timer && top.due >= this.#armedFor) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#armedFor = top.due;
    this.#timer = setTimeout(this.#wake, Math.max(0, top.due - this.now()));
  }

  readonly #wake = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.wakeups++;
    this.runDue();
  };

  #up(i: number): void {
    const h = this.#heap;
    const t = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.due <= t.due) break;
      h[i] = parent;
      parent.slot = i;
      i = p;
    }
    h[i] = t;
    t.slot = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const t = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]!.due < h[l]!.due ? r : l;
      const child = h[c]!;
      if (child.due >= t.due) break;
      h[i] = child;
      child.slot = i;
      i = c;
    }
    h[i] = t;
    t.slot = i;
  }
}
