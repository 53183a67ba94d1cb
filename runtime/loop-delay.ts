/**
 * Event-loop delay of the thread that creates it: the main thread's figure is how late the pacer
 * and every socket callback run. Reported per window (p50/p99/max in ms), then reset, so a
 * status page shows the present rather than an average since boot.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
  mean: number;
  /** Window length the figures cover, ms. */
  windowMs: number;
}

export class LoopDelayMonitor {
  readonly #h: IntervalHistogram;
  readonly #resolutionMs: number;
  #since = performance.now();
  #last: LoopDelay = { p50: 0, p99: 0, max: 0, mean: 0, windowMs: 0 };

  constructor(resolutionMs = 10) {
    this.#resolutionMs = resolutionMs;
    this.#h = monitorEventLoopDelay({ resolution: resolutionMs });
    this.#h.enable();
  }

  /** Figures since the previous `rotate()` (or since start), then starts a new window. */
  rotate(): LoopDelay {
    this.#last = this.peek();
    this.#h.reset();
    this.#since = performance.now();
    return this.#last;
  }

  /** Figures of the current window without resetting it. */
  peek(): LoopDelay {
    // The histogram samples the sampling timer's whole interval; the delay is what exceeds it.
    const ms = (ns: number) => Math.max(0, Math.round((ns / 1e6 - this.#resolutionMs) * 100) / 100);
    const n = this.#h.count;
    return {
      p50: n ? ms(this.#h.percentile(50)) : 0,
      p99: n ? ms(this.#h.percentile(99)) : 0,
      max: n ? ms(this.#h.max) : 0,
      mean: n ? ms(this.#h.mean) : 0,
      windowMs: Math.round(performance.now() - this.#since),
    };
  }

  /** The last completed window. */
  last(): LoopDelay {
    return this.#last;
  }

  stop(): void {
    this.#h.disable();
  }
}

/** This thread's V8 heap in use and its off-heap buffers, MB (a worker's are its own isolate's). */
export function threadMemory(): { heapUsedMb: number; externalMb: number } {
  const m = process.memoryUsage();
  return { heapUsedMb: Math.round(m.heapUsed / 104857.6) / 10, externalMb: Math.round(m.external / 104857.6) / 10 };
}
