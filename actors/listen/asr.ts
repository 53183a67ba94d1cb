/**
 * The ASR providers of a listen worker, created on first use and shared by every session on the
 * thread (a provider may hold connections or helper processes). The factory is a registry module
 * exporting `createAsr(name, config, deps)`: providers/registry by default, or the module a spec
 * names (tests use a fixture provider this way). Loading it lazily keeps workers that never
 * transcribe from importing vendor code.
 *
 * The worker's default ASR comes from the pool data (the pipeline's `asr` chain, its instances,
 * the spawner's address and the hotwords); a session's init may name another or none.
 */
import type { AsrEvent, AsrOptions, AsrProvider, AsrStream } from '../../providers/contracts/asr.js';
import { E, XzError } from '../../runtime/errors.js';
import type { ListenAsrSpec } from './messages.js';
import type { PoolState } from '../../providers/pool/state.js';
import { pooledAsr } from '../../providers/pool/asr.js';
import { realClock } from '../../runtime/clock.js';

type ProviderConfig = ListenAsrSpec['provider'];
type Registry = { createAsr(name: string, config: ProviderConfig, deps: { spawner?: string }): AsrProvider | Promise<AsrProvider> };

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const DEFAULT_REGISTRY = new URL(`../../providers/registry${ext}`, import.meta.url).href;

/** What the listen pool's data says about ASR (actors/boot.ts passes the pipeline's slice). */
export interface WorkerAsrConfig {
  /** `providers.asr` instances named in the chain. */
  asr?: Record<string, ProviderConfig>;
  /** `pipeline.asr`: instance names in order of preference. */
  chain?: readonly string[];
  spawner?: string;
  /** `dialogue.hotwords`: every utterance's ASR hints. */
  hints?: readonly string[];
  /** A registry module other than providers/registry (tests). */
  asrRegistry?: string;
}

let workerDefault: ListenAsrSpec | null = null;

/**
 * Sets the worker's default ASR from the pool data: the first instance of the chain. (Falling
 * back along the chain when a provider fails is a fallback adapter's job, not this module's.)
 */
export function configureWorkerAsr(cfg: WorkerAsrConfig): void {
  const name = cfg.chain?.find((n) => cfg.asr?.[n]);
  const provider = name ? cfg.asr?.[name] : undefined;
  workerDefault = null;
  if (!name || !provider) return;
  const spec: ListenAsrSpec = { name, provider };
  const chain = (cfg.chain ?? []).filter((n) => cfg.asr?.[n]).map((n) => ({ name: n, provider: cfg.asr![n]! }));
  if (chain.length > 1) spec.chain = chain;
  if (cfg.spawner) spec.spawner = cfg.spawner;
  if (cfg.hints && cfg.hints.length > 0) spec.hints = [...cfg.hints];
  if (cfg.asrRegistry) spec.registry = cfg.asrRegistry;
  workerDefault = spec;
}

/** The spec a session uses: its own, none (null), or the worker's default (undefined). */
export function resolveAsr(spec: ListenAsrSpec | null | undefined): ListenAsrSpec | null {
  return spec === undefined ? workerDefault : spec;
}

const providers = new Map<string, Promise<AsrProvider>>();

export function asrProvider(spec: ListenAsrSpec): Promise<AsrProvider> {
  const registry = spec.registry ?? DEFAULT_REGISTRY;
  const name = spec.name ?? spec.provider.type;
  const key = JSON.stringify([registry, name, spec.provider, spec.spawner ?? null]);
  let p = providers.get(key);
  if (!p) {
    p = (async () => {
      const mod = (await import(registry)) as Partial<Registry>;
      if (typeof mod.createAsr !== 'function') throw new Error(`${registry} exports no createAsr()`);
      return mod.createAsr(name, spec.provider, spec.spawner ? { spawner: spec.spawner } : {});
    })();
    // A failed creation is not cached: the next utterance tries again.
    p.catch(() => providers.delete(key));
    providers.set(key, p);
  }
  return p;
}

async function providerFor(spec: ListenAsrSpec, pool: PoolState | undefined): Promise<AsrProvider> {
  if (!spec.chain || !pool) return asrProvider(spec);
  const chain: { key: string; provider: AsrProvider }[] = [];
  for (const c of spec.chain) {
    try {
      chain.push({ key: `asr.${c.name}`, provider: await asrProvider({ ...spec, name: c.name, provider: c.provider }) });
    } catch {
      // An instance whose config is broken is left out; the others still listen.
    }
  }
  if (chain.length === 0) return asrProvider(spec);
  return pooledAsr({ id: 'asr', chain, state: pool, clock: realClock });
}

export async function closeAsrProviders(): Promise<void> {
  const all = [...providers.values()];
  providers.clear();
  workerDefault = null;
  await Promise.allSettled(all.map(async (p) => (await p).close?.()));
}

export type AsrOutcome =
  | { ok: true; text: string; language?: string; asrMs: number }
  | { ok: false; code: string; message: string; asrMs: number };

/**
 * One utterance's ASR stream. Audio written before the provider is ready (its first creation
 * imports vendor code) is held and replayed; `outcome` settles with the final text or a coded
 * failure, never rejects. `asrMs` runs from end() to the final result.
 */
export class UtteranceAsr {
  readonly outcome: Promise<AsrOutcome>;
  readonly #abort = new AbortController();
  #stream: AsrStream | undefined;
  #held: Int16Array[] | undefined = [];
  #ended = false;
  #endedAt = 0;
  #streaming: boolean | undefined;

  /** With `pool` and a chain in the spec, the chain runs behind the pool adapter (failover, breaker, quotas). */
  constructor(spec: ListenAsrSpec, pool?: PoolState) {
    const opened = providerFor(spec, pool).then((provider) => {
      const opts: AsrOptions = { signal: this.#abort.signal };
      if (spec.language) opts.language = spec.language;
      if (spec.hints) opts.hints = spec.hints;
      this.#streaming = provider.caps.streaming;
      const stream = provider.open(opts);
      for (const pcm of this.#held ?? []) stream.write(pcm);
      this.#held = undefined;
      this.#stream = stream;
      if (this.#ended) stream.end();
      return stream;
    });
    this.outcome = opened.then(
      async (stream) => {
        let final: Extract<AsrEvent, { kind: 'final' }> | undefined;
        for await (const ev of stream) if (ev.kind === 'final') final = ev;
        const out: AsrOutcome = { ok: true, text: final?.text ?? '', asrMs: this.#since() };
        if (final?.language) out.language = final.language;
        return out;
      },
    ).catch((e: unknown) => {
      const err = e as { code?: unknown; message?: unknown };
      return { ok: false, code: typeof err?.code === 'string' ? err.code : E.XZ_ERR_INTERNAL, message: String(err?.message ?? e), asrMs: this.#since() };
    });
  }

  /** Whether the provider streams (undefined until it is ready). */
  get streaming(): boolean | undefined {
    return this.#streaming;
  }

  /** performance.now() of end(), or 0. */
  get endedAt(): number {
    return this.#endedAt;
  }

  /** Appends audio; the stream may keep the array. */
  write(pcm: Int16Array): void {
    if (this.#ended || pcm.length === 0) return;
    if (this.#stream) this.#stream.write(pcm);
    else this.#held?.push(pcm);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endedAt = performance.now();
    this.#stream?.end();
  }

  abort(): void {
    this.#abort.abort(new XzError(E.XZ_ERR_ABORTED, 'utterance dropped'));
  }

  #since(): number {
    return this.#endedAt ? performance.now() - this.#endedAt : 0;
  }
}
