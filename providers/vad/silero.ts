/**
 * The Silero VAD provider: the VadModel contract over native/silero.ts. One instance per worker
 * thread (it holds the ~10 MB model session); each session of that worker gets a VadState.
 *
 * Config (a `providers.vad.<name>` instance): `{ type: 'silero', model?: path }`; without `model`
 * the file fetched at install time (native/models/silero_vad.onnx) is used.
 */
import { SILERO_RATE, SILERO_WINDOW, SileroSession, SileroStream } from '../../native/silero.js';
import type { VadModel, VadState } from '../contracts/vad.js';

export interface SileroVadConfig {
  type?: string;
  /** Path of the .onnx file. */
  model?: string | null;
  /** onnxruntime threads per run; 1 unless a worker has a core to itself and few streams. */
  threads?: number;
}

class SileroVadState implements VadState {
  readonly stream = new SileroStream();
  constructor(readonly owner: SileroVad) {}
  reset(): void {
    this.stream.reset();
  }
}

export class SileroVad implements VadModel {
  readonly id = 'silero';
  readonly windowSamples = SILERO_WINDOW;
  readonly sampleRate = SILERO_RATE;
  readonly #session: SileroSession;

  private constructor(session: SileroSession) {
    this.#session = session;
  }

  static async create(cfg: SileroVadConfig = {}): Promise<SileroVad> {
    if (cfg.type !== undefined && cfg.type !== 'silero') throw new Error(`SileroVad cannot serve a VAD of type "${cfg.type}"`);
    const opts: { modelPath?: string; intraOpNumThreads?: number } = {};
    if (cfg.model) opts.modelPath = cfg.model;
    if (cfg.threads) opts.intraOpNumThreads = cfg.threads;
    return new SileroVad(await SileroSession.load(opts));
  }

  get modelPath(): string {
    return this.#session.modelPath;
  }

  createState(): VadState {
    return new SileroVadState(this);
  }

  score(states: readonly VadState[], windows: readonly Float32Array[]): Promise<Float32Array> {
    const streams: SileroStream[] = [];
    for (const s of states) {
      if (!(s instanceof SileroVadState) || s.owner !== this) return Promise.reject(new TypeError('a VadState from another model'));
      streams.push(s.stream);
    }
    return this.#session.run(streams, windows);
  }

  close(): Promise<void> {
    return this.#session.close();
  }
}
