/**
 * Work that may arrive in a burst, run a slice at a time: at most `budgetMs` of it per turn of
 * the event loop, so timers and socket I/O run between slices. A gateway restarting drops
 * thousands of devices at once; tearing all their sessions down in one go blocked the main
 * loop (and the downlink pacing of everyone still talking) for hundreds of milliseconds.
 */
import { Deque } from './deque.js';

export class SlicedQueue {
  readonly #queue = new Deque<() => void>();
  #scheduled = false;

  constructor(
    readonly budgetMs: number,
    /** A task that throws: reported here, and the queue goes on. */
    private readonly onError: (e: unknown) => void,
  ) {}

  get length(): number {
    return this.#queue.length;
  }

  push(task: () => void): void {
    this.#queue.push(task);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#run);
    }
  }

  readonly #run = (): void => {
    const end = performance.now() + this.budgetMs;
    do {
      const task = this.#queue.shift();
      if (!task) break;
      try {
        task();
      } catch (e) {
        this.onError(e);
      }
    } while (performance.now() < end);
    if (this.#queue.length > 0) setImmediate(this.#run);
    else this.#scheduled = false;
  };
}
