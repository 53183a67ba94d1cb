/**
 * Reading an HTTP vendor's options from its config slice (plain data from YAML, `${ENV}` already
 * substituted by the loader). Mistakes fail at creation with XZ_ERR_CONFIG_INVALID naming the key,
 * not at the first request of the first device.
 */
import { E, XzError } from '../../runtime/errors.js';
import type { HttpClientOptions } from './client.js';

export type Slice = Readonly<Record<string, unknown>>;

export class OptionReader {
  constructor(
    readonly cfg: Slice,
    /** Where the slice lives, e.g. `providers.llm.gpt`. */
    readonly path: string,
  ) {}

  #bad(key: string, want: string): never {
    throw new XzError(E.XZ_ERR_CONFIG_INVALID, `${this.path}.${key} must be ${want}`, { details: { path: `${this.path}.${key}` } });
  }

  str(key: string): string | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.#bad(key, 'a string');
    return v;
  }

  needStr(key: string): string {
    const v = this.str(key);
    if (v === undefined || v === '') this.#bad(key, 'a non-empty string');
    return v;
  }

  num(key: string, min = 0): number | undefined {
    const v = this.cfg[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) this.#bad(key, `a number ≥ ${min}`);
    return v;
  }

  /** A map of strings (extra HTTP headers). */
  strings(key: string): Record<string, string> {
    const v = this.obj(key);
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') this.#bad(`${key}.${k}`, 'a string');
    return v as Record<string, string>;
  }

  /** A plain object (extra body fields); {} when absent. */
  obj(key: string): Record<string, unknown> {
    const v = this.cfg[key];
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.#bad(key, 'a map');
    return v as Record<string, unknown>;
  }

  /** A base URL without its trailing slash, so paths can be appended. */
  baseUrl(key: string, fallback?: string): string {
    const v = this.str(key) ?? fallback;
    if (!v) this.#bad(key, 'a URL');
    try {
      const u = new URL(v);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') this.#bad(key, 'an http(s) URL');
    } catch (e) {
      if (e instanceof XzError) throw e;
      this.#bad(key, 'a URL');
    }
    return v.replace(/\/+$/, '');
  }

  /** The shared connection and timeout options every HTTP vendor takes. */
  http(defaults: { timeoutMs: number; stallMs: number }): HttpClientOptions {
    const connections = this.num('connections', 1);
    return {
      timeoutMs: this.num('timeout_ms', 1) ?? defaults.timeoutMs,
      stallMs: this.num('stall_ms', 1) ?? defaults.stallMs,
      connectTimeoutMs: this.num('connect_timeout_ms', 1) ?? 5_000,
      keepAliveMs: this.num('keep_alive_ms', 1) ?? 30_000,
      ...(connections !== undefined ? { connections } : {}),
    };
  }
}
