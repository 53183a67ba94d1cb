/**
 * Resource pools as adapters: any provider contract, served by a chain of providers with
 * failover, per-provider circuit breakers, health probes, concurrency quotas with queueing and an
 * optional hedge. The state those need (`PoolState`) is one per process: `LocalPoolState` here,
 * owned by the main thread's `pools` actor and reached from workers through its client.
 */
export { runPooled, type RunOptions } from './run.js';
export { pooledLlm, members, type PoolMember, type PooledOptions } from './llm.js';
export { pooledAsr, type PooledAsrOptions } from './asr.js';
export { pooledTts, type PooledTtsOptions } from './tts.js';
export { LocalPoolState, type LocalPoolOptions, type PoolEvent, type Grant } from './local-state.js';
export { Breaker } from './breaker.js';
export { POOL, POOL_INPUT, canFailover, countsAgainstProvider, retryAfterOf } from './errors.js';
export { providersStatus, statusFromSnapshot, type ProvidersStatus, type ProviderStatus } from './status.js';
export {
  DEFAULT_POLICY,
  resolvePolicy,
  type AcquireOptions,
  type BreakerPolicy,
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
