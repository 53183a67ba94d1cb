/**
 * Cross-session VAD batching for one worker thread. Every listen actor of the worker hands its
 * ready windows here; once per event-loop turn (setImmediate) the batcher scores everything
 * handed in since the last flush in as few model calls as possible, one window per stream per
 * call (a stream's windows depend on each other, streams do not), and resolves each caller with
 * its probabilities in order.
 *
 *   actor s1: submit(state1, [w1, w2]) ─┐            run 1: [s1·w1, s2·w1, s3·w1]
 *   actor s2: submit(state2, [w1])      ├─ flush ──▶ run 2: [s1·w2, s3·w2]
 *   actor s3: submit(state3, [w1, w2]) ─┘
 *
 * While the model is busy, new windows pile up for the next flush, so batches grow with load
 * instead of latency (design.md: ~54 µs per window at batch 16 against ~121 µs alone).
 */
import { nativeCallAsync } from '../../runtime/native-gate.js';
import type { VadModel, VadState } from '../../providers/contracts/vad.js';

interface Job {
  state: VadState;
  windows: readonly Float32Array[];
  probs: Float32Array;
  done: number;
  failed: boolean;
  resolve: (p: Float32Array) => void;
  reject: (e: unknown) => void;
}

export interface BatcherStats {
  /** Model calls made. */
  runs: number;
  /** Windows scored. */
  windows: number;
  /** Largest batch in one call. */
  largest: number;
  /** Time spent inside model calls, ms. */
  busyMs: number;
  /** Windows waiting for the next flush. */
  queued: number;
}

export class VadBatcher {
  readonly model: VadModel;
  readonly maxBatch: number;
  #pending: Job[] = [];
  #scheduled = false;
  #flushing = false;
  readonly #stats: BatcherStats = { runs: 0, windows: 0, largest: 0, busyMs: 0, queued: 0 };

  constructor(model: VadModel, opts: { maxBatch?: number } = {}) {
    this.model = model;
    this.maxBatch = Math.max(1, opts.maxBatch ?? 64);
  }

  /** Scores `windows` (consecutive, for one stream) at the next flush. */
  score(state: VadState, windows: readonly Float32Array[]): Promise<Float32Array> {
    if (windows.length === 0) return Promise.resolve(new Float32Array(0));
    return new Promise((resolve, reject) => {
      this.#pending.push({ state, windows, probs: new Float32Array(windows.length), done: 0, failed: false, resolve, reject });
      this.#stats.queued += windows.length;
      this.#schedule();
    });
  }

  stats(): BatcherStats {
    return { ...this.#stats };
  }

  #schedule(): void {
    if (this.#scheduled || this.#flushing) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    const jobs = this.#pending;
    this.#pending = [];
    try {
      // One queue per stream: a stream submitted twice before this flush is scored in order.
      const lanes = new Map<VadState, Job[]>();
      for (const j of jobs) {
        const lane = lanes.get(j.state);
        if (lane) lane.push(j);
        else lanes.set(j.state, [j]);
      }
      for (;;) {
        const round: Job[] = [];
        for (const [state, lane] of lanes) {
          while (lane.length > 0 && (lane[0]!.failed || lane[0]!.done === lane[0]!.windows.length)) lane.shift();
          if (lane.length === 0) lanes.delete(state);
          else round.push(lane[0]!);
        }
        if (round.length === 0) break;
        for (let i = 0; i < round.length; i += this.maxBatch) await this.#run(round.slice(i, i + this.maxBatch));
      }
    } finally {
      this.#flushing = false;
      if (this.#pending.length > 0) this.#schedule();
    }
  }

  async #run(batch: Job[]): Promise<void> {
    const t0 = performance.now();
    let probs: Float32Array;
    try {
      // onnxruntime's completion must not be cut by a terminate (runtime/native-gate.ts).
      probs = await nativeCallAsync(() =>
        this.model.score(
          batch.map((j) => j.state),
          batch.map((j) => j.windows[j.done]!),
        ),
      );
    } catch (e) {
      for (const j of batch) {
        j.failed = true;
        this.#stats.queued -= j.windows.length - j.done;
        j.reject(e);
      }
      return;
    } finally {
      this.#stats.busyMs += performance.now() - t0;
    }
    this.#stats.runs++;
    this.#stats.windows += batch.length;
    this.#stats.queued -= batch.length;
    if (batch.length > this.#stats.largest) this.#stats.largest = batch.length;
    for (let i = 0; i < batch.length; i++) {
      const j = batch[i]!;
      j.probs[j.done++] = probs[i]!;
      if (j.done === j.windows.length) j.resolve(j.probs);
    }
  }
}

// ── the worker's one model and batcher ─────────────────────────────────────────────────────

let shared: VadBatcher | undefined;

/** Installed by the listen module's boot; every listen actor of the thread uses it. */
export function installWorkerVad(model: VadModel, opts: { maxBatch?: number } = {}): VadBatcher {
  shared = new VadBatcher(model, opts);
  return shared;
}

export function workerVad(): VadBatcher {
  if (!shared) throw new Error('no VAD model on this thread: the listen module was not booted');
  return shared;
}

export async function releaseWorkerVad(): Promise<void> {
  const b = shared;
  shared = undefined;
  await b?.model.close();
}
