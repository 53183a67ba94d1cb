/**
 * One WebSocket to the Edge endpoint, serving one synthesis at a time and many in sequence.
 *
 * Every request carries its own X-RequestId and the server echoes it on every message, so a
 * socket can take request after request once the previous `turn.end` came (what the Edge browser
 * itself does); only messages with the current id are read. `speech.config` goes once, right
 * after the upgrade. The protocol has no cancel message: a request given up before its turn.end
 * closes the socket, so the server stops synthesising and no stale audio can reach the next user.
 */
import WebSocket from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { E, XzError } from '../../../runtime/errors.js';
import { VENDOR } from '../../http/errors.js';
import { statusError } from '../../http/status.js';
import { TTS } from '../errors.js';
import { EDGE_ORIGIN, handshake, skewFromDate } from './drm.js';
import { parseBinary, parseText, speechConfig, ssmlMessage, type OutputFormat } from './protocol.js';

export interface ConnectOptions {
  readonly vendor: string;
  readonly baseUrl: string;
  readonly chromium: string;
  readonly format: OutputFormat;
  readonly connectTimeoutMs: number;
  /** Offer permessage-deflate as Edge does (MP3 does not compress; costs a zlib pass per message). */
  readonly deflate: boolean;
}

export type TurnEvent = { readonly kind: 'audio'; readonly bytes: Uint8Array } | { readonly kind: 'end' };

/** Queued chunks beyond which the socket stops reading until the consumer catches up. */
const HIGH_WATER = 64;

/** Opens a socket and sends speech.config; on a 403 carrying a Date, corrects the clock once. */
export async function connect(o: ConnectOptions, skew: { ms: number }, signal: AbortSignal): Promise<EdgeConnection> {
  try {
    return new EdgeConnection(await upgrade(o, Date.now() + skew.ms, signal), o);
  } catch (e) {
    const fix = e instanceof XzError && e.details?.status === 403 ? skewFromDate(e.details.date as string | undefined, Date.now()) : undefined;
    if (fix === undefined || Math.abs(fix - skew.ms) < 1000) throw e;
    skew.ms = fix; // kept for later handshakes of this provider
    return new EdgeConnection(await upgrade(o, Date.now() + skew.ms, signal), o);
  }
}

function upgrade(o: ConnectOptions, unixMs: number, signal: AbortSignal): Promise<WebSocket> {
  if (signal.aborted) return Promise.reject(new XzError(E.XZ_ERR_ABORTED, `${o.vendor}: aborted before connecting`));
  const { url, headers } = handshake(o.baseUrl, o.chromium, unixMs);
  const ws = new WebSocket(url, { headers, origin: EDGE_ORIGIN, perMessageDeflate: o.deflate, handshakeTimeout: o.connectTimeoutMs });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: XzError): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      ws.terminate();
      reject(err);
    };
    const onAbort = (): void => fail(new XzError(E.XZ_ERR_ABORTED, `${o.vendor}: aborted while connecting`));
    signal.addEventListener('abort', onAbort, { once: true });
    ws.on('error', (e: Error & { code?: string }) => {
      const timeout = /handshake has timed out/i.test(e.message);
      const code = timeout ? VENDOR.XZ_ERR_VENDOR_TIMEOUT : VENDOR.XZ_ERR_VENDOR_CONNECT;
      fail(new XzError(code, `${o.vendor}: ${e.message}`, { details: { vendor: o.vendor, ...(e.code ? { cause: e.code } : {}) }, cause: e }));
    });
    ws.once('unexpected-response', (req: ClientRequest, res: IncomingMessage) => {
      const err = statusError({ vendor: o.vendor, status: res.statusCode ?? 0, headers: res.headers, body: res.statusMessage ?? '' });
      if (res.headers.date) err.details!.date = res.headers.date;
      res.resume();
      req.destroy();
      fail(err);
    });
    ws.once('open', () => {
      settled = true;
      signal.removeEventListener('abort', onAbort);
      ws.removeAllListeners('error');
      resolve(ws);
    });
  });
}

/** Maps a close in the middle of a request; the reason text is what Edge uses to say why. */
function closeError(vendor: string, code: number, reason: string, started: boolean): XzError {
  const details = { vendor, closeCode: code, reason };
  const msg = `${vendor}: connection closed (${code}${reason ? ` ${reason}` : ''})`;
  if (code === 1007 && /unsupported voice/i.test(reason)) return new XzError(TTS.XZ_ERR_TTS_BAD_VOICE, msg, { details });
  if (code === 1007) return new XzError(VENDOR.XZ_ERR_VENDOR_BAD_REQUEST, msg, { details });
  if (code === 1008) return new XzError(VENDOR.XZ_ERR_VENDOR_FORBIDDEN, msg, { details });
  if (code === 1013) return new XzError(VENDOR.XZ_ERR_VENDOR_RATE_LIMIT, msg, { details });
  if (code === 1011 || code === 1012 || code === 1014) return new XzError(VENDOR.XZ_ERR_VENDOR_UPSTREAM, msg, { details });
  return new XzError(started ? VENDOR.XZ_ERR_VENDOR_TRUNCATED : VENDOR.XZ_ERR_VENDOR_CONNECT, msg, { details });
}

/** One request's view of the socket: its events, in order, as an awaitable queue. */
export class Turn {
  readonly requestId: string;
  /** Any message for this request arrived (a close before that may just be a stale idle socket). */
  heard = false;
  audioBytes = 0;
  #queue: TurnEvent[] = [];
  #error: XzError | undefined;
  #wake: (() => void) | undefined;
  readonly #conn: EdgeConnection;

  constructor(conn: EdgeConnection, requestId: string) {
    this.#conn = conn;
    this.requestId = requestId;
  }

  push(ev: TurnEvent): void {
    this.heard = true;
    if (ev.kind === 'audio') this.audioBytes += ev.bytes.byteLength;
    this.#queue.push(ev);
    if (this.#queue.length > HIGH_WATER) this.#conn.ws.pause();
    this.#poke();
  }

  /** Something arrived that is not audio (turn.start, metadata): it still proves the link alive. */
  touch(): void {
    this.heard = true;
    this.#poke();
  }

  fail(err: XzError): void {
    this.#error ??= err;
    this.#poke();
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /**
   * The next event; rejects on abort (XZ_ERR_ABORTED), on a failure of the socket, or when
   * nothing at all arrives for `stallMs`.
   */
  async next(signal: AbortSignal, stallMs: number, vendor: string): Promise<TurnEvent> {
    for (;;) {
      // Abort wins over anything still queued: the caller wants silence now.
      if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, `${vendor}: synthesis aborted`);
      const ev = this.#queue.shift();
      if (ev) {
        if (this.#queue.length === HIGH_WATER / 2) this.#conn.ws.resume();
        return ev;
      }
      if (this.#error) throw this.#error;
      const woke = await new Promise<'stall' | 'poke'>((resolve) => {
        const done = (why: 'stall' | 'poke'): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.#wake = undefined;
          resolve(why);
        };
        const onAbort = (): void => done('poke');
        const timer = setTimeout(() => done('stall'), stallMs);
        signal.addEventListener('abort', onAbort, { once: true });
        this.#wake = () => done('poke');
      });
      if (woke === 'stall' && this.#queue.length === 0 && !this.#error && !signal.aborted) {
        throw new XzError(VENDOR.XZ_ERR_VENDOR_STALL, `${vendor}: nothing received for ${stallMs} ms`, { details: { vendor, stallMs } });
      }
    }
  }
}

export class EdgeConnection {
  readonly ws: WebSocket;
  readonly #vendor: string;
  #turn: Turn | undefined;
  #closed = false;
  /** Requests finished on this socket (a reused socket may have been closed by the server while idle). */
  served = 0;
  onClosed: (() => void) | undefined;

  constructor(ws: WebSocket, o: ConnectOptions) {
    this.ws = ws;
    this.#vendor = o.vendor;
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#message(data, isBinary));
    ws.on('error', () => {}); // a 'close' always follows and carries what we report
    ws.on('close', (code: number, reason: Buffer) => this.#close(code, reason.toString('utf8')));
    ws.send(speechConfig(o.format, Date.now()));
  }

  get usable(): boolean {
    return !this.#closed && this.#turn === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  start(requestId: string, ssmlText: string): Turn {
    const turn = new Turn(this, requestId);
    this.#turn = turn;
    this.ws.send(ssmlMessage(requestId, ssmlText, Date.now()));
    return turn;
  }

  /** Gives the socket up: politely, with a hard stop in case the peer never answers the close. */
  destroy(): void {
    // A request still waiting on this socket (the pool is closing) fails through #close.
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    setTimeout(() => this.ws.terminate(), 1000).unref();
    this.#close(1000, 'closed by client');
  }

  #message(data: Buffer, isBinary: boolean): void {
    const turn = this.#turn;
    const msg = isBinary ? parseBinary(data) : parseText(data.toString('utf8'));
    if (!turn || !msg || msg.headers.get('x-requestid') !== turn.requestId) return; // stale or foreign
    const path = msg.headers.get('path');
    if (isBinary) {
      // The stream's last binary frame has no payload: the end is turn.end, not this.
      if (path === 'audio' && msg.body.length > 0) turn.push({ kind: 'audio', bytes: msg.body as Uint8Array });
      else turn.touch();
    } else if (path === 'turn.end') {
      this.#turn = undefined;
      this.served++;
      turn.push({ kind: 'end' });
    } else turn.touch(); // turn.start, response, audio.metadata: ignorable bodies
  }

  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const turn = this.#turn;
    this.#turn = undefined;
    turn?.fail(closeError(this.#vendor, code, reason, turn.heard));
    this.onClosed?.();
  }
}
