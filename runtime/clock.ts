/**
 * Time as the runtime sees it. Everything that waits (request timeouts, restart backoff, message
 * expiry) asks a Clock, so tests can drive it with `SimClock` instead of sleeping.
 *
 * `now()` is milliseconds on a monotonic scale shared by all threads of the process
 * (`performance.timeOrigin + performance.now()`): each worker has its own `performance.now()`
 * origin, so the raw value is not comparable across threads while this one is.
 */

export interface Timer {
  /** Cancels the timer; calling it twice is harmless. */
  cancel(): void;
}

export interface Clock {
  now(): number;
  /**
   * Calls `fn` after `ms`. Timers do not keep the thread alive unless `keepAlive` is set, which
   * is for waits that are the only thing left to do (a supervisor about to restart a worker).
   */
  setTimer(ms: number, fn: () => void, keepAlive?: boolean): Timer;
  /** Resolves after `ms`; rejects with the signal's reason if aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

class RealClock implements Clock {
  readonly #origin = performance.timeOrigin;

  now(): number {
    return this.#origin + performance.now();
  }

  setTimer(ms: number, fn: () => void, keepAlive = false): Timer {
    const h = setTimeout(fn, Math.max(0, ms));
    if (!keepAlive) h.unref();
    return { cancel: () => clearTimeout(h) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
}

export const realClock: Clock = new RealClock();

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.cancel();
      reject(signal!.reason);
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface SimTimer {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/**
 * A clock that moves only when told to. Timers due at the same instant fire in the order they
 * were set. `advance` lets promise callbacks settle between timers, so code that awaits a sleep
 * and then sets the next timer behaves as it would in real time.
 */
export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: SimTimer[] = [];

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const t: SimTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#timers.push(t);
    return {
      cancel: () => {
        t.live = false;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Number of timers still waiting to fire. */
  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }

  /**
   * Moves time forward without firing anything, as a blocked event loop would: timers that fall
   * due meanwhile fire late, at the next `advance`.
   */
  stall(ms: number): void {
    this.#now += ms;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      const next = this.#nextDue(end);
      if (!next) break;
      // A timer overdue after a stall fires now, not in the past.
      this.#now = Math.max(this.#now, next.at);
      next.live = false;
      next.fn();
    }
    this.#now = end;
    await settle();
  }

  #nextDue(limit: number): SimTimer | undefined {
    this.#timers = this.#timers.filter((t) => t.live);
    let best: SimTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > limit) continue;
      if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Lets queued promise reactions run (several microtask turns plus one macrotask). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await new Promise<void>((r) => setImmediate(r));
}
