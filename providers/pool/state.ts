/**
 * The pool's shared state behind one small interface, so it can live where limits must hold:
 *
 *   worker thread ── PoolState client ── pools.acquire / pools.release ──▶ main thread
 *                                                                          pools actor
 *   tests, single thread ── LocalPoolState ◀────────────────────────────── (wraps one too)
 *
 * Per provider key (`llm.openai`, `tts.edge`, …) the state holds a circuit breaker, a
 * concurrency quota with a FIFO queue, health-probe results and latency figures. Everything
 * crossing this interface is structured-clone safe (no classes, no functions).
 */
import type { WireError } from '../../runtime/errors.js';

/** Right to run one attempt on one provider. Give it back exactly once with `release`. */
export interface Permit {
  readonly provider: string;
  /** Identifies the lease with the state that granted it. */
  readonly lease: number;
  /** This attempt is the half-open breaker's one trial. */
  readonly trial: boolean;
  /** Time spent queued for it, ms. */
  readonly waitedMs: number;
}

export interface AcquireOptions {
  /** Aborting gives up the wait (or the permit, if it raced in). */
  signal?: AbortSignal | undefined;
  /**
   * Queue when the quota is full (default). A hedge passes false: speculation that would have to
   * wait is not worth starting.
   */
  wait?: boolean | undefined;
  /** Who holds the lease (for logs and for reclaiming leases of a dead thread). */
  holder?: string | undefined;
}

/** How an attempt went, reported together with the release. */
export type Outcome =
  | { readonly kind: 'ok'; readonly firstItemMs?: number | undefined; readonly durationMs: number }
  | { readonly kind: 'failed'; readonly error: WireError; readonly firstItemMs?: number | undefined; readonly durationMs: number }
  /** No verdict on the provider: the caller aborted, the attempt lost a hedge. */
  | { readonly kind: 'cancelled' };

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface ProbeResult {
  readonly provider: string;
  readonly ok: boolean;
  /** Clock time it finished (monotonic ms, see runtime/clock.ts). */
  readonly at: number;
  readonly ms: number;
  readonly error?: WireError | undefined;
}

export interface ProviderSnapshot {
  readonly provider: string;
  readonly breaker: BreakerState;
  readonly consecutiveFailures: number;
  /** While open: ms until a trial may go through (null when not open). */
  readonly retryInMs: number | null;
  readonly inFlight: number;
  /** null = unlimited. */
  readonly maxConcurrency: number | null;
  readonly queued: number;
  readonly maxQueue: number;
  readonly successes: number;
  readonly failures: number;
  /** Requests refused with XZ_ERR_POOL_EXHAUSTED. */
  readonly exhausted: number;
  /** Requests skipped because the breaker was open. */
  readonly skipped: number;
  /** Leases taken back from holders that died or overstayed. */
  readonly reclaimed: number;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | null;
  /** Median time to first item over recent successes, ms. */
  readonly latencyP50Ms: number | null;
  readonly lastProbe: ProbeResult | null;
}

export interface PoolSnapshot {
  /** Clock time of the snapshot (monotonic ms). */
  readonly at: number;
  readonly providers: readonly ProviderSnapshot[];
}

export interface PoolState {
  /**
   * Resolves to a permit, or rejects with XZ_ERR_POOL_CIRCUIT_OPEN (breaker open: skip it),
   * XZ_ERR_POOL_EXHAUSTED (queue full, waited too long, or busy with `wait: false`) or the
   * signal's abort error.
   */
  acquire(provider: string, opts?: AcquireOptions): Promise<Permit>;
  /** Returns the permit and reports the attempt's outcome (one message). Releasing twice is harmless. */
  release(permit: Permit, outcome: Outcome): void;
  /** Reports a verdict on work that held no permit; it never counts as a half-open trial. */
  report(provider: string, outcome: Outcome): void;
  snapshot(): Promise<PoolSnapshot>;
}

export interface BreakerPolicy {
  /** Consecutive failures that open the breaker. */
  readonly failures: number;
  /** How long an open breaker skips the provider before one trial, ms. */
  readonly cooldownMs: number;
  /** Optional: also open when this share of verdicts in the window failed. */
  readonly rate?: { readonly threshold: number; readonly windowMs: number; readonly minCalls: number } | undefined;
}

export interface ProviderPolicy {
  /** Most attempts in flight at once, process-wide (Infinity = no limit). */
  readonly maxConcurrency: number;
  /** Most requests waiting for a permit; past it they are refused at once. */
  readonly maxQueue: number;
  /** Longest wait for a permit, ms. */
  readonly queueTimeoutMs: number;
  readonly breaker: BreakerPolicy;
  /** How often the probe runs while the breaker is open or half-open, ms (0 = never). */
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
}

export const DEFAULT_POLICY: ProviderPolicy = Object.freeze({
  maxConcurrency: Infinity,
  maxQueue: 64,
  queueTimeoutMs: 5_000,
  breaker: Object.freeze({ failures: 5, cooldownMs: 30_000 }),
  probeIntervalMs: 10_000,
  probeTimeoutMs: 5_000,
});

/** A partial policy as config gives it; missing fields come from the defaults. */
export interface PolicyInput {
  maxConcurrency?: number | null | undefined;
  maxQueue?: number | undefined;
  queueTimeoutMs?: number | undefined;
  breaker?: Partial<BreakerPolicy> | undefined;
  probeIntervalMs?: number | undefined;
  probeTimeoutMs?: number | undefined;
}

export function resolvePolicy(p: PolicyInput = {}, base: ProviderPolicy = DEFAULT_POLICY): ProviderPolicy {
  // 0 or null concurrency means "no limit" in config, which reads better than a huge number.
  const max = p.maxConcurrency === null || p.maxConcurrency === 0 ? Infinity : (p.maxConcurrency ?? base.maxConcurrency);
  return {
    maxConcurrency: max,
    maxQueue: p.maxQueue ?? base.maxQueue,
    queueTimeoutMs: p.queueTimeoutMs ?? base.queueTimeoutMs,
    breaker: { ...base.breaker, ...p.breaker },
    probeIntervalMs: p.probeIntervalMs ?? base.probeIntervalMs,
    probeTimeoutMs: p.probeTimeoutMs ?? base.probeTimeoutMs,
  };
}

/** A health check: resolves when the provider is reachable and answering. */
export type Probe = (signal: AbortSignal) => Promise<void>;
