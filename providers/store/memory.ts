/**
 * A store held in this process's memory: for tests and for `store.type: memory` (nothing survives
 * a restart). It keeps the whole contract, copies included, so code tested against it behaves
 * the same on LMDB.
 */
import { XzError } from '../../runtime/errors.js';
import { ST } from './errors.js';
import {
  UNCHANGED,
  type Entry,
  type Namespace,
  type PutOptions,
  type RangeOptions,
  type Store,
  type StoreCapabilities,
  type StoreDeps,
  type Updater,
} from './contract.js';
import { checkBytes, checkKey, checkLimit, checkNamespace, checkPrefix, checkValue, compareKeys, expiryFor, isLive } from './keys.js';

interface Slot<V> {
  value: V;
  expiresAt: number;
}

type Space<V> = Map<string, Slot<V>>;

const CAPABILITIES: StoreCapabilities = Object.freeze({
  persistent: false,
  multiProcess: false,
  multiNode: false,
  nativeExpiry: false,
});

function copyValue<T>(value: T): T {
  try {
    return structuredClone(value);
  } catch (err) {
    throw new XzError(ST.XZ_ERR_STORE_BAD_VALUE, 'value is not plain data', { cause: err });
  }
}

export class MemoryStore implements Store {
  readonly type = 'memory';
  readonly capabilities = CAPABILITIES;
  readonly #now: () => number;
  readonly #namespaces = new Map<string, MemoryNamespace>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(deps: StoreDeps & { sweepIntervalMs?: number } = {}) {
    this.#now = deps.now ?? Date.now;
    const every = deps.sweepIntervalMs ?? 60_000;
    if (every > 0) this.#timer = setInterval(() => void this.sweep(), every).unref();
  }

  now(): number {
    return this.#now();
  }

  live(): void {
    if (this.#closed) throw new XzError(ST.XZ_ERR_STORE_CLOSED);
  }

  ns(name: string): Namespace {
    this.live();
    checkNamespace(name);
    let ns = this.#namespaces.get(name);
    if (!ns) this.#namespaces.set(name, (ns = new MemoryNamespace(this, name)));
    return ns;
  }

  async sweep(): Promise<number> {
    this.live();
    const now = this.#now();
    let removed = 0;
    for (const ns of this.#namespaces.values()) removed += ns.sweep(now);
    return removed;
  }

  async flush(): Promise<void> {
    this.live();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

class MemoryNamespace implements Namespace {
  readonly #values: Space<unknown> = new Map();
  readonly #blobs: Space<Uint8Array> = new Map();

  constructor(
    private readonly store: MemoryStore,
    readonly name: string,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    return this.#read(this.#values, key, copyValue) as T | undefined;
  }

  async getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]> {
    return keys.map((k) => this.#read(this.#values, k, copyValue) as T | undefined);
  }

  async put<T>(key: string, value: T, opts?: PutOptions): Promise<void> {
    this.#begin(key);
    checkValue(value);
    this.#values.set(key, { value: copyValue(value), expiresAt: expiryFor(opts, () => this.store.now()) });
  }

  async del(key: string): Promise<void> {
    this.#begin(key);
    this.#values.delete(key);
  }

  async update<T>(key: string, fn: Updater<T>, opts?: PutOptions): Promise<T | undefined> {
    this.#begin(key);
    const slot = this.#values.get(key);
    const current = slot && isLive(slot.expiresAt, this.store.now()) ? copyValue(slot.value as T) : undefined;
    const next = fn(current);
    if (next === UNCHANGED) return current;
    if (next === undefined) {
      this.#values.delete(key);
      return undefined;
    }
    this.#values.set(key, { value: copyValue(next), expiresAt: expiryFor(opts, () => this.store.now()) });
    return next;
  }

  range<T>(opts?: RangeOptions): AsyncIterable<Entry<T>> {
    return this.#range(this.#values, opts, copyValue) as AsyncIterable<Entry<T>>;
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    return this.#read(this.#blobs, key, (b) => b.slice());
  }

  async putBytes(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<void> {
    this.#begin(key);
    checkBytes(bytes);
    this.#blobs.set(key, { value: bytes.slice(), expiresAt: expiryFor(opts, () => this.store.now()) });
  }

  async delBytes(key: string): Promise<void> {
    this.#begin(key);
    this.#blobs.delete(key);
  }

  rangeBytes(opts?: RangeOptions): AsyncIterable<Entry<Uint8Array>> {
    return this.#range(this.#blobs, opts, (b) => b.slice());
  }

  sweep(now: number): number {
    let removed = 0;
    for (const space of [this.#values, this.#blobs] as Space<unknown>[]) {
      for (const [key, slot] of space) {
        if (!isLive(slot.expiresAt, now)) {
          space.delete(key);
          removed++;
        }
      }
    }
    return removed;
  }

  #begin(key: string): void {
    this.store.live();
    checkKey(key);
  }

  #read<V>(space: Space<V>, key: string, copy: (v: V) => V): V | undefined {
    this.#begin(key);
    const slot = space.get(key);
    return slot && isLive(slot.expiresAt, this.store.now()) ? copy(slot.value) : undefined;
  }

  async *#range<V>(space: Space<V>, opts: RangeOptions | undefined, copy: (v: V) => V): AsyncGenerator<Entry<V>> {
    this.store.live();
    const prefix = checkPrefix(opts?.prefix);
    const limit = checkLimit(opts?.limit);
    // Keys are fixed when iteration starts; values are read as it goes, like a cursor would.
    const keys = [...space.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    let n = 0;
    for (const key of keys) {
      if (n >= limit) return;
      this.store.live();
      const slot = space.get(key);
      if (!slot || !isLive(slot.expiresAt, this.store.now())) continue;
      n++;
      yield { key, value: copy(slot.value) };
    }
  }
}
