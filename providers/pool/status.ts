/**
 * The JSON behind `/status/providers` and the pool's log lines: per provider, its breaker, load
 * and recent health, with times turned into ages (the state's clock is monotonic, not wall time).
 */
import type { PoolSnapshot, PoolState, ProviderSnapshot } from './state.js';

export interface ProviderStatus {
  readonly provider: string;
  readonly breaker: ProviderSnapshot['breaker'];
  readonly healthy: boolean;
  readonly consecutiveFailures: number;
  readonly retryInMs: number | null;
  readonly inFlight: number;
  readonly maxConcurrency: number | null;
  readonly queued: number;
  readonly maxQueue: number;
  readonly successes: number;
  readonly failures: number;
  readonly exhausted: number;
  readonly skipped: number;
  readonly reclaimed: number;
  readonly lastError: { readonly code: string; readonly message: string; readonly agoMs: number } | null;
  readonly latencyP50Ms: number | null;
  readonly lastProbe: { readonly ok: boolean; readonly ms: number; readonly agoMs: number; readonly error: string | null } | null;
}

export interface ProvidersStatus {
  readonly generatedAt: string;
  readonly providers: readonly ProviderStatus[];
}

export function statusFromSnapshot(s: PoolSnapshot, now: Date = new Date()): ProvidersStatus {
  const ago = (at: number) => Math.max(0, Math.round(s.at - at));
  return {
    generatedAt: now.toISOString(),
    providers: s.providers.map((p) => ({
      provider: p.provider,
      breaker: p.breaker,
      healthy: p.breaker === 'closed',
      consecutiveFailures: p.consecutiveFailures,
      retryInMs: p.retryInMs === null ? null : Math.round(p.retryInMs),
      inFlight: p.inFlight,
      maxConcurrency: p.maxConcurrency,
      queued: p.queued,
      maxQueue: p.maxQueue,
      successes: p.successes,
      failures: p.failures,
      exhausted: p.exhausted,
      skipped: p.skipped,
      reclaimed: p.reclaimed,
      lastError: p.lastError ? { code: p.lastError.code, message: p.lastError.message, agoMs: ago(p.lastError.at) } : null,
      latencyP50Ms: p.latencyP50Ms === null ? null : Math.round(p.latencyP50Ms * 10) / 10,
      lastProbe: p.lastProbe
        ? { ok: p.lastProbe.ok, ms: Math.round(p.lastProbe.ms), agoMs: ago(p.lastProbe.at), error: p.lastProbe.error?.code ?? null }
        : null,
    })),
  };
}

/** What the status route serves: the current state of every provider the pool has seen. */
export async function providersStatus(state: Pick<PoolState, 'snapshot'>): Promise<ProvidersStatus> {
  return statusFromSnapshot(await state.snapshot());
}
