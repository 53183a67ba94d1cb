/**
 * Opening a WebSocket to the Volcengine gateway: handshake headers (v3 `X-Api-*` or the v1/v2
 * `Authorization: Bearer; <token>`), a refused upgrade read into a coded error (status + body +
 * X-Tt-Logid), a connect timeout, and abort while connecting.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { E, XzError } from '../../runtime/errors.js';
import { upgradeError, VOLC } from './errors.js';

export interface V3Credentials {
  /** APP ID from the console (X-Api-App-Key). */
  appId?: string | null | undefined;
  /** Access token (X-Api-Access-Key). */
  accessKey?: string | null | undefined;
  /** New-console single key (X-Api-Key); replaces app id + access key. */
  apiKey?: string | null | undefined;
  resourceId: string;
}

/**
 * v3 handshake headers. `appIdHeaders` names the header(s) carrying the app id: ASR documents
 * X-Api-App-Key; TTS documents X-Api-App-Id while clients in the wild send X-Api-App-Key, so the
 * TTS client sends both (an unknown header is ignored by the gateway).
 */
export function v3Headers(c: V3Credentials, connectId: string = randomUUID(), appIdHeaders: readonly string[] = ['X-Api-App-Key']): Record<string, string> {
  const h: Record<string, string> = {};
  if (c.apiKey) h['X-Api-Key'] = c.apiKey;
  if (c.appId) for (const name of appIdHeaders) h[name] = c.appId;
  if (c.accessKey) h['X-Api-Access-Key'] = c.accessKey;
  h['X-Api-Resource-Id'] = c.resourceId;
  h['X-Api-Connect-Id'] = connectId;
  return h;
}

/** v1 TTS / v2 ASR: `Bearer;` then a space, as documented (the demo omits the space; both work). */
export function bearerHeaders(token: string): Record<string, string> {
  return { Authorization: `Bearer; ${token}` };
}

export interface Connected {
  ws: WebSocket;
  /** X-Tt-Logid of the upgrade response: the vendor's handle on this connection. */
  logId: string | undefined;
}

export interface ConnectOptions {
  url: string;
  headers: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** For messages: 'asr', 'tts'. */
  where: string;
}

const MAX_ERROR_BODY = 4096;

/** Opens the socket; rejects with a coded error (auth, rate-limit, connect, aborted). */
export function connectVolc(o: ConnectOptions): Promise<Connected> {
  if (o.signal?.aborted) return Promise.reject(new XzError(E.XZ_ERR_ABORTED, `${o.where}: aborted before connecting`));
  return new Promise<Connected>((resolve, reject) => {
    // perMessageDeflate off: the gateway does not negotiate it and payloads are gzip'd already.
    const ws = new WebSocket(o.url, { headers: o.headers, perMessageDeflate: false, handshakeTimeout: o.timeoutMs, maxPayload: 16 << 20 });
    let settled = false;
    let logId: string | undefined;
    const done = (err: XzError | null): void => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      ws.off('open', onOpen);
      ws.off('unexpected-response', onRefused);
      if (err) {
        ws.on('error', () => {}); // the terminate below may still report; it is already handled
        ws.terminate();
        reject(err);
      } else {
        ws.off('error', onError);
        // Errors are always followed by 'close', which owners handle; this keeps an error that
        // arrives before an owner listens from becoming an uncaught exception.
        ws.on('error', () => {});
        resolve({ ws, logId });
      }
    };
    const onAbort = (): void => done(new XzError(E.XZ_ERR_ABORTED, `${o.where}: aborted while connecting`));
    const onOpen = (): void => done(null);
    const onError = (e: Error): void => {
      const timedOut = /handshake has timed out/i.test(e.message);
      done(new XzError(VOLC.XZ_ERR_VOLC_CONNECT, `Volcengine ${o.where}: ${timedOut ? `no handshake within ${o.timeoutMs} ms` : e.message}`, {
        cause: e,
        details: { vendor: 'volc', where: o.where },
      }));
    };
    const onRefused = (_req: unknown, res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      let size = 0;
      const id = header(res, 'x-tt-logid');
      const fail = (): void => done(upgradeError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), { where: o.where, logId: id }));
      res.on('data', (c: Buffer) => {
        if (size < MAX_ERROR_BODY) chunks.push(c);
        size += c.length;
      });
      res.on('end', fail);
      res.on('error', fail);
      res.on('close', fail);
    };
    ws.on('upgrade', (res: IncomingMessage) => (logId = header(res, 'x-tt-logid')));
    ws.on('open', onOpen);
    ws.on('error', onError);
    ws.on('unexpected-response', onRefused);
    o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function header(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Sends if the socket is open; false otherwise (the close handler reports the failure). */
export function sendFrame(ws: WebSocket, frame: Buffer): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  ws.send(frame, { binary: true });
  return true;
}

/** Closes politely and makes sure the socket is gone soon even if the peer never answers. */
export function closeSoon(ws: WebSocket, code = 1000, graceMs = 1000): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  if (ws.readyState === WebSocket.CONNECTING) {
    ws.terminate();
    return;
  }
  if (ws.readyState === WebSocket.OPEN) ws.close(code);
  const t = setTimeout(() => ws.terminate(), graceMs);
  t.unref();
  ws.once('close', () => clearTimeout(t));
}
