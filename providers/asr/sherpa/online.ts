/**
 * One utterance on a streaming sherpa-onnx recognizer: audio is handed to the engine as it is
 * written, decoded chunk by chunk, a partial is emitted whenever the text changes, and end()
 * flushes the tail and emits the final.
 *
 * The addon's decode() is synchronous and CPU-heavy (one model chunk, a few hundred ms of audio,
 * per call). Decoding everything that is ready in one go would hold the worker's event loop for
 * as long as the backlog takes and stall every other session's messages on the thread; so each
 * macrotask decodes one chunk and yields (setImmediate). The cost is a little scheduling overhead
 * per chunk and a final that may come one turn of the loop later; mailbox latency stays bounded
 * by one chunk's decode, whatever the backlog.
 */
import { E, XzError } from '../../../runtime/errors.js';
import { toFloat32, type OnlineRecognizer, type OnlineStream } from '../../../native/sherpa.js';
import type { AsrEvent, AsrOptions, AsrStream } from '../../contracts/asr.js';
import { UPLINK_RATE } from '../../contracts/audio.js';
import { ASR } from '../errors.js';
import { Channel } from '../../volc/channel.js';
import { engineError } from '../../sherpa/common.js';

// Silence appended at end(): a streaming model holds back the last frames until it has seen
// enough right context, so without it the utterance's last word can be lost.
const TAIL_PADDING = new Float32Array(Math.round(UPLINK_RATE * 0.4));

export class OnlineSherpaStream implements AsrStream {
  readonly #recognizer: OnlineRecognizer;
  readonly #stream: OnlineStream | null;
  readonly #events: Channel<AsrEvent>;
  readonly #id: string;
  #ended = false;
  #done = false;
  #pumping = false;
  #text = '';

  constructor(id: string, recognizer: OnlineRecognizer, opts: AsrOptions, refuse: XzError | null) {
    this.#id = id;
    this.#recognizer = recognizer;
    this.#events = new Channel<AsrEvent>(opts.signal, () => new XzError(E.XZ_ERR_ABORTED, `${id}: recognition aborted`), () => this.#stop());
    if (refuse || opts.signal.aborted) {
      this.#stream = null;
      this.#done = true;
      if (refuse) this.#events.fail(refuse);
      return;
    }
    opts.signal.addEventListener('abort', () => this.#stop(), { once: true });
    let stream: OnlineStream | null = null;
    try {
      stream = recognizer.createStream();
    } catch (e) {
      this.#fail(e);
    }
    this.#stream = stream;
  }

  write(pcm: Int16Array): void {
    if (this.#ended) throw new XzError(ASR.XZ_ERR_ASR_MISUSE, 'write() after end()');
    if (this.#done || pcm.length === 0 || !this.#stream) return;
    try {
      this.#stream.acceptWaveform({ samples: toFloat32(pcm), sampleRate: UPLINK_RATE });
    } catch (e) {
      this.#fail(e);
      return;
    }
    this.#schedule();
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#done || !this.#stream) return;
    try {
      this.#stream.acceptWaveform({ samples: TAIL_PADDING, sampleRate: UPLINK_RATE });
      this.#stream.inputFinished();
    } catch (e) {
      this.#fail(e);
      return;
    }
    this.#schedule();
  }

  [Symbol.asyncIterator](): AsyncIterator<AsrEvent> {
    return this.#events[Symbol.asyncIterator]();
  }

  #schedule(): void {
    if (this.#pumping || this.#done) return;
    this.#pumping = true;
    setImmediate(() => this.#pump());
  }

  /** Decodes one chunk, reports a changed text, and comes back on the next turn if more is ready. */
  #pump(): void {
    this.#pumping = false;
    const s = this.#stream;
    if (this.#done || !s) return;
    try {
      if (this.#recognizer.isReady(s)) {
        this.#recognizer.decode(s);
        const text = this.#recognizer.getResult(s).text.trim();
        if (text !== this.#text) {
          this.#text = text;
          if (!this.#ended) this.#events.push({ kind: 'partial', text });
        }
        this.#schedule();
        return;
      }
    } catch (e) {
      this.#fail(e);
      return;
    }
    if (this.#ended) {
      this.#done = true;
      this.#events.push({ kind: 'final', text: this.#text });
      this.#events.end();
    }
  }

  #fail(e: unknown): void {
    this.#done = true;
    this.#events.fail(engineError(`${this.#id}: decoding failed`, e));
  }

  /** Abort or the reader leaving: no more decoding (the native stream is freed with this object). */
  #stop(): void {
    this.#done = true;
  }
}
