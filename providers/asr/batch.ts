/**
 * A batch recognizer (one request per utterance) wrapped to look like a stream, as the ASR
 * contract asks: `write` buffers audio (up to a cap), `end` starts the recognition at once, and
 * iterating yields one final result — or fails with XZ_ERR_ABORTED the moment the signal fires,
 * whatever the recognizer is still doing.
 */
import type { AsrEvent, AsrOptions, AsrStream } from '../contracts/asr.js';
import { UPLINK_RATE } from '../contracts/audio.js';
import { E, XzError } from '../../runtime/errors.js';
import { ASR } from './errors.js';

export interface BatchRecognizer {
  readonly id: string;
  /** Longest utterance kept; audio past it is dropped. */
  readonly maxSeconds: number;
  /** Recognizes one utterance ('' for no audio); may reject to refuse it before any work. */
  recognize(chunks: readonly Int16Array[], samples: number, opts: AsrOptions): Promise<string>;
  /** The language tag a final result carries, if known. */
  language(opts: AsrOptions): string | undefined;
}

export function abortable<T>(p: Promise<T>, signal: AbortSignal, id: string): Promise<T> {
  const abortErr = (): XzError => new XzError(E.XZ_ERR_ABORTED, `${id}: recognition aborted`);
  if (signal.aborted) return Promise.reject(abortErr());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortErr());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class BatchUtterance implements AsrStream {
  #chunks: Int16Array[] = [];
  #samples = 0;
  #ended = false;
  readonly #ready: Promise<string>;
  #start!: (result: Promise<string>) => void;
  readonly #max: number;

  constructor(
    readonly recognizer: BatchRecognizer,
    readonly opts: AsrOptions,
  ) {
    this.#max = recognizer.maxSeconds * UPLINK_RATE;
    // Settles with the result once end() starts it; iterating before end() waits here.
    this.#ready = new Promise((resolve) => (this.#start = resolve));
    this.#ready.catch(() => {}); // reported through the iteration
  }

  write(pcm: Int16Array): void {
    if (this.#ended) throw new XzError(ASR.XZ_ERR_ASR_MISUSE, 'write() after end()');
    const room = this.#max - this.#samples;
    if (room <= 0) return;
    const kept = pcm.length > room ? pcm.subarray(0, room) : pcm;
    this.#chunks.push(kept);
    this.#samples += kept.length;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    // Start now rather than when someone iterates: the answer is wanted as soon as possible.
    const work = this.recognizer.recognize(this.#chunks, this.#samples, this.opts);
    work.catch(() => {}); // reported through the iteration
    this.#start(work);
    this.#chunks = [];
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AsrEvent> {
    const text = await abortable(this.#ready, this.opts.signal, this.recognizer.id);
    const language = this.recognizer.language(this.opts);
    yield { kind: 'final', text, ...(language ? { language } : {}) };
  }
}
