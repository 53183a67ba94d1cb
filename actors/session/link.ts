/**
 * The session's handle on its device socket. uWS forbids touching a socket after its close
 * event, and messages from workers can arrive after that, so every send checks one closed flag
 * first. Text and audio leave in the framing chosen for this connection; a burst of sends is
 * corked into one syscall.
 */
import type { WebSocket } from '../../native/uws.js';
import { encodeDownlink, type Framing } from '../frontdoor/framing.js';

/** What a send did: uWS 1 = written, 0 = buffered (backpressure), 2 = dropped; -1 = socket closed. */
export type SendResult = -1 | 0 | 1 | 2;

export interface LinkStats {
  textSent: number;
  audioSent: number;
  bytesSent: number;
  backpressured: number;
  dropped: number;
}

export class DeviceLink {
  closed = false;
  framing: Framing | undefined;
  readonly stats: LinkStats = { textSent: 0, audioSent: 0, bytesSent: 0, backpressured: 0, dropped: 0 };
  readonly #ws: WebSocket<unknown>;

  constructor(ws: WebSocket<unknown>, framing: Framing | undefined) {
    this.#ws = ws;
    this.framing = framing;
  }

  sendJson(value: unknown): SendResult {
    return this.sendText(JSON.stringify(value));
  }

  sendText(text: string): SendResult {
    if (this.closed) return -1;
    const r = this.#ws.send(text, false, false) as SendResult;
    this.stats.textSent++;
    this.#count(r, text.length);
    return r;
  }

  /** One Opus packet in this connection's framing (v1 until the hello decides otherwise). */
  sendAudio(opus: Uint8Array, timestampMs = 0): SendResult {
    if (this.closed) return -1;
    const frame = encodeDownlink(this.framing ?? 1, opus, timestampMs);
    const r = this.#ws.send(frame, true, false) as SendResult;
    this.stats.audioSent++;
    this.#count(r, frame.byteLength);
    return r;
  }

  /** Runs several sends as one write. */
  cork(fn: () => void): void {
    if (this.closed) return;
    this.#ws.cork(fn);
  }

  bufferedAmount(): number {
    return this.closed ? 0 : this.#ws.getBufferedAmount();
  }

  /** Closes with a close frame (code 1000–4999); the device treats any close as "channel closed". */
  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.closed = true;
    this.#ws.end(code, reason);
  }

  #count(r: SendResult, bytes: number): void {
    if (r === 2) this.stats.dropped++;
    else {
      this.stats.bytesSent += bytes;
      if (r === 0) this.stats.backpressured++;
    }
  }
}
