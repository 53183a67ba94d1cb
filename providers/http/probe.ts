/**
 * Health probes, run by the pool on the main thread while a provider's breaker is open: a cheap
 * GET (HTTP vendors) or a WebSocket handshake closed at once (Edge, Doubao) that says whether
 * the vendor is reachable and not failing. Any answer below 500 counts as healthy — a 401 or 404
 * proves the service is up, which is all the breaker needs to let a real request try again.
 */
import { request, type Dispatcher } from 'undici';
import { WebSocket } from 'ws';
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

/** Opens a WebSocket with the vendor's handshake and closes it: 101, or any status below 500, is up. */
export function wsProbe(target: () => { url: string; headers: Record<string, string>; origin?: string }, timeoutMs = 5000): HttpProbe {
  return (signal) =>
    new Promise<void>((resolve, reject) => {
      const { url, headers, origin } = target();
      const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs, perMessageDeflate: false, ...(origin ? { origin } : {}) });
      let settled = false;
      const settle = (why?: string) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (why === undefined) return resolve();
        ws.terminate();
        reject(new XzError(PROBE_ERR.XZ_ERR_PROBE_FAILED, `${new URL(url).host}: ${why}`));
      };
      const onAbort = () => settle('probe aborted');
      signal.addEventListener('abort', onAbort, { once: true });
      ws.on('open', () => {
        ws.close(1000);
        settle();
      });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        const status = res.statusCode ?? 599;
        if (status < 500) {
          ws.terminate();
          settle();
        } else settle(`handshake answered ${status}`);
      });
      // Also after settling: a late socket error must not go unhandled.
      ws.on('error', (e) => settle(e.message));
    });
}

/** A probe for a provider instance config with an http(s) `base_url`, or undefined when it has none. */
export function probeFor(cfg: { readonly type: string; readonly [k: string]: unknown }): HttpProbe | undefined {
  const base = typeof cfg['base_url'] === 'string' ? cfg['base_url'] : undefined;
  if (!base || !/^https?:\/\//.test(base)) return undefined;
  const headers: Record<string, string> = {};
  if (typeof cfg['api_key'] === 'string' && cfg['api_key']) headers['authorization'] = `Bearer ${cfg['api_key']}`;
  return httpProbe(base.replace(/\/+$/, '') + (PROBE_PATHS[cfg.type] ?? ''), headers);
}
