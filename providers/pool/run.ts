/**
 * The pool's core, written once for every contract: run one logical request along a chain of
 * providers, where each try is "an attempt that yields a stream and can be aborted".
 *
 *   chain [a, b, c] ──acquire a──▶ attempt a ──first item──▶ commit: stream a to the caller
 *                        │             │ fails before output (retryable / connectivity /
 *                        │             │ timeout / upstream / rate-limit)
 *                        │             ▼
 *                        │         acquire b … (circuit open or quota exhausted: next)
 *                        └─ hedge: no first item after hedgeMs ─▶ also start b; the first to
 *                           yield wins, the other is aborted at once
 *
 * Once an item has been handed to the caller, the provider is fixed: a later failure ends the
 * stream with that error (two providers' answers are never spliced). Every permit is released
 * exactly once with the attempt's outcome, which is what feeds the breakers.
 */
import type { Clock, Timer } from '../../runtime/clock.js';
import { E, XzError, toWire } from '../../runtime/errors.js';
import { abortError, canFailover, coded, POOL } from './errors.js';
import type { Outcome, Permit, PoolState } from './state.js';

export interface RunOptions<T> {
  /** Provider keys in order of preference. */
  readonly chain: readonly string[];
  readonly state: PoolState;
  readonly clock: Clock;
  /** The caller's signal: aborting ends everything promptly. */
  readonly signal: AbortSignal;
  /** Start the next provider too when the first item is this late, ms (undefined/0: never). */
  readonly hedgeMs?: number | undefined;
  readonly holder?: string | undefined;
  /** Starts one attempt; its signal aborts when the attempt lost, failed over or was cancelled. */
  start(key: string, signal: AbortSignal): AsyncIterable<T>;
  /** Called once the answering provider is fixed (before its first item is yielded). */
  onCommit?(key: string): void;
  /** How long an aborted attempt may take to wind down before its permit is returned anyway, ms. */
  abortGraceMs?: number | undefined;
}

interface Attempt<T> {
  readonly key: string;
  readonly permit: Permit;
  readonly ctl: AbortController;
  readonly it: AsyncIterator<T>;
  readonly startedAt: number;
  readonly unlink: () => void;
  /** The iterator call in progress, so an aborted attempt's permit waits for it to settle. */
  pending: Promise<unknown> | undefined;
  firstItemMs: number | undefined;
  released: boolean;
}

type Ev<T> =
  | { k: 'acquired'; key: string; permit: Permit; hedge: boolean }
  | { k: 'refused'; key: string; err: XzError; hedge: boolean }
  | { k: 'item'; att: Attempt<T>; value: T }
  | { k: 'empty'; att: Attempt<T> }
  | { k: 'fail'; att: Attempt<T>; err: XzError }
  | { k: 'hedge' }
  | { k: 'abort' };

/** A tiny single-consumer queue of events with an awaitable head. */
class Events<E> {
  #items: E[] = [];
  #wake: (() => void) | undefined;
  push(e: E): void {
    this.#items.push(e);
    this.#wake?.();
    this.#wake = undefined;
  }
  async next(): Promise<E> {
    while (this.#items.length === 0) await new Promise<void>((r) => (this.#wake = r));
    return this.#items.shift()!;
  }
}

export async function* runPooled<T>(o: RunOptions<T>): AsyncGenerator<T, void, undefined> {
  if (o.chain.length === 0) throw new XzError(POOL.XZ_ERR_POOL_EMPTY);
  if (o.signal.aborted) throw abortError(o.signal);
  const { clock, state } = o;
  const grace = o.abortGraceMs ?? 1_000;
  const events = new Events<Ev<T>>();
  const live = new Set<Attempt<T>>();
  const failures: { provider: string; err: XzError }[] = [];
  // Aborted once the answer is fixed or the run ends: cancels waits for permits nobody needs.
  const acquiring = new AbortController();
  let next = 0;
  let pendingAcquires = 0;
  let hedgeTimer: Timer | undefined;
  let hedged = false;
  let winner: Attempt<T> | undefined;
  let finished = false;
  let stopWatching: (() => void) | undefined;
  const onAbort = () => events.push({ k: 'abort' });
  o.signal.addEventListener('abort', onAbort, { once: true });

  const launch = (hedge: boolean): boolean => {
    if (next >= o.chain.length) return false;
    const key = o.chain[next++]!;
    pendingAcquires++;
    state.acquire(key, { signal: acquiring.signal, wait: !hedge, holder: o.holder }).then(
      (permit) => {
        pendingAcquires--;
        if (finished || winner) state.release(permit, { kind: 'cancelled' });
        else events.push({ k: 'acquired', key, permit, hedge });
      },
      (e: unknown) => {
        pendingAcquires--;
        events.push({ k: 'refused', key, err: coded(e), hedge });
      },
    );
    return true;
  };

  const start = (key: string, permit: Permit): void => {
    const ctl = new AbortController();
    const relay = () => ctl.abort(o.signal.reason);
    o.signal.addEventListener('abort', relay, { once: true });
    const unlink = () => o.signal.removeEventListener('abort', relay);
    const startedAt = clock.now();
    let it: AsyncIterator<T>;
    try {
      it = o.start(key, ctl.signal)[Symbol.asyncIterator]();
    } catch (e) {
      // A provider that throws instead of returning a stream failed before its first item.
      unlink();
      const err = coded(e);
      state.release(permit, failed(err, undefined, 0));
      events.push({ k: 'refused', key, err, hedge: false });
      return;
    }
    const att: Attempt<T> = { key, permit, ctl, it, startedAt, unlink, pending: undefined, firstItemMs: undefined, released: false };
    live.add(att);
    const p = it.next();
    att.pending = p;
    p.then(
      (r) => events.push(r.done ? { k: 'empty', att } : { k: 'item', att, value: r.value }),
      (e: unknown) => events.push({ k: 'fail', att, err: coded(e) }),
    );
    // The hedge clock runs from the start of the attempt that is alone in the race, so a quick
    // failover restarts it rather than hedging the new attempt early.
    if (o.hedgeMs && o.hedgeMs > 0 && !hedged && live.size === 1) {
      hedgeTimer?.cancel();
      hedgeTimer = clock.setTimer(o.hedgeMs, () => events.push({ k: 'hedge' }));
    }
  };

  const release = (att: Attempt<T>, outcome: Outcome): void => {
    if (att.released) return;
    att.released = true;
    att.unlink();
    live.delete(att);
    state.release(att.permit, outcome);
  };

  /** Aborts an attempt; its permit goes back once it has wound down (or after the grace). */
  const retire = (att: Attempt<T>, reason: XzError): void => {
    if (att.released) return;
    live.delete(att);
    att.ctl.abort(reason);
    // Let generator-based providers run their finally blocks (close sockets).
    void Promise.resolve()
      .then(() => att.it.return?.())
      .catch(() => {});
    const t = clock.setTimer(grace, () => release(att, { kind: 'cancelled' }));
    void Promise.resolve(att.pending)
      .catch(() => {})
      .then(() => {
        t.cancel();
        release(att, { kind: 'cancelled' });
      });
  };

  const giveUp = (): XzError => {
    // The last real failure says most; skips only say that nothing was tried.
    const real = failures.filter((f) => f.err.code !== POOL.XZ_ERR_POOL_CIRCUIT_OPEN);
    const pick = real.length > 0 ? real : failures;
    const last = pick[pick.length - 1];
    if (!last) return new XzError(POOL.XZ_ERR_POOL_EMPTY);
    if (failures.length === 1) return last.err;
    return new XzError(last.err.code, last.err.message, {
      details: { ...last.err.details, provider: last.provider, attempts: failures.map((f) => ({ provider: f.provider, code: f.err.code, message: f.err.message })) },
      cause: last.err,
    });
  };

  try {
    launch(false);
    // ── before the first item: fail over, hedge ──
    while (!winner) {
      const ev = await events.next();
      switch (ev.k) {
        case 'abort':
          throw abortError(o.signal);
        case 'acquired':
          start(ev.key, ev.permit);
          break;
        case 'refused':
          if (o.signal.aborted) throw abortError(o.signal);
          failures.push({ provider: ev.key, err: ev.err });
          if (live.size > 0 || pendingAcquires > 0) {
            // A refused hedge tries the provider after it, without waiting.
            if (ev.hedge && live.size > 0) launch(true);
            break;
          }
          if (!canFailover(ev.err) || !launch(false)) throw giveUp();
          break;
        case 'hedge':
          hedgeTimer = undefined;
          if (live.size > 0 && launch(true)) hedged = true;
          break;
        case 'fail': {
          const { att, err } = ev;
          att.pending = undefined;
          release(att, err.category === 'cancelled' ? { kind: 'cancelled' } : failed(err, undefined, clock.now() - att.startedAt));
          if (o.signal.aborted) throw abortError(o.signal);
          failures.push({ provider: att.key, err });
          // Others already running may still answer, whatever this failure was.
          if (live.size > 0 || pendingAcquires > 0) break;
          if (!canFailover(err) || !launch(false)) throw giveUp();
          break;
        }
        case 'empty':
        case 'item': {
          const att = ev.att;
          att.pending = undefined;
          att.firstItemMs = clock.now() - att.startedAt;
          winner = att;
          hedgeTimer?.cancel();
          acquiring.abort();
          const lost = new XzError(E.XZ_ERR_ABORTED, `lost to ${att.key}`);
          for (const other of [...live]) if (other !== att) retire(other, lost);
          o.onCommit?.(att.key);
          if (ev.k === 'empty') {
            release(att, { kind: 'ok', firstItemMs: att.firstItemMs, durationMs: att.firstItemMs });
            return;
          }
          yield ev.value;
          break;
        }
      }
    }
    // ── committed: stream the winner to the end ──
    const w: Attempt<T> = winner;
    const aborted = new Promise<never>((_, reject) => {
      stopWatching = () => reject(abortError(o.signal));
      if (o.signal.aborted) stopWatching();
      else o.signal.addEventListener('abort', stopWatching, { once: true });
    });
    aborted.catch(() => {});
    for (;;) {
      let r: IteratorResult<T>;
      try {
        const p = w.it.next();
        w.pending = p;
        r = await Promise.race([p, aborted]);
        w.pending = undefined;
      } catch (e) {
        if (o.signal.aborted) throw abortError(o.signal);
        const err = coded(e);
        w.pending = undefined;
        release(w, failed(err, w.firstItemMs, clock.now() - w.startedAt));
        throw err;
      }
      if (r.done) {
        release(w, { kind: 'ok', firstItemMs: w.firstItemMs, durationMs: clock.now() - w.startedAt });
        return;
      }
      yield r.value;
    }
  } finally {
    finished = true;
    hedgeTimer?.cancel();
    acquiring.abort();
    o.signal.removeEventListener('abort', onAbort);
    if (stopWatching) o.signal.removeEventListener('abort', stopWatching);
    const reason = o.signal.aborted ? abortError(o.signal) : new XzError(E.XZ_ERR_ABORTED, 'pooled stream closed');
    for (const att of [...live]) {
      if (att === winner && !o.signal.aborted) {
        // The caller stopped reading a stream that was working: a success for the provider.
        release(att, { kind: 'ok', firstItemMs: att.firstItemMs, durationMs: clock.now() - att.startedAt });
        att.ctl.abort(reason);
        void Promise.resolve()
          .then(() => att.it.return?.())
          .catch(() => {});
      } else retire(att, reason);
    }
  }
}

function failed(err: XzError, firstItemMs: number | undefined, durationMs: number): Outcome {
  // Only what the breaker and the status need crosses to the state's owner: no stack, no cause.
  const { code, category, retryable, message, details } = toWire(err);
  return { kind: 'failed', error: { code, category, retryable, message, ...(details ? { details } : {}) }, firstItemMs, durationMs };
}
