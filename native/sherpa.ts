/**
 * sherpa-onnx (the `sherpa-onnx-node` addon, with its own onnxruntime) behind a typed face that
 * is loaded on first use, so threads that never recognise or synthesise with it never map its
 * 32 MB of native code.
 *
 * What was measured here with 1.13.8 (providers/sherpa/README.md has the details):
 *   - It loads in worker threads. A worker that loaded it, even with a Silero model open in it
 *     and onnxruntime-node loaded beside it, may end by itself or be terminated, five times over,
 *     and the process carries on (unlike @evan/opus's native build).
 *   - A missing model file is caught by its own config check: the constructor throws "Please
 *     check your config!". But a file that exists and is not the model the config says (another
 *     kind, a truncated download, any other ONNX file) makes the library call exit(): the whole
 *     process ends with status 255, from any thread, also through the async constructors. Hence
 *     PROBE_SOURCE: load the model once in a child process before trusting it in ours.
 *   - The per-chunk progress callback of `OfflineTts.generateAsync` is reported to abort the
 *     process (a use-after-free in its thread-safe function, seen on 1.13.3). Nothing here uses it.
 *
 * Errors are plain `Error`s with a `code` (SherpaErrorCode): native/ may not import the error
 * registry; the providers map them to registered XZ_ERR_SHERPA_* codes.
 */
import { createRequire } from 'node:module';

export const SHERPA_PACKAGE = 'sherpa-onnx-node';

export interface Waveform {
  /** Mono samples in [-1, 1]. */
  samples: Float32Array;
  sampleRate: number;
}

// ---- configs, in the addon's own (camelCase) spelling ---------------------------------------

export interface FeatureConfig {
  sampleRate: number;
  featureDim: number;
}

interface ModelCommon {
  tokens: string;
  numThreads: number;
  provider: string;
  debug: number;
  /** How hotword text becomes tokens: cjkchar, bpe or cjkchar+bpe; unset, hotwords are tokens. */
  modelingUnit?: string;
  bpeVocab?: string;
}

/** Contextual biasing (transducers with modified_beam_search). */
interface Hotwords {
  hotwordsFile?: string;
  hotwordsScore?: number;
}

export interface OnlineModelConfig extends ModelCommon {
  transducer?: { encoder: string; decoder: string; joiner: string };
  paraformer?: { encoder: string; decoder: string };
  zipformer2Ctc?: { model: string };
}

export interface OnlineRecognizerConfig extends Hotwords {
  featConfig: FeatureConfig;
  modelConfig: OnlineModelConfig;
  decodingMethod: string;
  maxActivePaths: number;
  /** 0: the caller (our VAD) decides where an utterance ends. */
  enableEndpoint: number;
}

export interface OfflineModelConfig extends ModelCommon {
  transducer?: { encoder: string; decoder: string; joiner: string };
  paraformer?: { model: string };
  senseVoice?: { model: string; language: string; useInverseTextNormalization: number };
  whisper?: { encoder: string; decoder: string; language: string; task: string };
}

export interface OfflineRecognizerConfig extends Hotwords {
  featConfig: FeatureConfig;
  modelConfig: OfflineModelConfig;
  decodingMethod: string;
  maxActivePaths: number;
}

export interface OfflineTtsModelConfig {
  vits?: { model: string; tokens: string; lexicon?: string; dataDir?: string };
  matcha?: { acousticModel: string; vocoder: string; tokens: string; lexicon?: string; dataDir?: string };
  kokoro?: { model: string; voices: string; tokens: string; lexicon?: string; dataDir?: string; lang?: string };
  numThreads: number;
  provider: string;
  debug: number;
}

export interface OfflineTtsConfig {
  model: OfflineTtsModelConfig;
  maxNumSentences: number;
  /** Comma-separated text-normalisation rule files. */
  ruleFsts?: string;
  ruleFars?: string;
}

// ---- the objects it hands out ----------------------------------------------------------------

export interface OnlineStream {
  acceptWaveform(w: Waveform): void;
  inputFinished(): void;
}

export interface OnlineResult {
  text: string;
}

export interface OnlineRecognizer {
  createStream(): OnlineStream;
  isReady(s: OnlineStream): boolean;
  /** Decodes one model chunk of the stream, synchronously, on the calling thread. */
  decode(s: OnlineStream): void;
  getResult(s: OnlineStream): OnlineResult;
}

export interface OfflineStream {
  acceptWaveform(w: Waveform): void;
}

export interface OfflineResult {
  text: string;
  /** SenseVoice and Whisper: the detected language, e.g. `<|zh|>` or `zh`; '' otherwise. */
  lang?: string;
}

export interface OfflineRecognizer {
  /** `hotwords`: phrases for this stream only, separated by '/'. */
  createStream(hotwords?: string): OfflineStream;
  /** Decodes on a libuv pool thread; the calling thread stays free. */
  decodeAsync(s: OfflineStream): Promise<OfflineResult>;
}

export interface GeneratedAudio {
  samples: Float32Array;
  sampleRate: number;
}

export interface OfflineTts {
  readonly sampleRate: number;
  readonly numSpeakers: number;
  /** Synthesises on a libuv pool thread. (Never pass onProgress: see the note at the top.) */
  generateAsync(req: { text: string; sid: number; speed: number; enableExternalBuffer?: boolean }): Promise<GeneratedAudio>;
}

export interface SherpaModule {
  readonly version: string;
  OnlineRecognizer: new (cfg: OnlineRecognizerConfig) => OnlineRecognizer;
  OfflineRecognizer: { createAsync(cfg: OfflineRecognizerConfig): Promise<OfflineRecognizer> };
  OfflineTts: { createAsync(cfg: OfflineTtsConfig): Promise<OfflineTts> };
}

// ---- loading ---------------------------------------------------------------------------------

export type SherpaErrorCode =
  /** The package or its platform binary (sherpa-onnx-<os>-<arch>) is missing or will not load. */
  'SHERPA_UNAVAILABLE';

export class SherpaError extends Error {
  readonly code: SherpaErrorCode;
  constructor(code: SherpaErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SherpaError';
    this.code = code;
  }
}

const require = createRequire(import.meta.url);
const loaded = new Map<string, SherpaModule>();

function unavailable(specifier: string, e: unknown): SherpaError {
  const why = e instanceof Error ? e.message : String(e);
  return new SherpaError(
    'SHERPA_UNAVAILABLE',
    `${specifier} could not be loaded on ${process.platform}-${process.arch} (Node ${process.versions.node}); ` +
      `it needs its platform package (sherpa-onnx-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}): ${why}`,
    e,
  );
}

/** The addon, loaded on the first call in this thread. `specifier` exists for tests. */
export function loadSherpa(specifier: string = SHERPA_PACKAGE): SherpaModule {
  const hit = loaded.get(specifier);
  if (hit) return hit;
  let mod: SherpaModule;
  try {
    mod = require(specifier) as SherpaModule;
  } catch (e) {
    throw unavailable(specifier, e);
  }
  if (typeof mod?.OnlineRecognizer !== 'function' || typeof mod.OfflineTts?.createAsync !== 'function') {
    throw unavailable(specifier, new Error('it does not export OnlineRecognizer / OfflineTts.createAsync'));
  }
  loaded.set(specifier, mod);
  return mod;
}

/** The package's entry file, for a child process to load the same build. */
export function sherpaEntry(specifier: string = SHERPA_PACKAGE): string {
  try {
    return require.resolve(specifier);
  } catch (e) {
    throw unavailable(specifier, e);
  }
}

// ---- the model check in a child process ------------------------------------------------------

export type ProbeTarget = 'online-asr' | 'offline-asr' | 'tts';

/**
 * Run as `node -e PROBE_SOURCE <entry> <target> <config json>`: loads the model the way the
 * provider will, feeds a recognizer half a second of silence (a model that loads but fails on
 * its first chunk is caught too), and prints a JSON line (the TTS's rate and speaker count).
 * Exit 0 means the same config is safe to load in the server.
 */
export const PROBE_SOURCE = `
const [entry, target, json] = process.argv.slice(1);
const sherpa = require(entry);
const cfg = JSON.parse(json);
const silence = { samples: new Float32Array(8000), sampleRate: 16000 };
let out = {};
if (target === 'online-asr') {
  const r = new sherpa.OnlineRecognizer(cfg);
  const s = r.createStream();
  s.acceptWaveform(silence);
  s.inputFinished();
  while (r.isReady(s)) r.decode(s);
  r.getResult(s);
} else if (target === 'offline-asr') {
  const r = new sherpa.OfflineRecognizer(cfg);
  const s = r.createStream();
  s.acceptWaveform(silence);
  r.decode(s);
  r.getResult(s);
} else if (target === 'tts') {
  const t = new sherpa.OfflineTts(cfg);
  out = { sampleRate: t.sampleRate, numSpeakers: t.numSpeakers };
} else {
  throw new Error('unknown probe target ' + target);
}
process.stdout.write(JSON.stringify(out) + '\\n');
`;

/** The command line of one probe: run it with the same Node as this process. */
export function probeCommand(target: ProbeTarget, config: OnlineRecognizerConfig | OfflineRecognizerConfig | OfflineTtsConfig, specifier?: string): { cmd: string; args: string[] } {
  return { cmd: process.execPath, args: ['-e', PROBE_SOURCE, sherpaEntry(specifier), target, JSON.stringify(config)] };
}

// ---- samples ---------------------------------------------------------------------------------

/** s16 → float in [-1, 1), as the addon takes audio. */
export function toFloat32(pcm: Int16Array): Float32Array {
  const out = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = pcm[i]! / 32768;
  return out;
}

/** Float samples (from a synthesiser: may overshoot ±1) → s16, clipped. */
export function toInt16(samples: Float32Array, start = 0, end = samples.length): Int16Array {
  const out = new Int16Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) {
    const v = Math.round(samples[start + i]! * 32767);
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}
