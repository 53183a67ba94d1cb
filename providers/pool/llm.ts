/**
 * A language model that is a pool: the same contract, served by a chain of providers with
 * failover, breakers, quotas and an optional hedge (see run.ts). Build it once per worker from
 * provider instances built once per worker — never a provider per request.
 */
import { realClock, type Clock } from '../../runtime/clock.js';
import type { LlmDelta, LlmProvider, LlmRequest } from '../contracts/llm.js';
import { runPooled } from './run.js';
import type { PoolState } from './state.js';

export interface PoolMember<P> {
  /** The key the pool state knows it by; default `<stage>.<provider.id>`. */
  readonly key?: string;
  readonly provider: P;
}

export interface PooledOptions<P> {
  /** Id of the pooled provider itself (the chain's name). */
  readonly id: string;
  /** In order of preference; a bare provider means `{ provider }`. */
  readonly chain: readonly (P | PoolMember<P>)[];
  readonly state: PoolState;
  readonly clock?: Clock;
  readonly hedgeMs?: number | undefined;
  /** Who holds the leases (an actor address), for logs. */
  readonly holder?: string | undefined;
}

/** Normalises a chain to `[key, provider]` pairs, refusing two members with one key. */
export function members<P extends { readonly id: string }>(stage: string, chain: readonly (P | PoolMember<P>)[]): Map<string, P> {
  const out = new Map<string, P>();
  for (const m of chain) {
    const member: PoolMember<P> = 'provider' in m && typeof (m as PoolMember<P>).provider === 'object' ? (m as PoolMember<P>) : { provider: m as P };
    const key = member.key ?? `${stage}.${member.provider.id}`;
    if (out.has(key)) throw new TypeError(`pool chain lists ${key} twice`);
    out.set(key, member.provider);
  }
  return out;
}

export function pooledLlm(o: PooledOptions<LlmProvider>): LlmProvider {
  const byKey = members('llm', o.chain);
  const chain = [...byKey.keys()];
  const first = byKey.get(chain[0] ?? '');
  const clock = o.clock ?? realClock;
  return {
    id: o.id,
    // The primary's capabilities: a fallback that cannot do tools still answers in text.
    caps: first?.caps ?? { tools: false, vision: false, maxContextTokens: 0 },
    stream(req: LlmRequest): AsyncIterable<LlmDelta> {
      return runPooled<LlmDelta>({
        chain,
        state: o.state,
        clock,
        signal: req.signal,
        hedgeMs: o.hedgeMs,
        holder: o.holder,
        start: (key, signal) => byKey.get(key)!.stream({ ...req, signal }),
      });
    },
    // No close: the pool does not own its members; whoever built them closes them.
  };
}
