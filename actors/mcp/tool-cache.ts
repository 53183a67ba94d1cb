/**
 * Device tool lists kept across reconnects, in the store (namespace `mcp.tools`). Listing takes
 * a round trip per ~8 KB page while the device is also starting its audio, so a reconnecting
 * device gets its last known list at once and a background refresh replaces it.
 *
 * Keyed by device id and firmware version: an upgrade can add or remove tools, so a list is
 * only reused for the firmware that produced it. Entries expire so lists of old firmware do not
 * linger for ever.
 */
import type { Namespace, Store } from '../../providers/store/contract.js';
import type { DeviceTool } from './types.js';
import { isObject } from './rpc.js';

export const TOOL_CACHE_NAMESPACE = 'mcp.tools';

export interface CachedTools {
  readonly deviceId: string;
  readonly firmware: string;
  readonly board: string;
  readonly tools: DeviceTool[];
  /** Epoch ms of the listing. */
  readonly savedAt: number;
}

export interface ToolCacheOptions {
  /** How long an entry lives after its last write. Default 30 days. */
  ttlMs?: number;
  now?: () => number;
}

export class ToolCache {
  readonly #ns: Namespace;
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(store: Store, opts: ToolCacheOptions = {}) {
    this.#ns = store.ns(TOOL_CACHE_NAMESPACE);
    this.#ttlMs = opts.ttlMs ?? 30 * 24 * 3600_000;
    this.#now = opts.now ?? Date.now;
  }

  /** The cached list, or undefined (never cached, expired, or unreadable). */
  async get(deviceId: string, firmware: string): Promise<CachedTools | undefined> {
    const v = await this.#ns.get<unknown>(key(deviceId, firmware));
    return valid(v) ? v : undefined;
  }

  async put(deviceId: string, firmware: string, board: string, tools: readonly DeviceTool[]): Promise<void> {
    const entry: CachedTools = { deviceId, firmware, board, tools: [...tools], savedAt: this.#now() };
    await this.#ns.put(key(deviceId, firmware), entry, { ttlMs: this.#ttlMs });
  }

  async delete(deviceId: string, firmware: string): Promise<void> {
    await this.#ns.del(key(deviceId, firmware));
  }
}

// Device ids are MACs or UUIDs and versions are dotted numbers; `|` separates them unambiguously.
function key(deviceId: string, firmware: string): string {
  return `${deviceId}|${firmware}`;
}

/** An entry written by an older server, or damaged, reads as a miss rather than an error. */
function valid(v: unknown): v is CachedTools {
  if (!isObject(v) || !Array.isArray(v['tools']) || typeof v['firmware'] !== 'string') return false;
  return v['tools'].every((t) => isObject(t) && typeof t['name'] === 'string' && isObject(t['inputSchema']) && typeof t['userOnly'] === 'boolean');
}
