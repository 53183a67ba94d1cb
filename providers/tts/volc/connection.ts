/**
 * v3 bidirectional TTS connections and their pool (vendors.md §7.3). One connection carries
 * many sessions, one at a time: the handshake and StartConnection are paid once and reused
 * across sentences and turns. A session holds its connection exclusively until the server has
 * closed the session (finished, cancelled or failed); then the connection goes back to the pool.
 * A connection the server closed is dropped and the next session opens a new one.
 *
 * The connection routes session frames by session id to the session attached to it; frames of
 * an earlier (cancelled) session can still arrive and are dropped.
 */
import { randomUUID } from 'node:crypto';
import type WebSocket from 'ws';
import { E, XzError } from '../../../runtime/errors.js';
import { errorText, VOLC, volcError } from '../../volc/errors.js';
import { decodeFrame, encodeFrame, Ev, frameJson, MsgType, type Frame } from '../../volc/frame.js';
import { closeSoon, connectVolc, sendFrame, v3Headers } from '../../volc/socket.js';
import type { VolcTtsConfig } from './config.js';

export interface SessionSink {
  readonly id: string;
  onFrame(f: Frame): void;
  /** The connection is gone (closed, failed, or an error frame). */
  onBroken(err: XzError): void;
}

/** TTS headers: the app id under both names the gateway's clients use (see v3Headers). */
export function headers(cfg: VolcTtsConfig, connectId: string): Record<string, string> {
  return v3Headers(cfg.credentials, connectId, ['X-Api-App-Key', 'X-Api-App-Id']);
}

export class TtsConnection {
  readonly connectId: string;
  #ws: WebSocket | null = null;
  #logId: string | undefined;
  #sink: SessionSink | null = null;
  #sessions = 0;
  #alive = true;
  #onDead: (c: TtsConnection) => void = () => {};
  #started: { resolve: () => void; reject: (e: unknown) => void } | null = null;

  private constructor() {
    this.connectId = randomUUID();
  }

  /** Connects and completes StartConnection → ConnectionStarted. */
  static async open(cfg: VolcTtsConfig, signal: AbortSignal, onDead: (c: TtsConnection) => void): Promise<TtsConnection> {
    const c = new TtsConnection();
    const { ws, logId } = await connectVolc({ url: cfg.url, headers: headers(cfg, c.connectId), timeoutMs: cfg.connectTimeoutMs, signal, where: 'tts' });
    c.#ws = ws;
    c.#logId = logId;
    ws.on('message', (data: Buffer, isBinary: boolean) => c.#onMessage(data, isBinary));
    ws.on('close', (code: number) => c.#broken(new XzError(VOLC.XZ_ERR_VOLC_CONNECT, `Volcengine tts: connection closed (${code})`, { details: c.#details() })));
    const started = new Promise<void>((resolve, reject) => (c.#started = { resolve, reject }));
    const timer = setTimeout(
      () => c.#broken(new XzError(VOLC.XZ_ERR_VOLC_STALL, `Volcengine tts: no ConnectionStarted within ${cfg.connectTimeoutMs} ms`, { details: c.#details() })),
      cfg.connectTimeoutMs,
    );
    const onAbort = (): void => c.kill();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      c.send(encodeFrame({ type: MsgType.FullClientRequest, event: Ev.StartConnection, payload: {} }));
      await started;
      if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, 'tts: aborted while connecting');
    } catch (e) {
      c.kill();
      throw signal.aborted ? new XzError(E.XZ_ERR_ABORTED, 'tts: aborted while connecting') : e;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    c.#onDead = onDead;
    return c;
  }

  get alive(): boolean {
    return this.#alive;
  }

  get logId(): string | undefined {
    return this.#logId;
  }

  /** Sessions this connection has carried (the current one included). */
  get sessions(): number {
    return this.#sessions;
  }

  attach(sink: SessionSink): void {
    this.#sink = sink;
    this.#sessions++;
  }

  detach(sink: SessionSink): void {
    if (this.#sink === sink) this.#sink = null;
  }

  send(frame: Buffer): boolean {
    return this.#alive && this.#ws !== null && sendFrame(this.#ws, frame);
  }

  /** Ends politely: FinishConnection, then the socket closes (the server closes after ConnectionFinished). */
  finish(): void {
    if (!this.#alive) return;
    this.send(encodeFrame({ type: MsgType.FullClientRequest, event: Ev.FinishConnection, payload: {} }));
    this.#alive = false;
    if (this.#ws) closeSoon(this.#ws, 1000, 500);
    this.#onDead(this);
  }

  /** Drops the connection now (its state is unknown: a stall, a cancel that never completed). */
  kill(): void {
    this.#broken(new XzError(VOLC.XZ_ERR_VOLC_CONNECT, 'Volcengine tts: connection dropped', { details: this.#details() }));
    this.#ws?.terminate();
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (!isBinary) {
      // Text frames report abnormal errors (§7.3.8).
      this.#fatal(volcError(undefined, data.toString('utf8'), this.#ctx()));
      return;
    }
    let f: Frame;
    try {
      f = decodeFrame(data);
    } catch (e) {
      this.#fatal(e as XzError);
      return;
    }
    if (f.type === MsgType.Error) {
      this.#fatal(volcError(f.errorCode, errorText(f.payload), this.#ctx()));
      return;
    }
    switch (f.event) {
      case Ev.ConnectionStarted:
        this.#started?.resolve();
        this.#started = null;
        return;
      case Ev.ConnectionFailed: {
        const j = safeJson(f);
        this.#fatal(volcError(num(j.status_code), String(j.message ?? j.error ?? 'connection failed'), this.#ctx()));
        return;
      }
      case Ev.ConnectionFinished:
        this.#broken(new XzError(VOLC.XZ_ERR_VOLC_CONNECT, 'Volcengine tts: connection finished by the server', { details: this.#details() }));
        return;
      default:
        if (this.#sink && f.sessionId === this.#sink.id) this.#sink.onFrame(f);
    }
  }

  #fatal(err: XzError): void {
    this.#broken(err);
    if (this.#ws) closeSoon(this.#ws, 1000, 500);
  }

  #broken(err: XzError): void {
    const first = this.#alive;
    this.#alive = false;
    this.#started?.reject(err);
    this.#started = null;
    const sink = this.#sink;
    this.#sink = null;
    sink?.onBroken(err);
    if (first) this.#onDead(this);
  }

  #details(): Record<string, unknown> {
    return { vendor: 'volc', where: 'tts', logId: this.#logId, connectId: this.connectId };
  }

  #ctx(): { where: string; logId: string | undefined } {
    return { where: 'tts', logId: this.#logId };
  }
}

export function safeJson(f: Frame): Record<string, unknown> {
  try {
    return frameJson(f);
  } catch {
    return {};
  }
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Idle connections kept open for the next session; at most `maxIdle` of them. */
export class ConnectionPool {
  readonly #cfg: VolcTtsConfig;
  #idle: TtsConnection[] = [];
  readonly #all = new Set<TtsConnection>();
  #closed = false;

  constructor(cfg: VolcTtsConfig) {
    this.#cfg = cfg;
  }

  /** Connections open now (busy or idle). */
  get size(): number {
    return this.#all.size;
  }

  async acquire(signal: AbortSignal): Promise<TtsConnection> {
    if (this.#closed) throw new XzError(VOLC.XZ_ERR_VOLC_CONNECT, 'Volcengine tts: provider closed');
    for (let c = this.#idle.pop(); c; c = this.#idle.pop()) if (c.alive) return c;
    const c = await TtsConnection.open(this.#cfg, signal, (dead) => this.#forget(dead));
    if (this.#closed) {
      c.finish();
      throw new XzError(VOLC.XZ_ERR_VOLC_CONNECT, 'Volcengine tts: provider closed');
    }
    this.#all.add(c);
    if (!c.alive) this.#forget(c); // died between its handshake and here
    return c;
  }

  release(c: TtsConnection): void {
    if (!c.alive) return;
    if (this.#closed || this.#idle.length >= this.#cfg.maxIdle) c.finish();
    else this.#idle.push(c);
  }

  close(): void {
    this.#closed = true;
    for (const c of [...this.#all]) c.finish();
    this.#idle = [];
  }

  #forget(c: TtsConnection): void {
    this.#all.delete(c);
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
  }
}
