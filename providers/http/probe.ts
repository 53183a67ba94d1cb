/**
 * Health probes for HTTP vendors, run by the pool on the main thread while a provider's breaker
 * is open: a cheap GET that says whether the vendor is reachable and not failing. Any answer
 * below 500 counts as healthy — a 401 or 404 proves the service is up, which is all the breaker
 * needs to let a real request try again.
 */
import { request, type Dispatcher } from 'undici';
import { defineErrors, XzError } from '../../runtime/errors.js';

export const PROBE_ERR = defineErrors({
  XZ_ERR_PROBE_FAILED: { category: 'upstream', retryable: true, message: 'health probe failed' },
});

/** Where to knock for each vendor type (relative to its base URL); undefined = the base URL itself. */
const PROBE_PATHS: Record<string, string> = { openai: '/models', ollama: '/api/tags' };

export type HttpProbe = (signal: AbortSignal) => Promise<void>;

export function httpProbe(url: string, headers: Record<string, string> = {}, dispatcher?: Dispatcher): HttpProbe {
  return async (signal) => {
    const res = await request(url, { method: 'GET', headers, signal, ...(dispatcher ? { dispatcher } : {}) });
    await res.body.dump();
    if (res.statusCode >= 500) throw new XzError(PROBE_ERR.XZ_ERR_PROBE_FAILED, `${url} answered ${res.statusCode}`);
  };
}

/** A probe for a provider instance config with an http(s) `base_url`, or undefined when it has none. */
export function probeFor(cfg: { readonly type: string; readonly [k: string]: unknown }): HttpProbe | undefined {
  const base = typeof cfg['base_url'] === 'string' ? cfg['base_url'] : undefined;
  if (!base || !/^https?:\/\//.test(base)) return undefined;
  const headers: Record<string, string> = {};
  if (typeof cfg['api_key'] === 'string' && cfg['api_key']) headers['authorization'] = `Bearer ${cfg['api_key']}`;
  return httpProbe(base.replace(/\/+$/, '') + (PROBE_PATHS[cfg.type] ?? ''), headers);
}
