/**
 * HTTP plumbing over uWS responses. uWS hands a request object that is valid only until the
 * handler first returns or awaits, and a response that may be aborted at any moment; so every
 * handler copies what it needs first (`readRequest`), registers `onAborted` before any await,
 * and writes the whole answer inside one `cork`.
 */
import type { HttpRequest, HttpResponse } from '../../native/uws.js';
import { E, XzError, toWire } from '../../runtime/errors.js';
import { FD, HTTP_STATUS } from './errors.js';

export interface Request {
  readonly method: string;
  readonly url: string;
  readonly query: string;
  /** Lower-case names. */
  readonly headers: ReadonlyMap<string, string>;
  readonly peerAddress: string;
  header(name: string): string | undefined;
}

export interface Reply {
  readonly aborted: boolean;
  /** Called when the client goes away before we answered. */
  onAbort(fn: () => void): void;
  send(status: number, body: string | Uint8Array, headers?: Record<string, string>): void;
  json(status: number, value: unknown, headers?: Record<string, string>): void;
  /** A coded error as JSON, with the HTTP status its category suggests. */
  error(err: unknown, headers?: Record<string, string>): void;
}

const decoder = new TextDecoder();

/** Copies everything the handler needs from a uWS request; must run before any await. */
export function readRequest(res: HttpResponse, req: HttpRequest): Request {
  const headers = new Map<string, string>();
  req.forEach((k, v) => headers.set(k, v));
  return {
    method: req.getMethod(),
    url: req.getUrl(),
    query: req.getQuery() ?? '',
    headers,
    peerAddress: decoder.decode(res.getRemoteAddressAsText()),
    header: (name) => {
      const v = headers.get(name);
      return v === undefined || v === '' ? undefined : v;
    },
  };
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  202: '202 Accepted',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  502: '502 Bad Gateway',
  503: '503 Service Unavailable',
  504: '504 Gateway Timeout',
};

export function statusLine(code: number): string {
  return STATUS_TEXT[code] ?? `${code} Status`;
}

const CATEGORY_STATUS: Record<string, number> = {
  auth: 401,
  forbidden: 403,
  'invalid-request': 400,
  'rate-limit': 429,
  quota: 429,
  overloaded: 503,
  connectivity: 502,
  timeout: 504,
  upstream: 502,
  unavailable: 503,
  cancelled: 499,
  internal: 500,
};

export function replyTo(res: HttpResponse): Reply {
  let aborted = false;
  const onAbort: (() => void)[] = [];
  res.onAborted(() => {
    aborted = true;
    for (const fn of onAbort) fn();
  });
  const reply: Reply = {
    get aborted() {
      return aborted;
    },
    onAbort: (fn) => void onAbort.push(fn),
    send(status, body, headers = {}) {
      if (aborted) return;
      aborted = true; // answered: later sends are programming errors we refuse quietly
      res.cork(() => {
        res.writeStatus(statusLine(status));
        for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
        res.end(body);
      });
    },
    json(status, value, headers = {}) {
      reply.send(status, JSON.stringify(value), { 'Content-Type': 'application/json; charset=utf-8', ...headers });
    },
    error(err, headers = {}) {
      const w = toWire(err);
      const status = HTTP_STATUS[w.code] ?? CATEGORY_STATUS[w.category] ?? 500;
      reply.json(status === 499 ? 400 : status, { error: { code: w.code, message: w.message } }, headers);
    },
  };
  return reply;
}

/**
 * Reads a request body up to `limit` bytes. Rejects with XZ_ERR_HTTP_BODY_TOO_LARGE past it, and
 * with XZ_ERR_ABORTED when the client goes away. Chunked bodies arrive the same way.
 */
export function readBody(res: HttpResponse, reply: Reply, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    reply.onAbort(() => {
      if (done) return;
      done = true;
      reject(new XzError(E.XZ_ERR_ABORTED, 'client went away while sending the body'));
    });
    res.onData((ab, isLast) => {
      if (done) return;
      size += ab.byteLength;
      if (size > limit) {
        done = true;
        reject(new XzError(FD.XZ_ERR_HTTP_BODY_TOO_LARGE, `request body over ${limit} bytes`));
        return;
      }
      // The ArrayBuffer is only valid during this callback: copy it.
      chunks.push(Buffer.from(new Uint8Array(ab)));
      if (isLast) {
        done = true;
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      }
    });
  });
}
