/**
 * Opens the store named by config `store.type`. Implementations load on demand, so a process
 * using the memory store never loads LMDB's native addon (nor, later, a Redis client).
 */
import { XzError } from '../../runtime/errors.js';
import { ST } from './errors.js';
import type { Store, StoreConfig, StoreDeps } from './contract.js';

type Opener = (cfg: StoreConfig, deps: StoreDeps) => Promise<Store>;

function sweepInterval(cfg: StoreConfig): number | undefined {
  const v = cfg.sweep_interval_ms;
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new XzError(ST.XZ_ERR_STORE_BAD_VALUE, 'store.sweep_interval_ms must be a number >= 0');
  }
  return v;
}

const openers: Readonly<Record<string, Opener>> = {
  lmdb: async (cfg, deps) => {
    const { openLmdbStore } = await import('./lmdb/store.js');
    return openLmdbStore({ path: cfg.path ?? './data', now: deps.now, sweepIntervalMs: sweepInterval(cfg) });
  },
  memory: async (cfg, deps) => {
    const { MemoryStore } = await import('./memory.js');
    const every = sweepInterval(cfg);
    return new MemoryStore({ ...deps, ...(every === undefined ? {} : { sweepIntervalMs: every }) });
  },
};

export const storeTypes: readonly string[] = Object.keys(openers);

export async function openStore(cfg: StoreConfig, deps: StoreDeps = {}): Promise<Store> {
  const opener = Object.hasOwn(openers, cfg.type) ? openers[cfg.type] : undefined;
  if (!opener) {
    throw new XzError(ST.XZ_ERR_STORE_UNKNOWN_TYPE, `unknown store type ${JSON.stringify(cfg.type)}; known: ${storeTypes.join(', ')}`, {
      details: { type: cfg.type, known: [...storeTypes] },
    });
  }
  return opener(cfg, deps);
}

export { ST } from './errors.js';
export { UNCHANGED } from './contract.js';
export type {
  Entry,
  Namespace,
  PutOptions,
  RangeOptions,
  Store,
  StoreCapabilities,
  StoreConfig,
  StoreDeps,
  Unchanged,
  Updater,
} from './contract.js';
