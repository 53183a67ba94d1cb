/**
 * The engine under every HTTP vendor fake: a real node:http server on 127.0.0.1:0 that records
 * each request (headers, body, parsed JSON) and each client disconnect (a response the client
 * walked away from, with a monotonic timestamp), and plays a `WirePlan` — status, headers, framed
 * events — through the chunker, with the failure modes vendors really show: no answer at all
 * (`hang`), headers then silence (`stall`), a socket destroyed mid-stream (`disconnect`), a body
 * ended cleanly before the end marker (`truncate`).
 *
 * Vendor fakes (fake-openai.ts, fake-ollama.ts, fake-coze.ts, fake-dify.ts) turn a scripted
 * `Reply` into a WirePlan; tests use those, not this file directly.
 *
 * Timestamps are `performance.now()` of this process, so a test in the same process compares them
 * with its own `performance.now()` (abort latency = disconnect.at − the moment it aborted).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ADVERSARIAL, gapOf, pieces, type ChunkPlan } from './chunker.js';

export interface RecordedRequest {
  /** 0-based, in arrival order since start (or the last reset). */
  readonly index: number;
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The body parsed as JSON, or undefined. */
  readonly json: any;
  /** The client's port: equal ports on two requests mean a reused keep-alive connection. */
  readonly remotePort: number;
}

export interface RecordedDisconnect {
  /** Index of the request whose response the client abandoned. */
  readonly request: number;
  readonly path: string;
  readonly at: number;
  readonly bytesWritten: number;
  readonly phase: 'before-headers' | 'body';
}

/** Failure modes a scripted reply can ask for (every vendor fake understands them). */
export type Fault =
  /** An HTTP error before streaming; `body` defaults to the vendor's own error body for the status. */
  | { readonly kind: 'status'; readonly status: number; readonly body?: unknown; readonly headers?: Readonly<Record<string, string>> }
  /** The request is read and never answered (not even headers). */
  | { readonly kind: 'hang' }
  /** Headers and `afterEvents` events (default: all but the end marker), then silence. */
  | { readonly kind: 'stall'; readonly afterEvents?: number }
  /** The socket is destroyed after `afterEvents` events. */
  | { readonly kind: 'disconnect'; readonly afterEvents?: number }
  /** The body ends cleanly after `afterEvents` events, without the end marker. */
  | { readonly kind: 'truncate'; readonly afterEvents?: number }
  /** The vendor's in-stream error event after `afterEvents` events (status stays 200). */
  | { readonly kind: 'stream-error'; readonly afterEvents?: number; readonly error?: unknown };

/** The reply fields every vendor fake understands; vendors add their own wire quirks. */
export interface BaseReply {
  /** Text deltas: pieces, or a string cut into 3-character pieces. */
  readonly text?: string | readonly string[];
  /** Token counts to report; false sends none; default: some plausible numbers. */
  readonly usage?: { readonly input: number; readonly output: number } | false;
  readonly fault?: Fault;
  /** How the bytes are written (default: chunker.ts ADVERSARIAL). */
  readonly chunk?: ChunkPlan;
  /** Pause between events, ms. */
  readonly eventGapMs?: number;
  /** Pause before the status line, ms. */
  readonly headDelayMs?: number;
}

/** A tool call a model-like fake should make (OpenAI, Ollama). */
export interface ScriptedCall {
  readonly id?: string;
  readonly name: string;
  /** Arguments as JSON text (sent as written) or an object. */
  readonly args: string | Record<string, unknown>;
  /** OpenAI: how many `arguments` fragments to send (default 3). */
  readonly fragments?: number;
}

/** The shaping fields of a reply, spread into its WirePlan. */
export function shaping(r: BaseReply, cut: WirePlan['cut'] | 'hang' | undefined): Partial<WirePlan> {
  return {
    ...(cut === 'hang' ? { hang: true } : cut ? { cut } : {}),
    ...(r.chunk ? { chunk: r.chunk } : {}),
    ...(r.eventGapMs !== undefined ? { eventGapMs: r.eventGapMs } : {}),
    ...(r.headDelayMs !== undefined ? { headDelayMs: r.headDelayMs } : {}),
  };
}

export interface WirePlan {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Framed events, the end marker included. */
  readonly events: readonly Buffer[];
  readonly chunk?: ChunkPlan;
  /** Pause between events, ms (time-to-next-token); the chunk plan then applies per event. */
  readonly eventGapMs?: number;
  /** Pause before the status line, ms (slow first byte). */
  readonly headDelayMs?: number;
  readonly hang?: boolean;
  /** Stop after `after` events and then stall, destroy the socket, or end the body. */
  readonly cut?: { readonly after: number; readonly then: 'stall' | 'disconnect' | 'end' };
  /** Told once how the response ended (vendors with server-side state release it here). */
  readonly onDone?: (how: 'completed' | 'client-gone' | 'cut') => void;
}

/** A JSON answer written in one piece (errors, side endpoints). */
export function jsonPlan(status: number, body: unknown, headers: Record<string, string> = {}): WirePlan {
  return { status, headers: { 'content-type': 'application/json', ...headers }, events: [Buffer.from(JSON.stringify(body))], chunk: 'whole' };
}

/**
 * Applies a stream-shaping fault to a vendor's events. `endMarkers` is how many trailing events
 * form the vendor's end marker, so the default cut point is "everything but the end".
 */
export function cutFor(fault: Fault | undefined, events: readonly Buffer[], endMarkers: number): WirePlan['cut'] | 'hang' | undefined {
  if (!fault) return undefined;
  const body = events.length - endMarkers;
  switch (fault.kind) {
    case 'hang':
      return 'hang';
    case 'stall':
      return { after: fault.afterEvents ?? body, then: 'stall' };
    case 'disconnect':
      return { after: fault.afterEvents ?? body, then: 'disconnect' };
    case 'truncate':
      return { after: fault.afterEvents ?? body, then: 'end' };
    default:
      return undefined; // status and stream-error are rendered by the vendor
  }
}

/** Scripted replies, consumed one per streaming request; the default answers when it is empty. */
export class Script<R> {
  #queue: R[] = [];
  constructor(public fallback: R) {}
  push(...replies: R[]): void {
    this.#queue.push(...replies);
  }
  next(): R {
    return this.#queue.shift() ?? this.fallback;
  }
  get pending(): number {
    return this.#queue.length;
  }
  clear(): void {
    this.#queue = [];
  }
}

export type Handler = (req: RecordedRequest) => WirePlan | Promise<WirePlan>;

const sleep = (ms: number): Promise<void> => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

export class FakeHttp {
  readonly requests: RecordedRequest[] = [];
  readonly disconnects: RecordedDisconnect[] = [];
  readonly #server: Server;
  readonly #handler: Handler;
  #waiters: (() => void)[] = [];
  #index = 0;
  origin = '';

  private constructor(handler: Handler) {
    this.#handler = handler;
    this.#server = createServer({ noDelay: true, keepAliveTimeout: 30_000 }, (req, res) => void this.#serve(req, res));
  }

  static async start(handler: Handler): Promise<FakeHttp> {
    const f = new FakeHttp(handler);
    await new Promise<void>((resolve) => f.#server.listen(0, '127.0.0.1', resolve));
    f.origin = `http://127.0.0.1:${(f.#server.address() as AddressInfo).port}`;
    return f;
  }

  /** Requests received (every path), the per-test attempt counter. */
  get attempts(): number {
    return this.requests.length;
  }

  /** Requests to one path. */
  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  /** Resolves once `n` disconnects were seen (counting from start or the last reset). */
  waitForDisconnect(n = 1, timeoutMs = 2_000): Promise<RecordedDisconnect> {
    return this.#until(() => this.disconnects[n - 1], timeoutMs, `${n} disconnect(s)`);
  }

  waitForRequests(n: number, timeoutMs = 2_000): Promise<RecordedRequest> {
    return this.#until(() => this.requests[n - 1], timeoutMs, `${n} request(s)`);
  }

  #until<T>(get: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = get();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake: no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        const v = get();
        if (v === undefined) return void this.#waiters.push(check);
        clearTimeout(timer);
        resolve(v);
      };
      this.#waiters.push(check);
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Forgets recorded requests and disconnects (between phases of one test). */
  reset(): void {
    this.requests.length = 0;
    this.disconnects.length = 0;
    this.#index = 0;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = Buffer.concat(parts).toString('utf8');
    const url = new URL(req.url ?? '/', this.origin);
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {
      json = undefined;
    }
    const rec: RecordedRequest = {
      index: this.#index++, at: performance.now(), method: req.method ?? 'GET', path: url.pathname,
      query: Object.fromEntries(url.searchParams), headers: req.headers, body, json, remotePort: req.socket.remotePort ?? 0,
    };
    this.requests.push(rec);
    let intentional = false;
    let closed = false;
    let plan: WirePlan | undefined;
    let told = false;
    const done = (how: 'completed' | 'client-gone' | 'cut'): void => {
      if (told || !plan?.onDone) return;
      told = true;
      plan.onDone(how);
    };
    res.on('close', () => {
      closed = true;
      done(res.writableFinished ? 'completed' : 'client-gone');
      if (!res.writableFinished && !intentional) {
        this.disconnects.push({
          request: rec.index, path: rec.path, at: performance.now(),
          bytesWritten: res.socket?.bytesWritten ?? 0, phase: res.headersSent ? 'body' : 'before-headers',
        });
      }
      this.#wake();
    });
    this.#wake();
    try {
      plan = await this.#handler(rec);
    } catch (e) {
      // A bug in a fake must fail the test loudly, not hang it.
      plan = jsonPlan(500, { error: { message: `fake handler threw: ${e instanceof Error ? e.stack : String(e)}` } });
    }
    if (closed) return done('client-gone');
    if (plan.hang) return;
    if (plan.headDelayMs) await sleep(plan.headDelayMs);
    if (closed) return;
    res.writeHead(plan.status, plan.headers);
    res.flushHeaders();
    const events = plan.cut ? plan.events.slice(0, plan.cut.after) : plan.events;
    const chunk = plan.chunk ?? ADVERSARIAL;
    const groups = plan.eventGapMs !== undefined ? events.map((e) => [e]) : [events];
    for (const [g, group] of groups.entries()) {
      if (g > 0) await sleep(plan.eventGapMs ?? 0);
      const list = pieces(group, chunk);
      const gap = chunk === 'events' ? 0 : gapOf(chunk);
      for (const [i, p] of list.entries()) {
        if (closed) return;
        if (!res.write(p)) await new Promise((r) => res.once('drain', r));
        if (gap !== undefined && i < list.length - 1) await sleep(gap);
      }
    }
    if (closed) return;
    if (plan.cut?.then === 'stall') return; // open until the client leaves or the fake closes
    if (plan.cut?.then === 'disconnect') {
      intentional = true;
      done('cut');
      // Let the written bytes leave before the reset, as a vendor crashing mid-stream would.
      await sleep(5);
      res.socket?.destroy();
      return;
    }
    if (plan.cut) done('cut');
    res.end();
  }
}

/** What every vendor fake hands a test. */
export interface FakeVendor<R> {
  /** The value for the provider's `base_url` option. */
  readonly url: string;
  readonly origin: string;
  /** Every request, side endpoints (cancel, stop) included; filter by `path`. */
  readonly requests: RecordedRequest[];
  /** Every response the client walked away from. */
  readonly disconnects: RecordedDisconnect[];
  /** requests.length: every request, side endpoints included. */
  readonly attempts: number;
  /** Requests to the streaming endpoint only: the per-test attempt counter for pool and retry tests. */
  readonly streams: number;
  /** The streaming endpoint's path. */
  readonly streamPath: string;
  /** Queues replies, one per streaming request; the fake's default reply answers after them. */
  script(...replies: R[]): void;
  /** Forgets recorded requests, disconnects and queued replies. */
  reset(): void;
  waitForDisconnect(n?: number, timeoutMs?: number): Promise<RecordedDisconnect>;
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
  /** The engine, for anything this interface does not cover. */
  readonly http: FakeHttp;
}

export function vendorFake<R>(http: FakeHttp, script: Script<R>, url: string, streamPath: string): FakeVendor<R> {
  return {
    url,
    streamPath,
    origin: http.origin,
    requests: http.requests,
    disconnects: http.disconnects,
    get attempts() {
      return http.attempts;
    },
    get streams() {
      return http.count(streamPath);
    },
    script: (...r) => script.push(...r),
    reset: () => {
      http.reset();
      script.clear();
    },
    waitForDisconnect: (n, t) => http.waitForDisconnect(n, t),
    waitForRequests: (n, t) => http.waitForRequests(n, t),
    close: () => http.close(),
    http,
  };
}

/** Splits a string into model-sized pieces (≤ `size` characters, never inside a surrogate pair). */
export function tokens(text: string | readonly string[] | undefined, size = 3): string[] {
  if (text === undefined) return [];
  if (typeof text !== 'string') return [...text];
  const chars = [...text];
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out;
}
