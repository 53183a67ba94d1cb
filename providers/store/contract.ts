/**
 * The durable store contract. Everything durable (device registry, activation, memory, turn
 * records, quick-reply cache) goes through it, so the embedded default (LMDB) can later be swapped
 * for a networked store (Redis) that serves many nodes. Hence every call is async even where LMDB
 * could answer synchronously, and nothing here needs more than a networked key-value store offers:
 * one key at a time, prefix scans, compare-and-set, per-key expiry.
 *
 * Semantics every implementation keeps (the conformance suite in test/store pins them):
 * - Keys live in namespaces (`store.ns('devices')`); namespaces never see each other's keys.
 * - A namespace holds two key spaces: JSON values (`get`/`put`/…) and byte blobs
 *   (`getBytes`/`putBytes`/…). A value and a blob may share a key without touching each other.
 * - Values are JSON-serialisable data; what a store returns is a copy, never the caller's object.
 * - A write is acknowledged when its promise resolves: from then on it is visible to every reader
 *   and survives a crash of this process. `flush()`/`close()` also wait for stable storage.
 * - An expired entry reads as absent at once; `sweep()` (and the store's own timer) frees it.
 */

/** Returned by an `update` callback to leave the entry exactly as it is (no write). */
export const UNCHANGED: unique symbol = Symbol.for('xz.store.unchanged');
export type Unchanged = typeof UNCHANGED;

export interface PutOptions {
  /** The entry expires this many milliseconds after the write (by the store's clock). */
  readonly ttlMs?: number | undefined;
}

export interface RangeOptions {
  /** Only keys starting with this; all keys of the namespace when omitted. */
  readonly prefix?: string | undefined;
  /** Stop after this many live entries. */
  readonly limit?: number | undefined;
}

export interface Entry<T> {
  readonly key: string;
  readonly value: T;
}

/**
 * Computes the next value from the current one (undefined when absent or expired). Return the
 * value to store, `undefined` to delete, or `UNCHANGED` to write nothing. It must be synchronous
 * and pure: an optimistic store (Redis WATCH/MULTI) may call it again after a conflict.
 */
export type Updater<T> = (current: T | undefined) => T | undefined | Unchanged;

export interface Namespace {
  readonly name: string;

  get<T>(key: string): Promise<T | undefined>;
  /** One answer per key, in order; `undefined` where absent or expired. */
  getMany<T>(keys: readonly string[]): Promise<(T | undefined)[]>;
  /** Replaces the value; without `ttlMs` the entry never expires (an earlier expiry is dropped). */
  put<T>(key: string, value: T, opts?: PutOptions): Promise<void>;
  del(key: string): Promise<void>;
  /**
   * Atomic read-modify-write: no other write to this key, from this process or another, lands
   * between the read `fn` sees and the write it asks for. Resolves to the value now stored.
   * `opts.ttlMs` applies to a written value as in `put`.
   */
  update<T>(key: string, fn: Updater<T>, opts?: PutOptions): Promise<T | undefined>;
  /** Live entries in key order (by UTF-8 bytes, which is string order for ASCII keys), read lazily. */
  range<T>(opts?: RangeOptions): AsyncIterable<Entry<T>>;

  /** Blobs are stored as raw bytes (cached Opus frames and the like). */
  getBytes(key: string): Promise<Uint8Array | undefined>;
  putBytes(key: string, bytes: Uint8Array, opts?: PutOptions): Promise<void>;
  delBytes(key: string): Promise<void>;
  rangeBytes(opts?: RangeOptions): AsyncIterable<Entry<Uint8Array>>;
}

/** What callers may rely on beyond the contract, instead of checking `type`. */
export interface StoreCapabilities {
  /** Data survives a restart of the process. */
  readonly persistent: boolean;
  /** Several processes on one host may open the same store at once. */
  readonly multiProcess: boolean;
  /** Several machines can share it (a networked store); nodes can then stay stateless. */
  readonly multiNode: boolean;
  /** Expired entries vanish without `sweep()` (the store expires them itself). */
  readonly nativeExpiry: boolean;
}

export interface Store {
  readonly type: string;
  readonly capabilities: StoreCapabilities;
  /** Namespace names: 1–64 of `[A-Za-z0-9._-]`, starting with a letter or digit. */
  ns(name: string): Namespace;
  /** Frees expired entries now; resolves to how many were removed. */
  sweep(): Promise<number>;
  /** Resolves once every acknowledged write is on stable storage. */
  flush(): Promise<void>;
  /** Waits for pending writes, flushes, and releases the store; later calls fail with XZ_ERR_STORE_CLOSED. */
  close(): Promise<void>;
}

/** What every implementation's factory receives besides its config section. */
export interface StoreDeps {
  /** Wall-clock milliseconds for expiry; tests inject a controllable one. */
  readonly now?: (() => number) | undefined;
}

/** The `store` config section; implementations read their own extra keys. */
export interface StoreConfig {
  readonly type: string;
  readonly path?: string | undefined;
  /** How often the store frees expired entries; 0 turns the timer off. Default 60 000. */
  readonly sweep_interval_ms?: number | undefined;
  readonly [key: string]: unknown;
}
