/**
 * A one-reader queue turned into an async iteration, for the events a socket delivers. It stops
 * the moment the signal fires (even with items queued: a barge-in wants silence now, not the
 * backlog), and tells its owner when the reader leaves for any reason, so the owner can cancel
 * vendor work that nobody will read.
 */
import { E, XzError } from '../../runtime/errors.js';

export class Channel<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #head = 0;
  #ended = false;
  #failed = false;
  #error: unknown;
  #wake: (() => void) | null = null;
  #iterating = false;

  constructor(
    readonly signal: AbortSignal,
    readonly abortError: () => unknown,
    /** Called once when the reader is gone: done, failed, aborted or broke out of the loop. */
    readonly onExit: () => void = () => {},
  ) {}

  get settled(): boolean {
    return this.#ended || this.#failed;
  }

  push(v: T): void {
    if (this.settled) return;
    this.#items.push(v);
    this.#poke();
  }

  end(): void {
    if (this.settled) return;
    this.#ended = true;
    this.#poke();
  }

  fail(e: unknown): void {
    if (this.settled) return;
    this.#failed = true;
    this.#error = e;
    this.#poke();
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    if (this.#iterating) throw new XzError(E.XZ_ERR_INTERNAL, 'a Volcengine stream can be iterated once');
    this.#iterating = true;
    const onAbort = (): void => this.#poke();
    this.signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        if (this.signal.aborted) throw this.abortError();
        if (this.#head < this.#items.length) {
          const v = this.#items[this.#head++]!;
          if (this.#head > 64 && this.#head * 2 > this.#items.length) {
            this.#items = this.#items.slice(this.#head);
            this.#head = 0;
          }
          yield v;
          continue;
        }
        if (this.#failed) throw this.#error;
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      this.signal.removeEventListener('abort', onAbort);
      this.onExit();
    }
  }
}
