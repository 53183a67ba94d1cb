/**
 * Input for pooled streams that take input while they run (ASR audio, TTS text pieces). Every
 * attempt must see the whole input, including what was written before it started, so the input
 * is kept until the answering provider is fixed (commit) and replayed to each new attempt; after
 * commit only the winner is fed and nothing is kept.
 *
 *   write ──▶ replay buffer (until commit, bounded) ──▶ attempt a
 *                                                  └──▶ attempt b (hedge / failover: replayed first)
 */
import { XzError } from '../../runtime/errors.js';
import { POOL_INPUT } from './errors.js';

export interface Sink<I> {
  write(item: I): void;
  end(): void;
}

export class Fanout<I> {
  readonly #sinks = new Set<Sink<I>>();
  #buffer: I[] = [];
  #size = 0;
  #ended = false;
  #committed = false;
  #lost = false;

  /** `sizeOf` measures an item against `limit` (samples for audio, characters for text). */
  constructor(
    readonly limit: number,
    readonly sizeOf: (item: I) => number,
  ) {}

  write(item: I): void {
    if (this.#ended) return;
    if (!this.#committed && !this.#lost) {
      this.#size += this.sizeOf(item);
      if (this.#size > this.limit) {
        this.#lost = true;
        this.#buffer = [];
      } else this.#buffer.push(item);
    }
    for (const s of this.#sinks) safely(() => s.write(item));
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const s of this.#sinks) safely(() => s.end());
  }

  /** Feeds a new attempt everything so far, then what follows. Returns its detach function. */
  attach(sink: Sink<I>): () => void {
    if (this.#lost) throw new XzError(POOL_INPUT.XZ_ERR_POOL_REPLAY_LOST, `more than ${this.limit} units of input written before any provider answered`);
    for (const item of this.#buffer) sink.write(item);
    if (this.#ended) sink.end();
    this.#sinks.add(sink);
    return () => this.#sinks.delete(sink);
  }

  /** The answering provider is fixed: stop keeping input for replays. */
  commit(): void {
    this.#committed = true;
    this.#buffer = [];
  }
}

/** A provider that broke may throw on write; its failure reaches the caller through its stream. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    /* reported by the attempt's own iteration */
  }
}

/** Iterates `src` and runs `done` however the iteration ends (detaching its sink). */
export async function* detachOnEnd<T>(src: AsyncIterable<T>, done: () => void): AsyncGenerator<T, void, undefined> {
  try {
    yield* src;
  } finally {
    done();
  }
}
