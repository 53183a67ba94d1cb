/**
 * A bounded mailbox that runs one message at a time to completion.
 *
 *   put ──▶ [stale? expired?] ──▶ system queue ─┐
 *                                                ├─▶ handler (awaited before the next message)
 *           [full? → overflow policy] data queue ┘    system first, then data in arrival order
 *
 * Capacity bounds the `data` queue, and the declared overflow policy decides what happens when
 * it is full:
 *   - `block`: the producer waits (put returns a promise) until there is room;
 *   - `drop-oldest`: the oldest queued data message is dropped to make room (fresh audio beats
 *     stale audio, a new partial transcript beats an old one);
 *   - `fail`: the new message is refused with XZ_ERR_MAILBOX_FULL.
 * `system` messages have their own, larger bound and are never dropped for `data`.
 * Anything dropped that was a request is answered with the reason, so no caller hangs.
 */
import type { Clock } from './clock.js';
import { Deque } from './deque.js';
import type { Envelope, TurnTable } from './envelope.js';
import { E, XzError } from './errors.js';

export type OverflowPolicy = 'block' | 'drop-oldest' | 'fail';

export interface MailboxOptions {
  /** Most `data` messages that may wait; default 1024. */
  capacity?: number;
  overflow?: OverflowPolicy;
  /** Most `system` messages that may wait; default 4096. Past it they fail. */
  systemCapacity?: number;
}

/** A queued message plus how to answer it, when it is a request. */
export interface Delivery {
  env: Envelope;
  /** Set for requests: settles the caller's promise. Called at most once. */
  settle?: ((err: XzError | null, value?: unknown) => void) | undefined;
  /** Set by the host for requests so the handler can see cancellation. */
  signal?: AbortSignal | undefined;
  enqueuedAt?: number;
}

export interface MailboxStats {
  depth: number;
  systemDepth: number;
  waiting: number;
  delivered: number;
  droppedStale: number;
  droppedExpired: number;
  droppedOverflow: number;
  droppedCancelled: number;
  refused: number;
  highWater: number;
  /** Longest time a delivered message waited in the queue, ms. */
  maxWaitMs: number;
}

export type Handler = (d: Delivery) => void | Promise<void>;

export class Mailbox {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly systemCapacity: number;

  readonly #clock: Clock;
  readonly #turns: TurnTable;
  readonly #handler: Handler;
  readonly #system = new Deque<Delivery>();
  readonly #data = new Deque<Delivery>();
  readonly #blocked = new Deque<{ d: Delivery; resume: () => void; refuse: (e: XzError) => void }>();
  #running = false;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  readonly #stats: MailboxStats = emptyStats();

  constructor(handler: Handler, clock: Clock, turns: TurnTable, opts: MailboxOptions = {}) {
    this.#handler = handler;
    this.#clock = clock;
    this.#turns = turns;
    this.capacity = opts.capacity ?? 1024;
    this.overflow = opts.overflow ?? 'fail';
    this.systemCapacity = opts.systemCapacity ?? 4096;
    if (!(this.capacity >= 1)) throw new RangeError('mailbox capacity must be at least 1');
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Messages waiting (both lanes, plus producers blocked on a full `block` mailbox). */
  get depth(): number {
    return this.#system.length + this.#data.length + this.#blocked.length;
  }

  /** True while a handler runs or anything waits. */
  get busy(): boolean {
    return this.#running || this.depth > 0;
  }

  stats(): MailboxStats {
    return {
      ...this.#stats,
      depth: this.#data.length,
      systemDepth: this.#system.length,
      waiting: this.#blocked.length,
    };
  }

  /**
   * Queues a delivery. Returns true when queued, false when dropped or refused (a request is
   * answered with the reason), or a promise when the producer must wait (`block` policy).
   */
  put(d: Delivery): boolean | Promise<boolean> {
    if (this.#closed) {
      this.#reject(d, new XzError(E.XZ_ERR_SHUTTING_DOWN, 'mailbox closed'));
      return false;
    }
    const { env } = d;
    if (env.lane === 'data') {
      if (this.#turns.isStale(env)) {
        this.#stats.droppedStale++;
        this.#reject(d, new XzError(E.XZ_ERR_STALE_TURN));
        return false;
      }
      if (this.#turns.bump(env.session, env.turn) && this.#data.length > 0) this.#purgeStale();
    }
    d.enqueuedAt = this.#clock.now();
    if (env.lane === 'system') {
      if (this.#system.length >= this.systemCapacity) {
        this.#stats.refused++;
        this.#reject(d, new XzError(E.XZ_ERR_MAILBOX_FULL, 'system lane full'));
        return false;
      }
      this.#system.push(d);
      this.#schedule();
      return true;
    }
    if (this.#data.length >= this.capacity) {
      this.#purgeStale();
    }
    if (this.#data.length >= this.capacity || (this.overflow === 'block' && this.#blocked.length > 0)) {
      switch (this.overflow) {
        case 'fail':
          this.#stats.refused++;
          this.#reject(d, new XzError(E.XZ_ERR_MAILBOX_FULL, `mailbox full (${this.capacity})`));
          return false;
        case 'drop-oldest': {
          const old = this.#data.shift()!;
          this.#stats.droppedOverflow++;
          this.#reject(old, new XzError(E.XZ_ERR_MAILBOX_FULL, 'dropped for a newer message'));
          break;
        }
        case 'block':
          return new Promise<boolean>((resolve) => {
            this.#blocked.push({
              d,
              resume: () => resolve(true),
              refuse: (e) => {
                this.#reject(d, e);
                resolve(false);
              },
            });
          });
      }
    }
    this.#data.push(d);
    if (this.#data.length > this.#stats.highWater) this.#stats.highWater = this.#data.length;
    this.#schedule();
    return true;
  }

  /** Drops queued data of turns older than the session's current one (after a bump). */
  purgeStale(): number {
    return this.#purgeStale();
  }

  /** Resolves once nothing is queued and no handler runs. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((r) => this.#idleWaiters.push(r));
  }

  /**
   * Stops taking messages. With `drain`, what is queued still runs (in order) before `idle()`
   * resolves; without it, queued messages are refused with XZ_ERR_SHUTTING_DOWN.
   */
  close(drain: boolean): void {
    this.#closed = true;
    if (!drain && this.depth > 0) {
      const err = new XzError(E.XZ_ERR_SHUTTING_DOWN, 'mailbox closed');
      for (const d of this.#system.removeWhere(() => true)) this.#reject(d, err);
      for (const d of this.#data.removeWhere(() => true)) this.#reject(d, err);
      for (const b of this.#blocked.removeWhere(() => true)) b.refuse(err);
    }
    if (!this.busy) this.#wakeIdle();
  }

  #purgeStale(): number {
    const turns = this.#turns;
    const stale = this.#data.removeWhere((d) => turns.isStale(d.env));
    for (const d of stale) this.#reject(d, new XzError(E.XZ_ERR_STALE_TURN));
    this.#stats.droppedStale += stale.length;
    const blockedStale = this.#blocked.removeWhere((b) => turns.isStale(b.d.env));
    for (const b of blockedStale) b.refuse(new XzError(E.XZ_ERR_STALE_TURN));
    this.#stats.droppedStale += blockedStale.length;
    this.#admitBlocked();
    return stale.length + blockedStale.length;
  }

  #admitBlocked(): void {
    while (this.#blocked.length > 0 && this.#data.length < this.capacity) {
      const b = this.#blocked.shift()!;
      this.#data.push(b.d);
      b.resume();
    }
    if (this.#data.length > 0) this.#schedule();
  }

  #schedule(): void {
    if (this.#running) return;
    this.#running = true;
    // A microtask, not a direct call: put() must return before the handler runs, so a handler
    // that sends to itself never recurses.
    queueMicrotask(() => void this.#run());
  }

  async #run(): Promise<void> {
    for (;;) {
      const d = this.#next();
      if (!d) break;
      const waited = this.#clock.now() - (d.enqueuedAt ?? 0);
      if (waited > this.#stats.maxWaitMs) this.#stats.maxWaitMs = waited;
      this.#stats.delivered++;
      try {
        const r = this.#handler(d);
        if (r !== undefined) await r;
      } catch {
        // The host's handler settles requests and reports faults itself; an escape here must
        // not stop the mailbox.
      }
    }
    this.#running = false;
    if (this.depth === 0) this.#wakeIdle();
  }

  #next(): Delivery | undefined {
    const sys = this.#system.shift();
    if (sys) return sys;
    const now = this.#clock.now();
    for (;;) {
      const d = this.#data.shift();
      if (this.#blocked.length > 0) this.#admitBlocked();
      if (!d) return undefined;
      if (this.#turns.isStale(d.env)) {
        this.#stats.droppedStale++;
        this.#reject(d, new XzError(E.XZ_ERR_STALE_TURN));
        continue;
      }
      if (d.signal?.aborted) {
        // The requester gave up (timeout, abort, barge-in) while this waited: nobody wants it.
        this.#stats.droppedCancelled++;
        continue;
      }
      if (d.env.expiresAt !== undefined && d.env.expiresAt < now) {
        this.#stats.droppedExpired++;
        this.#reject(d, new XzError(E.XZ_ERR_REQUEST_TIMEOUT, 'expired before delivery'));
        continue;
      }
      return d;
    }
  }

  #reject(d: Delivery, err: XzError): void {
    d.settle?.(err);
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}

/** Sums the counters of several mailboxes (maxima for the high-water mark and wait). */
export function foldMailboxStats(all: readonly MailboxStats[]): MailboxStats {
  const out = emptyStats();
  for (const s of all) {
    out.depth += s.depth;
    out.systemDepth += s.systemDepth;
    out.waiting += s.waiting;
    out.delivered += s.delivered;
    out.droppedStale += s.droppedStale;
    out.droppedExpired += s.droppedExpired;
    out.droppedOverflow += s.droppedOverflow;
    out.droppedCancelled += s.droppedCancelled;
    out.refused += s.refused;
    out.highWater = Math.max(out.highWater, s.highWater);
    out.maxWaitMs = Math.max(out.maxWaitMs, s.maxWaitMs);
  }
  return out;
}

function emptyStats(): MailboxStats {
  return { depth: 0, systemDepth: 0, waiting: 0, delivered: 0, droppedStale: 0, droppedExpired: 0, droppedOverflow: 0, droppedCancelled: 0, refused: 0, highWater: 0, maxWaitMs: 0 };
}
