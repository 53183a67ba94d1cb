/**
 * One utterance against the bigmodel endpoint (vendors.md §6.3–6.7):
 *
 *   connect (X-Api-* headers) → full client request (gzip JSON) → audio-only packets of
 *   `packet_ms` each as written → the rest with the "last" flag on end() → server responses
 *   (growing text, `definite` utterances) → the response flagged last is the final → close.
 *
 * Audio written before the socket opens is queued and sent in order right after the request.
 * Partials carry the text so far; the single final carries the whole utterance (definite
 * sentences accumulated in `single` mode, where the service does not repeat them).
 * Abort, or the reader leaving, closes the socket at once.
 */
import type WebSocket from 'ws';
import { E, XzError } from '../../../runtime/errors.js';
import type { AsrEvent, AsrOptions, AsrStream } from '../../contracts/asr.js';
import { ASR } from '../errors.js';
import { Channel } from '../../volc/channel.js';
import { errorText, VOLC, volcError } from '../../volc/errors.js';
import { Compression, decodeFrame, encodeFrame, frameJson, isLast, MsgType, Flag, type Frame } from '../../volc/frame.js';
import { closeSoon, connectVolc, sendFrame, v3Headers } from '../../volc/socket.js';
import { fullRequest, type VolcAsrConfig } from './config.js';

const BYTES_PER_MS = 32; // 16 kHz × 2 bytes
// Audio hardly compresses: the cheapest gzip level keeps the per-packet cost low.
const AUDIO_GZIP_LEVEL = 1;
const LANGS = new Set(['zh', 'en', 'yue']);

interface Utterance {
  text?: unknown;
  definite?: unknown;
  start_time?: unknown;
  end_time?: unknown;
}

export class VolcAsrStream implements AsrStream {
  readonly #cfg: VolcAsrConfig;
  readonly #opts: AsrOptions;
  readonly #events: Channel<AsrEvent>;
  readonly #stop = new AbortController(); // ours: abort, reader gone, or provider closing
  readonly #packetBytes: number;
  readonly #onGone: (s: VolcAsrStream) => void;
  #ws: WebSocket | null = null;
  #logId: string | undefined;
  #queued: Buffer[] = []; // frames waiting for the socket
  #pending: Buffer[] = []; // audio not yet a whole packet
  #pendingBytes = 0;
  #seq = 1;
  #ended = false;
  #done = false;
  #finalTimer: NodeJS.Timeout | undefined;
  #committed = new Map<string, string>(); // single mode: definite sentences by time span
  #lastText = '';

  constructor(cfg: VolcAsrConfig, opts: AsrOptions, onGone: (s: VolcAsrStream) => void) {
    this.#cfg = cfg;
    this.#opts = opts;
    this.#onGone = onGone;
    this.#packetBytes = Math.round(cfg.packetMs * BYTES_PER_MS);
    this.#events = new Channel<AsrEvent>(opts.signal, () => new XzError(E.XZ_ERR_ABORTED, 'recognition aborted'), () => this.shutdown());
    if (opts.signal.aborted) {
      this.shutdown();
      return;
    }
    opts.signal.addEventListener('abort', () => this.shutdown(), { once: true, signal: this.#stop.signal });
    const lang = opts.language?.toLowerCase().split(/[-_]/)[0];
    if (lang !== undefined && !LANGS.has(lang)) {
      this.#fail(new XzError(ASR.XZ_ERR_ASR_LANGUAGE, `Volcengine bigmodel ASR does not recognise ${opts.language}`));
      return;
    }
    this.#queued.push(this.#frame(MsgType.FullClientRequest, Buffer.from(JSON.stringify(fullRequest(cfg, opts))), false));
    void this.#connect();
  }

  write(pcm: Int16Array): void {
    if (this.#ended) throw new XzError(ASR.XZ_ERR_ASR_MISUSE, 'write() after end()');
    if (this.#done || pcm.length === 0) return;
    // s16le on the wire; every platform Node runs on here is little-endian.
    this.#pending.push(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
    this.#pendingBytes += pcm.byteLength;
    while (this.#pendingBytes >= this.#packetBytes) this.#send(this.#frame(MsgType.AudioOnlyRequest, this.#take(this.#packetBytes), false));
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#done) return;
    // The rest of the audio (possibly none: an empty gzip member marks the end) goes out flagged last.
    this.#send(this.#frame(MsgType.AudioOnlyRequest, this.#take(this.#pendingBytes), true));
    this.#armFinalTimer();
  }

  /** True once the stream has nothing more to do (final, failure or shutdown). */
  get finished(): boolean {
    return this.#done;
  }

  [Symbol.asyncIterator](): AsyncIterator<AsrEvent> {
    return this.#events[Symbol.asyncIterator]();
  }

  /** Closes the socket now; the iteration (if any) reports why. */
  shutdown(): void {
    if (!this.#stop.signal.aborted) this.#stop.abort();
    this.#done = true;
    clearTimeout(this.#finalTimer);
    this.#queued = [];
    this.#pending = [];
    if (this.#ws) closeSoon(this.#ws);
    if (this.#opts.signal.aborted) this.#events.fail(new XzError(E.XZ_ERR_ABORTED, 'recognition aborted'));
    else this.#events.fail(new XzError(E.XZ_ERR_ABORTED, 'recognition stopped'));
    this.#onGone(this);
  }

  #take(n: number): Buffer {
    const all = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    const out = Buffer.from(all.subarray(0, n)); // copied: the caller's array may be transferred
    const rest = all.subarray(n);
    this.#pending = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.#pendingBytes = rest.length;
    return out;
  }

  #frame(type: number, payload: Buffer, last: boolean): Buffer {
    const gzip = this.#cfg.compression === 'gzip';
    const explicit = this.#cfg.numbering === 'explicit';
    const seq = this.#seq++;
    return encodeFrame({
      type,
      flags: last ? Flag.Last : 0,
      // The explicit style numbers 1, 2, …, and negates the last one.
      ...(explicit ? { sequence: last ? -seq : seq } : {}),
      serialization: type === MsgType.FullClientRequest ? 1 : 0,
      compression: gzip ? Compression.Gzip : Compression.None,
      payload,
      ...(type === MsgType.AudioOnlyRequest ? { level: AUDIO_GZIP_LEVEL } : {}),
    });
  }

  #send(frame: Buffer): void {
    if (this.#ws) sendFrame(this.#ws, frame);
    else this.#queued.push(frame);
  }

  async #connect(): Promise<void> {
    const cfg = this.#cfg;
    try {
      const { ws, logId } = await connectVolc({
        url: cfg.url,
        headers: v3Headers(cfg.credentials),
        timeoutMs: cfg.connectTimeoutMs,
        signal: this.#stop.signal,
        where: 'asr',
      });
      if (this.#done) {
        closeSoon(ws);
        return;
      }
      this.#ws = ws;
      this.#logId = logId;
      ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
      ws.on('close', (code: number, reason: Buffer) => this.#onClose(code, reason.toString('utf8')));
      for (const f of this.#queued) sendFrame(ws, f);
      this.#queued = [];
    } catch (e) {
      this.#fail(e);
    }
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#done) return;
    if (!isBinary) {
      // The gateway reports some abnormal errors as text frames.
      this.#fail(volcError(undefined, data.toString('utf8'), this.#ctx()));
      return;
    }
    let f: Frame;
    try {
      f = decodeFrame(data);
      if (f.type === MsgType.Error) throw volcError(f.errorCode, errorText(f.payload), this.#ctx());
      if (f.type !== MsgType.FullServerResponse) return; // ACKs carry nothing we need
      this.#onResult(frameJson(f), isLast(f));
    } catch (e) {
      this.#fail(e);
    }
  }

  #onResult(json: Record<string, unknown>, last: boolean): void {
    // v2 answers carry `code` (1000 ok, 1013 silence) and an array `result`; v3 an object.
    const code = typeof json.code === 'number' ? json.code : undefined;
    if (code !== undefined && code !== 1000 && code !== 1013 && code !== 20_000_000) {
      throw volcError(code, String(json.message ?? ''), this.#ctx());
    }
    const raw = Array.isArray(json.result) ? json.result[0] : json.result;
    const result = (typeof raw === 'object' && raw !== null ? raw : {}) as { text?: unknown; utterances?: unknown };
    const text = this.#text(result);
    if (last) {
      this.#done = true;
      clearTimeout(this.#finalTimer);
      this.#events.push({ kind: 'final', text: text || this.#lastText });
      this.#events.end();
      if (this.#ws) closeSoon(this.#ws);
      this.#stop.abort();
      this.#onGone(this);
      return;
    }
    if (text !== '' && text !== this.#lastText) {
      this.#lastText = text;
      this.#events.push({ kind: 'partial', text });
    }
  }

  #text(result: { text?: unknown; utterances?: unknown }): string {
    const utts = (Array.isArray(result.utterances) ? result.utterances : []) as Utterance[];
    const whole = typeof result.text === 'string' ? result.text : '';
    if (this.#cfg.resultType === 'full' || utts.length === 0) {
      if (this.#cfg.resultType === 'full') return whole.trim();
      return [...this.#committed.values(), whole].join('').trim();
    }
    let open = '';
    for (const u of utts) {
      const t = typeof u.text === 'string' ? u.text : '';
      if (u.definite === true) this.#committed.set(`${String(u.start_time)}-${String(u.end_time)}`, t);
      else open += t;
    }
    return [...this.#committed.values(), open].join('').trim();
  }

  #armFinalTimer(): void {
    clearTimeout(this.#finalTimer);
    this.#finalTimer = setTimeout(() => {
      this.#fail(new XzError(VOLC.XZ_ERR_VOLC_STALL, `Volcengine asr: no final result within ${this.#cfg.finalTimeoutMs} ms of the last packet`, {
        details: { vendor: 'volc', where: 'asr', logId: this.#logId },
      }));
    }, this.#cfg.finalTimeoutMs);
  }

  #onClose(code: number, reason: string): void {
    if (this.#done) return;
    this.#fail(new XzError(VOLC.XZ_ERR_VOLC_CONNECT, `Volcengine asr: connection closed before the final result (${code}${reason ? ` ${reason}` : ''})`, {
      details: { vendor: 'volc', where: 'asr', closeCode: code, logId: this.#logId },
    }));
  }

  #fail(e: unknown): void {
    if (this.#done && this.#events.settled) return;
    this.#done = true;
    clearTimeout(this.#finalTimer);
    this.#events.fail(e);
    if (this.#ws) closeSoon(this.#ws);
    if (!this.#stop.signal.aborted) this.#stop.abort();
    this.#onGone(this);
  }

  #ctx(): { where: string; logId: string | undefined } {
    return { where: 'asr', logId: this.#logId };
  }
}
