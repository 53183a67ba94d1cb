/**
 * The sherpa-onnx recognizer's config (documented in index.ts and providers/sherpa/README.md) and the
 * addon config it becomes. Each model kind names the files it needs; all are required.
 */
import { z } from 'zod';
import type { FeatureConfig, OfflineRecognizerConfig, OnlineRecognizerConfig } from '../../../native/sherpa.js';
import { UPLINK_RATE } from '../../contracts/audio.js';
import { EXECUTION_PROVIDERS, boolean, numeric, parseWith, resolveModelPaths } from '../../sherpa/common.js';

const int = (min: number, max: number) => z.preprocess(numeric, z.int().min(min).max(max));
const num = (min: number, max: number) => z.preprocess(numeric, z.number().min(min).max(max));
const flag = () => z.preprocess(boolean, z.boolean());
const file = () => z.string().min(1);

/** Model kinds: `online-*` stream partial results while audio arrives; `offline-*` answer after end(). */
export const ASR_KINDS = {
  'online-transducer': ['encoder', 'decoder', 'joiner', 'tokens'],
  'online-paraformer': ['encoder', 'decoder', 'tokens'],
  'online-zipformer2-ctc': ['model', 'tokens'],
  'offline-transducer': ['encoder', 'decoder', 'joiner', 'tokens'],
  'offline-paraformer': ['model', 'tokens'],
  'offline-sense-voice': ['model', 'tokens'],
  'offline-whisper': ['encoder', 'decoder', 'tokens'],
} as const;
export type AsrKind = keyof typeof ASR_KINDS;

function filesOf<K extends AsrKind>(kind: K) {
  const shape = Object.fromEntries(ASR_KINDS[kind].map((f) => [f, file()])) as { [F in (typeof ASR_KINDS)[K][number]]: ReturnType<typeof file> };
  return z.strictObject(shape);
}

function modelOf<K extends AsrKind, X extends z.ZodRawShape>(kind: K, extra: X) {
  return z.strictObject({
    kind: z.literal(kind),
    /** Folder the file names are relative to; default: the working directory. */
    dir: z.string().min(1).optional(),
    files: filesOf(kind),
    ...extra,
  });
}

const model = z.discriminatedUnion('kind', [
  modelOf('online-transducer', {}),
  modelOf('online-paraformer', {}),
  modelOf('online-zipformer2-ctc', {}),
  modelOf('offline-transducer', {}),
  modelOf('offline-paraformer', {}),
  modelOf('offline-sense-voice', {
    language: z.enum(['auto', 'zh', 'en', 'ja', 'ko', 'yue']).default('auto'),
    /** Inverse text normalisation: "一百" → "100", punctuation. */
    use_itn: flag().default(true),
  }),
  modelOf('offline-whisper', {
    /** '' lets Whisper detect the language. */
    language: z.string().default(''),
    task: z.enum(['transcribe', 'translate']).default('transcribe'),
  }),
]);

/**
 * Contextual biasing, transducer kinds with modified_beam_search only. `file` is sherpa-onnx's
 * hotwords file (one phrase per line, optional ` :score`); with `modeling_unit` set, phrases (and
 * the per-utterance hints, offline kinds) are plain words, else tokens from tokens.txt.
 */
const hotwords = z.strictObject({
  file: file().optional(),
  score: num(0, 100).default(1.5),
  modeling_unit: z.enum(['cjkchar', 'bpe', 'cjkchar+bpe']).optional(),
  /** bpe.vocab of the model; needed when modeling_unit has bpe. */
  bpe_vocab: file().optional(),
});

export const asrSchema = z.strictObject({
  type: z.literal('sherpa').optional(),
  /** The pool adapter's per-instance limits (actors/boot.ts reads them). */
  pool: z.unknown().optional(),
  model,
  /** Threads inside one decode; 1 on a box sized by worker count. */
  num_threads: int(1, 64).default(1),
  provider: z.enum(EXECUTION_PROVIDERS).default('cpu'),
  feature_dim: int(1, 1024).default(80),
  /** modified_beam_search is for transducers only. */
  decoding_method: z.enum(['greedy_search', 'modified_beam_search']).default('greedy_search'),
  max_active_paths: int(1, 64).default(4),
  hotwords: hotwords.optional(),
  /** BCP 47 primary tags this model knows, or 'any'. A request in another language is refused
   *  (XZ_ERR_ASR_LANGUAGE) so a fallback chain can move on. */
  languages: z.union([z.literal('any'), z.array(z.string().min(1)).min(1)]).default('any'),
  /** Offline kinds: audio past this is dropped (the VAD should have cut it). */
  max_seconds: num(1, 600).default(30),
  /** Load the model in a child process before this one (native/sherpa.ts says why). */
  verify_model: flag().default(true),
  verify_timeout_ms: int(1000, 600_000).default(120_000),
  /** sherpa-onnx's own debug logging to stderr. */
  debug: flag().default(false),
}).superRefine((o, ctx) => {
  // Hotwords need a transducer, beam search and, for bpe units, the vocab.
  const h = o.hotwords;
  if (!h) return;
  if (!o.model.kind.endsWith('-transducer')) ctx.addIssue({ code: 'custom', path: ['hotwords'], message: `only transducer models take hotwords, not ${o.model.kind}` });
  if (o.decoding_method !== 'modified_beam_search') ctx.addIssue({ code: 'custom', path: ['decoding_method'], message: 'hotwords need modified_beam_search' });
  if (h.modeling_unit?.includes('bpe') && !h.bpe_vocab) ctx.addIssue({ code: 'custom', path: ['hotwords', 'bpe_vocab'], message: `required for modeling_unit ${h.modeling_unit}` });
});
export type SherpaAsrOptions = z.output<typeof asrSchema>;

export interface SherpaAsrConfig {
  options: SherpaAsrOptions;
  kind: AsrKind;
  online: boolean;
  /** What the addon gets (absolute, checked paths). */
  native: OnlineRecognizerConfig | OfflineRecognizerConfig;
  languages: readonly string[] | 'any';
  /** Per-utterance hints can go to the stream as words (offline transducer, words modelling unit). */
  streamHints: boolean;
}

/** Checks the slice, resolves and checks the model files, and builds the addon config. */
export function parseSherpaAsrConfig(cfg: Record<string, unknown>, path = 'providers.asr.sherpa'): SherpaAsrConfig {
  const o = parseWith(asrSchema, cfg, path);
  const m = o.model;
  const h = o.hotwords;
  const names = Object.entries(m.files as Record<string, string>).map(([key, value]) => ({ key, value, at: `${path}.model.files.${key}` }));
  if (h?.file) names.push({ key: 'hotwords', value: h.file, at: `${path}.hotwords.file` });
  if (h?.bpe_vocab) names.push({ key: 'bpe_vocab', value: h.bpe_vocab, at: `${path}.hotwords.bpe_vocab` });
  const abs = resolveModelPaths({ value: m.dir, at: `${path}.model.dir` }, names);
  const f = (k: string): string => abs.get(k)!;
  const featConfig: FeatureConfig = { sampleRate: UPLINK_RATE, featureDim: o.feature_dim };
  const units = h?.modeling_unit ? { modelingUnit: h.modeling_unit, ...(h.bpe_vocab ? { bpeVocab: f('bpe_vocab') } : {}) } : {};
  const common = { tokens: f('tokens'), numThreads: o.num_threads, provider: o.provider, debug: o.debug ? 1 : 0, ...units };
  const decoding = { decodingMethod: o.decoding_method, maxActivePaths: o.max_active_paths, ...(h ? { hotwordsScore: h.score, ...(h.file ? { hotwordsFile: f('hotwords') } : {}) } : {}) };
  let native: OnlineRecognizerConfig | OfflineRecognizerConfig;
  switch (m.kind) {
    case 'online-transducer':
      native = { featConfig, modelConfig: { ...common, transducer: { encoder: f('encoder'), decoder: f('decoder'), joiner: f('joiner') } }, ...decoding, enableEndpoint: 0 };
      break;
    case 'online-paraformer':
      native = { featConfig, modelConfig: { ...common, paraformer: { encoder: f('encoder'), decoder: f('decoder') } }, ...decoding, enableEndpoint: 0 };
      break;
    case 'online-zipformer2-ctc':
      native = { featConfig, modelConfig: { ...common, zipformer2Ctc: { model: f('model') } }, ...decoding, enableEndpoint: 0 };
      break;
    case 'offline-transducer':
      native = { featConfig, modelConfig: { ...common, transducer: { encoder: f('encoder'), decoder: f('decoder'), joiner: f('joiner') } }, ...decoding };
      break;
    case 'offline-paraformer':
      native = { featConfig, modelConfig: { ...common, paraformer: { model: f('model') } }, ...decoding };
      break;
    case 'offline-sense-voice':
      native = { featConfig, modelConfig: { ...common, senseVoice: { model: f('model'), language: m.language, useInverseTextNormalization: m.use_itn ? 1 : 0 } }, ...decoding };
      break;
    case 'offline-whisper':
      native = { featConfig, modelConfig: { ...common, whisper: { encoder: f('encoder'), decoder: f('decoder'), language: m.language, task: m.task } }, ...decoding };
      break;
  }
  return {
    options: o,
    kind: m.kind,
    online: m.kind.startsWith('online-'),
    native,
    languages: o.languages === 'any' ? 'any' : o.languages.map((l) => l.toLowerCase()),
    streamHints: m.kind === 'offline-transducer' && h?.modeling_unit !== undefined,
  };
}
