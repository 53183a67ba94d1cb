/**
 * Codes the pool raises itself, and the rules that read everyone else's codes: which failures
 * may move a request to the next provider, which ones count against a provider's health, and how
 * long a provider asked us to stay away.
 */
import { defineErrors, fromWire, hasCode, toWire, XzError, E, type WireError } from '../../runtime/errors.js';

export const POOL = defineErrors({
  // Overloaded, not a provider fault: the session can say "busy, try again" and the chain may
  // move on to a provider that has room.
  XZ_ERR_POOL_EXHAUSTED: { category: 'overloaded', retryable: true, message: 'provider concurrency quota exhausted' },
  XZ_ERR_POOL_CIRCUIT_OPEN: { category: 'unavailable', retryable: true, message: 'provider skipped: its circuit breaker is open' },
  XZ_ERR_POOL_EMPTY: { category: 'invalid-request', retryable: false, message: 'the provider chain is empty' },
  XZ_ERR_POOL_DETACHED: { category: 'unavailable', retryable: true, message: 'the pool state owner went away' },
});

/** Categories that say "this provider, now" rather than "this request". */
const FAILOVER = new Set(['connectivity', 'timeout', 'upstream', 'rate-limit']);

/**
 * Categories that say something about the provider's health. Invalid requests are ours,
 * cancellation is the caller's, and `overloaded` is our own queue: none of them trips a breaker.
 */
const UNHEALTHY = new Set(['connectivity', 'timeout', 'upstream', 'rate-limit', 'unavailable', 'auth', 'forbidden', 'quota', 'internal']);

/** Anything thrown, as a coded error (unknown throwables become XZ_ERR_INTERNAL). */
export function coded(e: unknown): XzError {
  if (e instanceof XzError) return e;
  if (hasCode(e)) return fromWire(toWire(e));
  return new XzError(E.XZ_ERR_INTERNAL, e instanceof Error ? e.message : String(e), { cause: e });
}

/** May a failure before the first output item move the request on to the next provider? */
export function canFailover(err: Pick<WireError, 'category' | 'retryable'>): boolean {
  if (err.category === 'cancelled') return false;
  return err.retryable || FAILOVER.has(err.category);
}

export function countsAgainstProvider(err: Pick<WireError, 'category'>): boolean {
  return UNHEALTHY.has(err.category);
}

/** How long the vendor asked us to wait (a 429's retry-after), from the error's details. */
export function retryAfterOf(err: Pick<WireError, 'details'>): number | undefined {
  const d = err.details;
  if (!d) return undefined;
  if (typeof d.retryAfterMs === 'number' && Number.isFinite(d.retryAfterMs) && d.retryAfterMs >= 0) return d.retryAfterMs;
  // Some adapters keep the header's unit (seconds).
  if (typeof d.retryAfter === 'number' && Number.isFinite(d.retryAfter) && d.retryAfter >= 0) return d.retryAfter * 1000;
  return undefined;
}

/** The error the caller sees when its signal aborted: the signal's coded reason, else XZ_ERR_ABORTED. */
export function abortError(signal: AbortSignal): XzError {
  const r: unknown = signal.reason;
  if (hasCode(r)) return coded(r);
  return new XzError(E.XZ_ERR_ABORTED, 'aborted');
}

export const POOL_INPUT = defineErrors({
  // Streaming input (ASR audio, TTS text) is replayed to a provider started late; past the
  // replay limit nothing can be replayed faithfully, so no further provider is started.
  XZ_ERR_POOL_REPLAY_LOST: { category: 'unavailable', retryable: false, message: 'input too long to replay to another provider' },
});

export type ExhaustedReason = 'busy' | 'queue-full' | 'queue-timeout';

/** The error a session speaks or logs when a provider has no room: which, how full, how long. */
export function exhaustedError(
  provider: string,
  reason: ExhaustedReason,
  f: { inFlight: number; maxConcurrency: number; queued: number; maxQueue: number; waitedMs: number },
): XzError {
  const max = Number.isFinite(f.maxConcurrency) ? f.maxConcurrency : null;
  const waited = f.waitedMs > 0 ? ` after ${Math.round(f.waitedMs)} ms` : '';
  return new XzError(POOL.XZ_ERR_POOL_EXHAUSTED, `${provider}: ${f.inFlight}/${max} in flight, ${f.queued} queued (${reason}${waited})`, {
    details: { provider, reason, inFlight: f.inFlight, maxConcurrency: max, queued: f.queued, maxQueue: f.maxQueue, waitedMs: f.waitedMs },
  });
}

export function circuitOpenError(provider: string, retryInMs: number, lastError: string | undefined): XzError {
  return new XzError(POOL.XZ_ERR_POOL_CIRCUIT_OPEN, `${provider}: circuit open, retry in ${Math.ceil(retryInMs)} ms`, {
    details: { provider, retryInMs, lastError },
  });
}
