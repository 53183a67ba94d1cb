/**
 * One keep-alive connection pool (an undici 7 Agent) per provider instance, and the one way the
 * vendors open a streaming POST through it.
 *
 * Timeouts are ours, per request, rather than undici's agent-wide ones, so a failure says which
 * phase failed and the error is coded: `timeoutMs` bounds the wait for response headers (time to
 * first byte), `stallMs` bounds silence while we are waiting for body bytes. Time the consumer
 * spends on a chunk does not count as a stall, so a slow reader is never blamed on the vendor.
 *
 * Abort goes through undici's `signal`, which destroys the socket of an in-flight request at once
 * (the vendor sees the disconnect within a millisecond or two on a local link). An early `break` by
 * the consumer does the same: the unread body is destroyed and the connection with it.
 */
import { Agent, request, type Dispatcher } from 'undici';
import { E, XzError, isXzError } from '../../runtime/errors.js';
import { VENDOR } from './errors.js';
import { statusError, type HeaderBag } from './status.js';

export interface HttpClientOptions {
  /** TCP + TLS connect budget, ms. */
  readonly connectTimeoutMs?: number;
  /** Wait for response headers, ms. */
  readonly timeoutMs?: number;
  /** Longest silence inside a response body, ms. */
  readonly stallMs?: number;
  /** Sockets per origin; unlimited when absent. */
  readonly connections?: number;
  /** How long an idle keep-alive socket is kept, ms. */
  readonly keepAliveMs?: number;
}

/** Turns a non-2xx answer into a coded error; returning undefined uses the generic status mapping. */
export type ErrorBodyMapper = (status: number, headers: HeaderBag, body: string) => XzError | undefined;

export interface PostOptions {
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly signal: AbortSignal;
  readonly onError?: ErrorBodyMapper;
}

export interface HttpStream extends AsyncIterable<Uint8Array> {
  readonly status: number;
  readonly headers: HeaderBag;
  /** Reads the rest of the body as text, up to `limit` bytes (the rest is dropped). */
  text(limit?: number): Promise<string>;
}

const CONNECTIVITY = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED',
]);

type Why = 'user' | 'timeout' | 'stall' | undefined;

export class HttpClient {
  readonly agent: Agent;
  readonly #vendor: string;
  readonly #timeoutMs: number;
  readonly #stallMs: number;

  constructor(vendor: string, opts: HttpClientOptions = {}) {
    this.#vendor = vendor;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#stallMs = opts.stallMs ?? 30_000;
    this.agent = new Agent({
      connect: { timeout: opts.connectTimeoutMs ?? 5_000 },
      keepAliveTimeout: opts.keepAliveMs ?? 30_000,
      ...(opts.connections ? { connections: opts.connections } : {}),
      // Backstops only: ours fire first and say which phase failed.
      headersTimeout: this.#timeoutMs * 2,
      bodyTimeout: this.#stallMs * 2,
    });
  }

  /** Sends a POST and resolves once a 2xx status and headers arrive; non-2xx rejects coded. */
  async post(url: string, o: PostOptions): Promise<HttpStream> {
    if (o.signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, `${this.#vendor}: aborted before the request`);
    const ac = new AbortController();
    let why: Why;
    const onAbort = (): void => {
      why ??= 'user';
      ac.abort();
    };
    o.signal.addEventListener('abort', onAbort, { once: true });
    const headersTimer = setTimeout(() => {
      why ??= 'timeout';
      ac.abort();
    }, this.#timeoutMs);
    const cleanup = (): void => o.signal.removeEventListener('abort', onAbort);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(url, { method: 'POST', headers: o.headers, body: o.body, dispatcher: this.agent, signal: ac.signal });
    } catch (e) {
      cleanup();
      throw this.#map(e, why);
    } finally {
      clearTimeout(headersTimer);
    }
    const stream = this.#wrap(res, ac, () => why, (w) => (why ??= w), cleanup);
    if (res.statusCode >= 200 && res.statusCode < 300) return stream;
    const text = await stream.text(64 * 1024);
    throw o.onError?.(res.statusCode, res.headers, text) ?? statusError({ vendor: this.#vendor, status: res.statusCode, headers: res.headers, body: text });
  }

  #wrap(res: Dispatcher.ResponseData, ac: AbortController, why: () => Why, setWhy: (w: Why) => void, cleanup: () => void): HttpStream {
    const stallMs = this.#stallMs;
    const map = (e: unknown): XzError => this.#map(e, why());
    const body = res.body;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      const it = body[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
      // Only time spent waiting on the socket counts; re-armed lazily so a chunk costs no timer work.
      let waitingSince: number | undefined;
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        const idle = waitingSince === undefined ? 0 : performance.now() - waitingSince;
        if (idle >= stallMs) {
          setWhy('stall');
          ac.abort();
        } else timer = setTimeout(check, stallMs - idle).unref();
      };
      // Unref'd: a consumer that abandons the iteration must not keep the process alive.
      timer = setTimeout(check, stallMs).unref();
      let done = false;
      try {
        for (;;) {
          waitingSince = performance.now();
          let r: IteratorResult<Uint8Array>;
          try {
            r = await it.next();
          } catch (e) {
            throw map(e);
          }
          waitingSince = undefined;
          if (r.done) {
            done = true;
            return;
          }
          yield r.value;
        }
      } finally {
        clearTimeout(timer);
        cleanup();
        if (!done) body.destroy();
      }
    }
    let gen: AsyncGenerator<Uint8Array> | undefined;
    const iterate = (): AsyncGenerator<Uint8Array> => (gen ??= chunks());
    return {
      status: res.statusCode,
      headers: res.headers,
      [Symbol.asyncIterator]: iterate,
      async text(limit = Infinity): Promise<string> {
        const parts: Uint8Array[] = [];
        let n = 0;
        for await (const c of iterate()) {
          if (n < limit) parts.push(c.subarray(0, limit - n));
          n += c.byteLength;
        }
        return Buffer.concat(parts).toString('utf8');
      },
    };
  }

  #map(e: unknown, why: Why): XzError {
    const v = this.#vendor;
    if (why === 'user') return new XzError(E.XZ_ERR_ABORTED, `${v}: aborted`);
    if (why === 'stall') return new XzError(VENDOR.XZ_ERR_VENDOR_STALL, `${v}: no bytes for ${this.#stallMs} ms`, { details: { vendor: v, stallMs: this.#stallMs } });
    if (why === 'timeout') return new XzError(VENDOR.XZ_ERR_VENDOR_TIMEOUT, `${v}: no response headers within ${this.#timeoutMs} ms`, { details: { vendor: v, timeoutMs: this.#timeoutMs } });
    if (isXzError(e)) return e;
    const code = errCode(e);
    const msg = `${v}: ${e instanceof Error ? e.message : String(e)}`;
    const details = { vendor: v, ...(code ? { cause: code } : {}) };
    if (code === 'UND_ERR_BODY_TIMEOUT') return new XzError(VENDOR.XZ_ERR_VENDOR_STALL, msg, { details, cause: e });
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return new XzError(VENDOR.XZ_ERR_VENDOR_TIMEOUT, msg, { details, cause: e });
    if (code?.startsWith('UND_ERR_INVALID') || code === 'ERR_INVALID_URL') return new XzError(VENDOR.XZ_ERR_VENDOR_BAD_REQUEST, msg, { details, cause: e });
    // Resets, refusals, DNS failures, "other side closed" (CONNECTIVITY) and anything unknown from the
    // socket layer: the link broke, so another attempt may get through.
    return new XzError(VENDOR.XZ_ERR_VENDOR_CONNECT, msg, { details: { ...details, known: code !== undefined && CONNECTIVITY.has(code) }, cause: e });
  }

  /** Closes every socket now; streams still open fail with a connectivity error. */
  async close(): Promise<void> {
    if (!this.agent.destroyed) await this.agent.destroy();
  }
}

/**
 * Adapters check this between the events of one network chunk: the consumer may abort while
 * handling a delta, and the rest of that chunk must not be handed out after it did.
 */
export function throwIfAborted(signal: AbortSignal, vendor: string): void {
  if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, `${vendor}: aborted`);
}

function errCode(e: unknown): string | undefined {
  // undici wraps system errors; the errno code may sit on the error or on its cause.
  for (let x: unknown = e, depth = 0; x && typeof x === 'object' && depth < 3; x = (x as { cause?: unknown }).cause, depth++) {
    const c = (x as { code?: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}
