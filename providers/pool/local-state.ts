/**
 * The pool state itself, in one thread: breakers, quotas with FIFO queues, leases, probes and
 * figures per provider. The main thread's `pools` actor wraps one so every worker shares it;
 * tests and single-thread tools use it directly.
 *
 *   request(provider) ─▶ breaker.admit ─skip──▶ XZ_ERR_POOL_CIRCUIT_OPEN
 *                            │ pass
 *                            ▼
 *                      in flight < max? ─yes─▶ lease (timer: reclaimed after leaseMs)
 *                            │ no
 *                            ▼
 *                      queue (FIFO, max length, max wait) ─full/timeout─▶ XZ_ERR_POOL_EXHAUSTED
 *
 * `request` takes a callback and answers synchronously when it can, so the actor can reply to
 * an immediate grant in the same message and send only late grants another way.
 */
import { realClock, type Clock, type Timer } from '../../runtime/clock.js';
import { Deque } from '../../runtime/deque.js';
import { E, XzError } from '../../runtime/errors.js';
import { Breaker } from './breaker.js';
import { abortError, circuitOpenError, countsAgainstProvider, exhaustedError, POOL, retryAfterOf, type ExhaustedReason } from './errors.js';
import { LatencyWindow } from './latency.js';
import { runProbe } from './probe.js';
import {
  resolvePolicy,
  type AcquireOptions,
  type BreakerState,
  type Outcome,
  type Permit,
  type PolicyInput,
  type PoolSnapshot,
  type PoolState,
  type Probe,
  type ProbeResult,
  type ProviderPolicy,
  type ProviderSnapshot,
} from './state.js';

export type PoolEvent =
  | { readonly kind: 'breaker'; readonly provider: string; readonly from: BreakerState; readonly to: BreakerState; readonly why: string }
  | { readonly kind: 'exhausted'; readonly provider: string; readonly reason: string; readonly queued: number; readonly waitedMs: number }
  | { readonly kind: 'reclaimed'; readonly provider: string; readonly holder: string; readonly why: string }
  | { readonly kind: 'probe'; readonly result: ProbeResult };

export interface LocalPoolOptions {
  clock?: Clock;
  /** Policies by provider key; providers not listed get `defaults`. */
  providers?: Record<string, PolicyInput>;
  defaults?: PolicyInput;
  probes?: Record<string, Probe>;
  /**
   * A lease not released after this long is taken back (a holder that hung or vanished without
   * a crash report), ms. Longer than any attempt should take; default 10 minutes.
   */
  leaseMs?: number;
  onEvent?: (ev: PoolEvent) => void;
}

export type Grant = (err: XzError | null, permit?: Permit) => void;

interface Waiter {
  readonly holder: string;
  readonly since: number;
  readonly grant: Grant;
  timer: Timer | undefined;
}

interface Lease {
  readonly permit: Permit;
  readonly holder: string;
  readonly timer: Timer;
}

class Entry {
  readonly breaker: Breaker;
  inFlight = 0;
  readonly queue = new Deque<Waiter>();
  readonly latency = new LatencyWindow(64);
  successes = 0;
  failures = 0;
  exhausted = 0;
  skipped = 0;
  reclaimed = 0;
  lastError: { code: string; message: string; at: number } | null = null;
  lastProbe: ProbeResult | null = null;
  probeTimer: Timer | undefined;
  probing = false;

  constructor(
    readonly key: string,
    readonly policy: ProviderPolicy,
    onChange: (from: BreakerState, to: BreakerState, why: string) => void,
  ) {
    this.breaker = new Breaker(policy.breaker, onChange);
  }
}

export class LocalPoolState implements PoolState {
  readonly clock: Clock;
  readonly #opts: LocalPoolOptions;
  readonly #defaults: ProviderPolicy;
  readonly #entries = new Map<string, Entry>();
  readonly #leases = new Map<number, Lease>();
  readonly #probes: Record<string, Probe>;
  readonly #leaseMs: number;
  #nextLease = 1;
  #closed = false;

  constructor(opts: LocalPoolOptions = {}) {
    this.#opts = opts;
    this.clock = opts.clock ?? realClock;
    this.#defaults = resolvePolicy(opts.defaults);
    this.#probes = opts.probes ?? {};
    this.#leaseMs = opts.leaseMs ?? 600_000;
    for (const key of Object.keys(opts.providers ?? {})) this.#entry(key);
  }

  // ── the PoolState contract ──────────────────────────────────────────────────────────────

  acquire(provider: string, opts: AcquireOptions = {}): Promise<Permit> {
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<Permit>((resolve, reject) => {
      let done = false;
      const onAbort = () => {
        if (done) return;
        done = true;
        cancel();
        reject(abortError(signal!));
      };
      const cancel = this.request(provider, { wait: opts.wait, holder: opts.holder }, (err, permit) => {
        if (done) {
          // Granted after the caller gave up: hand it straight back.
          if (permit) this.release(permit, { kind: 'cancelled' });
          return;
        }
        done = true;
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(permit!);
      });
      if (!done) signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  release(permit: Permit, outcome: Outcome): void {
    const lease = this.#leases.get(permit.lease);
    if (!lease) return;
    this.#end(lease, outcome);
  }

  snapshot(): Promise<PoolSnapshot> {
    return Promise.resolve(this.snapshotNow());
  }

  /** A verdict from work that held no permit; it never counts as a half-open trial. */
  report(provider: string, outcome: Outcome): void {
    this.#verdict(this.#entry(provider), false, outcome);
  }

  // ── lower level, for the actor ──────────────────────────────────────────────────────────

  /**
   * Asks for a permit. `grant` is called exactly once unless the returned cancel function runs
   * first, and synchronously when the answer is immediate.
   */
  request(provider: string, opts: { wait?: boolean | undefined; holder?: string | undefined }, grant: Grant): () => void {
    if (this.#closed) {
      grant(new XzError(POOL.XZ_ERR_POOL_DETACHED, 'pool state closed'));
      return noop;
    }
    const e = this.#entry(provider);
    const now = this.clock.now();
    const holder = opts.holder ?? '';
    const adm = e.breaker.admit(now);
    if (!adm.pass) {
      e.skipped++;
      grant(this.#openError(e, adm.retryInMs));
      return noop;
    }
    if (e.inFlight < e.policy.maxConcurrency) {
      grant(null, this.#lease(e, holder, adm.trial, 0));
      return noop;
    }
    // A trial that would have to queue is no trial: let the next caller try once a permit frees.
    e.breaker.untrial(adm.trial);
    if (opts.wait === false || adm.trial) {
      grant(this.#exhausted(e, 'busy', 0));
      return noop;
    }
    if (e.queue.length >= e.policy.maxQueue) {
      grant(this.#exhausted(e, 'queue-full', 0));
      return noop;
    }
    const w: Waiter = { holder, since: now, grant, timer: undefined };
    w.timer = this.clock.setTimer(e.policy.queueTimeoutMs, () => {
      if (e.queue.removeWhere((x) => x === w).length === 0) return;
      w.grant(this.#exhausted(e, 'queue-timeout', this.clock.now() - w.since));
    });
    e.queue.push(w);
    return () => {
      if (e.queue.removeWhere((x) => x === w).length > 0) w.timer?.cancel();
    };
  }

  /** Takes back every lease of a holder that died (its thread crashed); returns how many. */
  reclaim(pred: (holder: string) => boolean, why: string): number {
    let n = 0;
    for (const lease of [...this.#leases.values()]) {
      if (!pred(lease.holder)) continue;
      n++;
      this.#entry(lease.permit.provider).reclaimed++;
      this.#opts.onEvent?.({ kind: 'reclaimed', provider: lease.permit.provider, holder: lease.holder, why });
      this.#end(lease, { kind: 'cancelled' });
    }
    for (const e of this.#entries.values()) {
      for (const w of e.queue.removeWhere((x) => pred(x.holder))) {
        w.timer?.cancel();
        w.grant(new XzError(E.XZ_ERR_ABORTED, `waiter ${w.holder} went away`));
      }
    }
    return n;
  }

  /** Runs the probes now (all, or one provider's), for the status route. */
  async probe(provider?: string): Promise<ProbeResult[]> {
    const keys = provider === undefined ? Object.keys(this.#probes) : [provider];
    return Promise.all(keys.map((k) => this.#runProbe(this.#entry(k))));
  }

  snapshotNow(): PoolSnapshot {
    const now = this.clock.now();
    const providers: ProviderSnapshot[] = [];
    for (const e of this.#entries.values()) {
      providers.push({
        provider: e.key,
        breaker: e.breaker.state,
        consecutiveFailures: e.breaker.consecutiveFailures,
        retryInMs: e.breaker.retryInMs(now),
        inFlight: e.inFlight,
        maxConcurrency: Number.isFinite(e.policy.maxConcurrency) ? e.policy.maxConcurrency : null,
        queued: e.queue.length,
        maxQueue: e.policy.maxQueue,
        successes: e.successes,
        failures: e.failures,
        exhausted: e.exhausted,
        skipped: e.skipped,
        reclaimed: e.reclaimed,
        lastError: e.lastError,
        latencyP50Ms: e.latency.p50(),
        lastProbe: e.lastProbe,
      });
    }
    return { at: now, providers };
  }

  /** Stops timers and refuses everything still waiting. */
  close(): void {
    this.#closed = true;
    for (const e of this.#entries.values()) {
      e.probeTimer?.cancel();
      for (const w of e.queue.removeWhere(() => true)) {
        w.timer?.cancel();
        w.grant(new XzError(POOL.XZ_ERR_POOL_DETACHED, 'pool state closed'));
      }
    }
    for (const l of this.#leases.values()) l.timer.cancel();
    this.#leases.clear();
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────

  #entry(key: string): Entry {
    let e = this.#entries.get(key);
    if (!e) {
      const policy = resolvePolicy(this.#opts.providers?.[key], this.#defaults);
      const entry: Entry = new Entry(key, policy, (from, to, why) => this.#changed(entry, from, to, why));
      e = entry;
      this.#entries.set(key, e);
    }
    return e;
  }

  #lease(e: Entry, holder: string, trial: boolean, waitedMs: number): Permit {
    const permit: Permit = { provider: e.key, lease: this.#nextLease++, trial, waitedMs };
    e.inFlight++;
    const timer = this.clock.setTimer(this.#leaseMs, () => {
      const l = this.#leases.get(permit.lease);
      if (!l) return;
      e.reclaimed++;
      this.#opts.onEvent?.({ kind: 'reclaimed', provider: e.key, holder, why: `lease older than ${this.#leaseMs} ms` });
      this.#end(l, { kind: 'cancelled' });
    });
    this.#leases.set(permit.lease, { permit, holder, timer });
    return permit;
  }

  #end(lease: Lease, outcome: Outcome): void {
    this.#leases.delete(lease.permit.lease);
    lease.timer.cancel();
    const e = this.#entry(lease.permit.provider);
    e.inFlight--;
    this.#verdict(e, lease.permit.trial, outcome);
    this.#pump(e);
  }

  #verdict(e: Entry, trial: boolean, outcome: Outcome): void {
    const now = this.clock.now();
    switch (outcome.kind) {
      case 'ok':
        e.successes++;
        e.latency.add(outcome.firstItemMs ?? outcome.durationMs);
        e.breaker.success(now, trial);
        return;
      case 'failed': {
        const err = outcome.error;
        e.lastError = { code: err.code, message: err.message, at: now };
        if (!countsAgainstProvider(err)) {
          e.breaker.untrial(trial);
          return;
        }
        e.failures++;
        e.breaker.failure(now, trial, retryAfterOf(err));
        return;
      }
      case 'cancelled':
        e.breaker.untrial(trial);
        return;
    }
  }

  /** Hands freed permits to the queue's head, oldest first. */
  #pump(e: Entry): void {
    while (e.queue.length > 0 && e.inFlight < e.policy.maxConcurrency) {
      const adm = e.breaker.admit(this.clock.now());
      if (!adm.pass) return; // the breaker opened: #changed already refused the queue
      const w = e.queue.shift()!;
      w.timer?.cancel();
      w.grant(null, this.#lease(e, w.holder, adm.trial, this.clock.now() - w.since));
    }
  }

  #changed(e: Entry, from: BreakerState, to: BreakerState, why: string): void {
    this.#opts.onEvent?.({ kind: 'breaker', provider: e.key, from, to, why });
    if (to === 'open') {
      // Waiting behind an open breaker helps nobody: let them fail over now.
      const err = this.#openError(e, e.breaker.retryInMs(this.clock.now()) ?? 0);
      for (const w of e.queue.removeWhere(() => true)) {
        w.timer?.cancel();
        w.grant(err);
      }
      this.#scheduleProbe(e);
    } else if (to === 'closed') {
      e.probeTimer?.cancel();
      e.probeTimer = undefined;
    }
  }

  #scheduleProbe(e: Entry): void {
    if (!this.#probes[e.key] || e.policy.probeIntervalMs <= 0 || e.probeTimer || this.#closed) return;
    e.probeTimer = this.clock.setTimer(e.policy.probeIntervalMs, () => {
      e.probeTimer = undefined;
      void this.#runProbe(e).then(() => {
        if (e.breaker.state !== 'closed') this.#scheduleProbe(e);
      });
    });
  }

  async #runProbe(e: Entry): Promise<ProbeResult> {
    const result = await runProbe(e.key, this.#probes[e.key], e.policy.probeTimeoutMs, this.clock);
    e.lastProbe = result;
    e.breaker.probed(result.at, result.ok);
    this.#opts.onEvent?.({ kind: 'probe', result });
    return result;
  }

  #openError(e: Entry, retryInMs: number): XzError {
    return circuitOpenError(e.key, retryInMs, e.lastError?.code);
  }

  #exhausted(e: Entry, reason: ExhaustedReason, waitedMs: number): XzError {
    e.exhausted++;
    const queued = e.queue.length;
    this.#opts.onEvent?.({ kind: 'exhausted', provider: e.key, reason, queued, waitedMs });
    return exhaustedError(e.key, reason, { inFlight: e.inFlight, maxConcurrency: e.policy.maxConcurrency, queued, maxQueue: e.policy.maxQueue, waitedMs });
  }
}

function noop(): void {}
