/**
 * JSON-RPC 2.0 requests over a message channel that only carries replies back (the device's MCP
 * server never sends requests, protocol.md §8.1). Replies are matched by numeric id; ids count
 * from 1 per connection, as the firmware only answers integer ids.
 *
 * Every wait is a timer of the injected Clock (SimClock in tests). A request that timed out, was
 * aborted or outlived the channel is forgotten, so its late reply finds no one and is dropped.
 */
import type { Clock, Timer } from '../../runtime/clock.js';
import { E, XzError } from '../../runtime/errors.js';
import { MCP } from './errors.js';

export type RpcOutcome = { ok: true; result: unknown } | { ok: false; message: string };

export interface RpcStats {
  sent: number;
  replies: number;
  /** Messages that are not a reply we can read (no numeric id, neither result nor error…). */
  invalid: number;
  /** Replies to an id no request waits for any more (timed out, aborted) or never sent. */
  late: number;
  timeouts: number;
}

interface Pending {
  method: string;
  timer: Timer;
  settle(o: RpcOutcome | XzError): void;
}

export interface RpcChannelOptions {
  /** Sends one JSON-RPC object; false means the channel is gone (the request fails at once). */
  send(payload: Record<string, unknown>): boolean | void;
  clock: Clock;
}

export class RpcChannel {
  readonly stats: RpcStats = { sent: 0, replies: 0, invalid: 0, late: 0, timeouts: 0 };
  readonly #send: RpcChannelOptions['send'];
  readonly #clock: Clock;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: string | undefined;

  constructor(opts: RpcChannelOptions) {
    this.#send = opts.send;
    this.#clock = opts.clock;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Sends a request and waits for its reply. Resolves with the outcome (a device error reply is
   * an outcome, not a throw, because what it means depends on the method); throws a coded error
   * on timeout (XZ_ERR_MCP_TIMEOUT), closed channel (XZ_ERR_MCP_CLOSED) or abort (XZ_ERR_ABORTED).
   */
  request(method: string, params: Record<string, unknown> | undefined, timeoutMs: number, signal?: AbortSignal): Promise<RpcOutcome> {
    if (this.#closed !== undefined) return Promise.reject(closedError(method, this.#closed));
    if (signal?.aborted) return Promise.reject(abortError(method));
    const id = this.#nextId++;
    return new Promise<RpcOutcome>((resolve, reject) => {
      const onAbort = () => p.settle(abortError(method));
      const p: Pending = {
        method,
        timer: this.#clock.setTimer(timeoutMs, () => {
          this.stats.timeouts++;
          p.settle(new XzError(MCP.XZ_ERR_MCP_TIMEOUT, `device did not answer ${method} within ${timeoutMs} ms`, { details: { method, id, timeoutMs } }));
        }),
        settle: (o) => {
          if (this.#pending.get(id) !== p) return;
          this.#pending.delete(id);
          p.timer.cancel();
          signal?.removeEventListener('abort', onAbort);
          if (o instanceof XzError) reject(o);
          else resolve(o);
        },
      };
      // Registered before sending: a transport that answers synchronously must find it.
      this.#pending.set(id, p);
      signal?.addEventListener('abort', onAbort, { once: true });
      const payload: Record<string, unknown> = { jsonrpc: '2.0', id, method };
      if (params !== undefined) payload['params'] = params;
      this.stats.sent++;
      let sent: boolean | void;
      try {
        sent = this.#send(payload);
      } catch (err) {
        p.settle(new XzError(MCP.XZ_ERR_MCP_CLOSED, `could not send ${method}`, { cause: err, details: { method } }));
        return;
      }
      if (sent === false) p.settle(closedError(method, 'socket closed'));
    });
  }

  /** A notification: no id, so the device sends nothing back. */
  notify(method: string, params?: Record<string, unknown>): void {
    if (this.#closed !== undefined) return;
    const payload: Record<string, unknown> = { jsonrpc: '2.0', method };
    if (params !== undefined) payload['params'] = params;
    try {
      this.#send(payload);
    } catch {
      // A notification carries nothing anyone waits for; a dead socket shows on the next request.
    }
  }

  /**
   * One `payload` of a device `mcp` message. Shapes we cannot read are counted and ignored: the
   * device is the only sender, and a malformed reply must not break the session.
   */
  receive(payload: unknown): void {
    if (!isObject(payload)) return void this.stats.invalid++;
    if (payload['jsonrpc'] !== undefined && payload['jsonrpc'] !== '2.0') return void this.stats.invalid++;
    const id = payload['id'];
    // Our ids are integers; a string id is not an answer to any of them.
    if (typeof id !== 'number' || !Number.isInteger(id)) return void this.stats.invalid++;
    let outcome: RpcOutcome;
    if ('error' in payload && payload['error'] !== undefined && payload['error'] !== null) {
      const message = errorText(payload['error']);
      if (message === undefined) return void this.stats.invalid++;
      outcome = { ok: false, message };
    } else if ('result' in payload) {
      outcome = { ok: true, result: payload['result'] };
    } else {
      return void this.stats.invalid++;
    }
    const p = this.#pending.get(id);
    if (!p) return void this.stats.late++;
    this.stats.replies++;
    p.settle(outcome);
  }

  /** Fails every request in flight with XZ_ERR_MCP_CLOSED; later requests fail at once. */
  close(reason = 'socket closed'): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    for (const p of [...this.#pending.values()]) p.settle(closedError(p.method, reason));
  }
}

/**
 * The failure text of an error reply. The firmware sends `{message}` without `code`; other
 * clients send the standard `{code, message}`; a bare string is read as the message too.
 */
function errorText(err: unknown): string | undefined {
  if (typeof err === 'string') return err;
  if (!isObject(err)) return undefined;
  const m = err['message'];
  if (typeof m === 'string') return m;
  if (typeof err['code'] === 'number') return `error ${err['code']}`;
  return undefined;
}

function closedError(method: string, reason: string): XzError {
  return new XzError(MCP.XZ_ERR_MCP_CLOSED, `device channel closed (${reason}) before ${method} was answered`, { details: { method } });
}

function abortError(method: string): XzError {
  return new XzError(E.XZ_ERR_ABORTED, `${method} aborted`, { details: { method } });
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
