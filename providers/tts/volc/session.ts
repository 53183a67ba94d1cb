/**
 * One v3 bidirectional TTS session (vendors.md §7.3.5) as a TtsSession:
 *
 *   take a pooled connection → StartSession → wait SessionStarted → TaskRequest per text piece
 *   (pieces pushed earlier wait for SessionStarted) → FinishSession on end() → TTSResponse audio
 *   streamed out as PCM → SessionFinished → the connection goes back to the pool.
 *
 * Abort (or the reader leaving) stops the iteration at once; the session is then cancelled on
 * the wire (CancelSession, valid between SessionStarted and FinishSession; after FinishSession
 * it is left to finish) and the connection is reused once the server confirms, or dropped if it
 * does not within `cancel_timeout_ms`. Silence from the server while it owes us something
 * (SessionStarted, or audio after FinishSession) beyond `stall_ms` fails the session and drops
 * the connection, whose state is then unknown.
 */
import { randomUUID } from 'node:crypto';
import { E, XzError } from '../../../runtime/errors.js';
import type { PcmChunk } from '../../contracts/audio.js';
import type { TtsSession, Voice } from '../../contracts/tts.js';
import { Channel } from '../../volc/channel.js';
import { VOLC, VOLC_OK, volcError } from '../../volc/errors.js';
import { encodeFrame, Ev, MsgType, type Frame } from '../../volc/frame.js';
import { reqParams, startSessionPayload, taskPayload, type VolcTtsConfig } from './config.js';
import { num, safeJson, type ConnectionPool, type SessionSink, type TtsConnection } from './connection.js';

type State = 'acquiring' | 'starting' | 'started' | 'finishing' | 'cancelling' | 'done';

// A reused connection may have died while idle without us noticing: one more try on a new one.
const MAX_ATTEMPTS = 2;

export class VolcTtsSession implements TtsSession, SessionSink {
  id = randomUUID(); // unique per attempt: the vendor refuses reused ids
  readonly #cfg: VolcTtsConfig;
  readonly #pool: ConnectionPool;
  readonly #voice: Voice;
  readonly #params: Record<string, unknown>;
  readonly #out: Channel<PcmChunk>;
  readonly #stop = new AbortController();
  #state: State = 'acquiring';
  #conn: TtsConnection | null = null;
  #texts: string[] = [];
  #ending = false;
  #abandoned = false;
  #attempts = 0;
  #timer: NodeJS.Timeout | undefined;
  #carry = -1; // a dangling byte: audio frames need not hold whole samples

  constructor(cfg: VolcTtsConfig, pool: ConnectionPool, voice: Voice, signal: AbortSignal) {
    this.#cfg = cfg;
    this.#pool = pool;
    this.#voice = voice;
    this.#params = reqParams(cfg, voice);
    this.#out = new Channel<PcmChunk>(signal, () => new XzError(E.XZ_ERR_ABORTED, 'synthesis aborted'), () => this.#abandon());
    if (signal.aborted) {
      this.#abandoned = true;
      this.#state = 'done';
      return;
    }
    signal.addEventListener('abort', () => this.#abandon(), { once: true, signal: this.#stop.signal });
    void this.#begin();
  }

  pushText(text: string): void {
    if (this.#ending) throw new XzError(E.XZ_ERR_INTERNAL, 'pushText() after end()');
    if (text === '' || this.#abandoned || this.#state === 'done') return;
    if (this.#state === 'started') this.#task(text);
    else this.#texts.push(text);
  }

  end(): void {
    if (this.#ending) return;
    this.#ending = true;
    if (this.#state === 'started') this.#finish();
  }

  [Symbol.asyncIterator](): AsyncIterator<PcmChunk> {
    return this.#out[Symbol.asyncIterator]();
  }

  async #begin(): Promise<void> {
    let conn: TtsConnection;
    try {
      conn = await this.#pool.acquire(this.#stop.signal);
    } catch (e) {
      this.#settle();
      if (!this.#abandoned) this.#out.fail(e);
      return;
    }
    if (this.#abandoned) {
      this.#pool.release(conn);
      this.#state = 'done';
      return;
    }
    this.#attempts++;
    this.#conn = conn;
    this.#state = 'starting';
    conn.attach(this);
    this.#armStall();
    const start = encodeFrame({ type: MsgType.FullClientRequest, event: Ev.StartSession, sessionId: this.id, payload: startSessionPayload(this.#cfg, this.#voice) });
    if (!conn.send(start)) this.onBroken(new XzError(VOLC.XZ_ERR_VOLC_CONNECT, 'Volcengine tts: connection closed before StartSession'));
  }

  onFrame(f: Frame): void {
    switch (f.event) {
      case Ev.SessionStarted:
        if (this.#state !== 'starting') return;
        this.#state = 'started';
        clearTimeout(this.#timer);
        if (this.#abandoned) return this.#cancel();
        for (const t of this.#texts) this.#task(t);
        this.#texts = [];
        if (this.#ending) this.#finish();
        return;
      case Ev.TTSResponse:
        if (!this.#abandoned) this.#audio(f.payload);
        if (this.#state === 'finishing') this.#armStall();
        return;
      case Ev.SessionFinished:
      case Ev.SessionCanceled: {
        const j = safeJson(f);
        const code = num(j.status_code);
        const err = code !== undefined && code !== VOLC_OK && f.event === Ev.SessionFinished ? volcError(code, String(j.message ?? ''), this.#ctx()) : null;
        this.#settle();
        if (err) this.#out.fail(err);
        else this.#out.end();
        return;
      }
      case Ev.SessionFailed: {
        const j = safeJson(f);
        const err = volcError(num(j.status_code), String(j.message ?? j.error ?? 'session failed'), this.#ctx());
        this.#settle();
        this.#out.fail(err);
        return;
      }
      default:
        // Sentence start/end, subtitles, usage: progress, so not a stall.
        if (this.#state === 'finishing') this.#armStall();
    }
  }

  onBroken(err: XzError): void {
    const conn = this.#conn;
    this.#conn = null;
    conn?.detach(this);
    if (this.#state === 'done') return;
    clearTimeout(this.#timer);
    const retry = this.#state === 'starting' && !this.#abandoned && this.#attempts < MAX_ATTEMPTS && err.code === VOLC.XZ_ERR_VOLC_CONNECT && (conn?.sessions ?? 0) > 1;
    if (retry) {
      this.id = randomUUID();
      this.#state = 'acquiring';
      void this.#begin();
      return;
    }
    this.#state = 'done';
    this.#stop.abort();
    if (!this.#abandoned) this.#out.fail(err);
  }

  #task(text: string): void {
    this.#conn?.send(encodeFrame({ type: MsgType.FullClientRequest, event: Ev.TaskRequest, sessionId: this.id, payload: taskPayload(this.#params, text) }));
  }

  #finish(): void {
    this.#state = 'finishing';
    this.#conn?.send(encodeFrame({ type: MsgType.FullClientRequest, event: Ev.FinishSession, sessionId: this.id, payload: {} }));
    this.#armStall();
  }

  #cancel(): void {
    this.#state = 'cancelling';
    this.#conn?.send(encodeFrame({ type: MsgType.FullClientRequest, event: Ev.CancelSession, sessionId: this.id, payload: {} }));
    this.#armCancelWait();
  }

  /** Nobody wants the audio any more (abort, or the reader left early). */
  #abandon(): void {
    if (this.#abandoned || this.#state === 'done') return;
    this.#abandoned = true;
    switch (this.#state) {
      case 'acquiring':
        this.#stop.abort(); // ends the handshake in flight; #begin sees it fail
        return;
      case 'started':
        return this.#cancel();
      case 'starting': // cancelled once SessionStarted arrives
      case 'finishing': // too late to cancel: let it finish, dropping the audio
        return this.#armCancelWait();
      case 'cancelling':
        return;
    }
  }

  #audio(bytes: Uint8Array): void {
    let src = bytes;
    if (this.#carry >= 0) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.#carry;
      joined.set(bytes, 1);
      src = joined;
      this.#carry = -1;
    }
    const samples = src.length >> 1;
    if (src.length & 1) this.#carry = src[src.length - 1]!;
    if (samples === 0) return;
    // A fresh buffer per chunk: the receiver owns it and may transfer it to another thread.
    const pcm = new Int16Array(samples);
    new Uint8Array(pcm.buffer).set(src.subarray(0, samples * 2));
    this.#out.push({ pcm, sampleRate: this.#cfg.sampleRate });
  }

  #armStall(): void {
    clearTimeout(this.#timer);
    if (this.#abandoned) return this.#armCancelWait();
    this.#timer = setTimeout(() => {
      const err = new XzError(VOLC.XZ_ERR_VOLC_STALL, `Volcengine tts: no answer for ${this.#cfg.stallMs} ms (${this.#state})`, { details: { vendor: 'volc', ...this.#ctx() } });
      this.#drop(err);
    }, this.#cfg.stallMs);
  }

  #armCancelWait(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#drop(new XzError(E.XZ_ERR_ABORTED, 'synthesis aborted')), this.#cfg.cancelTimeoutMs);
  }

  /** Fails the session and drops its connection, whose state we no longer know. */
  #drop(err: XzError): void {
    const conn = this.#conn;
    this.#conn = null;
    conn?.detach(this);
    this.#state = 'done';
    this.#stop.abort();
    if (!this.#abandoned) this.#out.fail(err);
    conn?.kill();
  }

  /** The server closed the session: the connection is free for the next one. */
  #settle(): void {
    clearTimeout(this.#timer);
    this.#state = 'done';
    this.#stop.abort();
    const conn = this.#conn;
    this.#conn = null;
    if (conn) {
      conn.detach(this);
      this.#pool.release(conn);
    }
  }

  #ctx(): { where: string; logId: string | undefined } {
    return { where: 'tts session', logId: this.#conn?.logId };
  }
}
