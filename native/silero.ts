/**
 * Silero VAD v5 on onnxruntime-node: one InferenceSession per thread, a small recurrent memory per
 * audio stream, and one `run` that scores many streams' windows along the batch axis.
 *
 *   model inputs   input  float32 [B, 64 + 512]   the stream's last 64 samples, then the window
 *                  state  float32 [2, B, 128]     recurrent memory, carried from the last call
 *                  sr     int64   scalar          16000
 *   model outputs  output float32 [B, 1]          speech probability per window
 *                  stateN float32 [2, B, 128]     the memory to carry forward
 *
 * The 64-sample context is what the v5 model expects in front of every 512-sample window (the
 * reference implementations keep it per stream); feeding windows without it lowers the scores.
 * A session costs ~10 MB, a stream ~1.3 KB, which is why streams share the session.
 *
 * Batching is several times cheaper per window than scoring streams one by one (design.md), and
 * the batch rows are independent, so a stream's result does not depend on who it was batched with.
 *
 * Threads: a worker that loaded this may end by itself, throw, or process.exit() safely, but
 * `worker.terminate()` while a run is in flight aborts the whole process (measured: "terminate
 * called after throwing an instance of 'Napi::Error'", exit 134). Pools hosting it must not be
 * terminable; release the session (close()) and let the thread end instead.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ort, { type InferenceSession } from 'onnxruntime-node';

export const SILERO_RATE = 16_000;
/** Samples per scored window at 16 kHz (32 ms). */
export const SILERO_WINDOW = 512;
/** Samples of the previous window the model sees in front of each window. */
export const SILERO_CONTEXT = 64;
const ROW = SILERO_CONTEXT + SILERO_WINDOW;
const UNITS = 128;

/**
 * Where the model lives when no path is configured: native/models/ beside this file when it runs
 * from source, and the source tree's native/models/ when it runs compiled from dist/native/
 * (the build does not copy the model).
 */
export function defaultModelPath(): string {
  const candidates = [new URL('./models/silero_vad.onnx', import.meta.url), new URL('../../native/models/silero_vad.onnx', import.meta.url)];
  const found = candidates.find((u) => existsSync(u));
  return fileURLToPath(found ?? candidates[0]!);
}

/** One audio stream's recurrent memory: the model state and the tail of its last window. */
export class SileroStream {
  /** [2][128]: layer-major, as one batch row of the state tensor. */
  readonly state = new Float32Array(2 * UNITS);
  readonly context = new Float32Array(SILERO_CONTEXT);
  /** Set while a run holds this stream, to refuse feeding one stream twice at once. */
  busy = false;

  reset(): void {
    this.state.fill(0);
    this.context.fill(0);
  }
}

export interface SileroOptions {
  /** Path of silero_vad.onnx; defaults to defaultModelPath(). */
  modelPath?: string;
  /** Threads inside one run; keep 1 on a box that is sized by worker count. */
  intraOpNumThreads?: number;
}

export class SileroSession {
  readonly modelPath: string;
  readonly #session: InferenceSession;
  readonly #sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(SILERO_RATE)]), []);
  // Grow-only scratch shared by every run; runs on one session are serialised below.
  #input = new Float32Array(0);
  #state = new Float32Array(0);
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(session: InferenceSession, modelPath: string) {
    this.#session = session;
    this.modelPath = modelPath;
  }

  static async load(opts: SileroOptions = {}): Promise<SileroSession> {
    const modelPath = opts.modelPath ?? defaultModelPath();
    if (!existsSync(modelPath)) {
      throw new Error(`Silero VAD model not found at ${modelPath}: run \`node native/silero-fetch.mjs\` (native/setup.sh does it after npm ci)`);
    }
    const session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: opts.intraOpNumThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    for (const name of ['input', 'state', 'sr']) {
      if (!session.inputNames.includes(name)) throw new Error(`${modelPath} is not a Silero v5 model (inputs: ${session.inputNames.join(', ')})`);
    }
    return new SileroSession(session, modelPath);
  }

  /**
   * Scores `windows[i]` (SILERO_WINDOW float samples in [-1, 1]) for `streams[i]`, advancing each
   * stream. A stream may appear once per call. Returns one probability per window.
   */
  run(streams: readonly SileroStream[], windows: readonly Float32Array[]): Promise<Float32Array> {
    if (this.#closed) return Promise.reject(new Error('Silero session is closed'));
    if (streams.length !== windows.length) return Promise.reject(new RangeError(`${streams.length} streams but ${windows.length} windows`));
    if (streams.length === 0) return Promise.resolve(new Float32Array(0));
    // onnxruntime may run calls concurrently, but the scratch buffers are shared: one at a time.
    const next = this.#queue.then(() => this.#run(streams, windows));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #run(streams: readonly SileroStream[], windows: readonly Float32Array[]): Promise<Float32Array> {
    const b = streams.length;
    if (this.#input.length < b * ROW) this.#input = new Float32Array(b * ROW);
    if (this.#state.length < b * 2 * UNITS) this.#state = new Float32Array(b * 2 * UNITS);
    const input = this.#input.subarray(0, b * ROW);
    const state = this.#state.subarray(0, b * 2 * UNITS);
    for (let i = 0; i < b; i++) {
      if (windows[i]!.length !== SILERO_WINDOW) throw new RangeError(`window ${i} has ${windows[i]!.length} samples, want ${SILERO_WINDOW}`);
      if (streams[i]!.busy || streams.indexOf(streams[i]!) !== i) throw new Error('a Silero stream was fed twice in one run');
    }
    for (let i = 0; i < b; i++) {
      const s = streams[i]!;
      const w = windows[i]!;
      s.busy = true;
      input.set(s.context, i * ROW);
      input.set(w, i * ROW + SILERO_CONTEXT);
      // [2, B, 128]: layer 0 rows first, then layer 1 rows.
      state.set(s.state.subarray(0, UNITS), i * UNITS);
      state.set(s.state.subarray(UNITS), (b + i) * UNITS);
    }
    let out: InferenceSession.ReturnType;
    try {
      out = await this.#session.run({
        input: new ort.Tensor('float32', input, [b, ROW]),
        state: new ort.Tensor('float32', state, [2, b, UNITS]),
        sr: this.#sr,
      });
    } finally {
      for (const s of streams) s.busy = false;
    }
    const probs = out.output?.data as Float32Array | undefined;
    const next = out.stateN?.data as Float32Array | undefined;
    if (!probs || !next || probs.length !== b || next.length !== b * 2 * UNITS) throw new Error('Silero returned unexpected outputs');
    for (let i = 0; i < b; i++) {
      const s = streams[i]!;
      s.state.set(next.subarray(i * UNITS, (i + 1) * UNITS), 0);
      s.state.set(next.subarray((b + i) * UNITS, (b + i + 1) * UNITS), UNITS);
      s.context.set(windows[i]!.subarray(SILERO_WINDOW - SILERO_CONTEXT));
    }
    return Float32Array.from(probs);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    await this.#session.release();
  }
}
