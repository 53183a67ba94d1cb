/**
 * The sherpa-onnx synthesiser's config (documented in index.ts and providers/sherpa/README.md) and the
 * addon config it becomes. Paths are relative to model.dir, else the working directory.
 */
import { z } from 'zod';
import type { OfflineTtsConfig, OfflineTtsModelConfig } from '../../../native/sherpa.js';
import { EXECUTION_PROVIDERS, boolean, numeric, parseWith, resolveModelPaths, type ModelPath } from '../../sherpa/common.js';

const int = (min: number, max: number) => z.preprocess(numeric, z.int().min(min).max(max));
const num = (min: number, max: number) => z.preprocess(numeric, z.number().min(min).max(max));
const flag = () => z.preprocess(boolean, z.boolean());
const file = () => z.string().min(1);
/** One file, or several that sherpa-onnx takes comma-separated (kokoro's per-language lexicons). */
const files = () => z.union([file(), z.array(file()).min(1)]);

// Optional in every kind: lexicon (word → phonemes; Chinese models need it) and data_dir
// (espeak-ng-data, for Piper-style and Kokoro models).
const optional = { lexicon: files().optional(), data_dir: file().optional() };

const model = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('vits'),
    dir: file().optional(),
    files: z.strictObject({ model: file(), tokens: file(), ...optional }),
  }),
  z.strictObject({
    kind: z.literal('matcha'),
    dir: file().optional(),
    files: z.strictObject({ acoustic_model: file(), vocoder: file(), tokens: file(), ...optional }),
  }),
  z.strictObject({
    kind: z.literal('kokoro'),
    dir: file().optional(),
    files: z.strictObject({ model: file(), voices: file(), tokens: file(), ...optional }),
    /** Multi-language Kokoro: the language of the text, e.g. 'zh' or 'en-us'. */
    lang: z.string().min(1).optional(),
  }),
]);
export const TTS_KINDS = ['vits', 'matcha', 'kokoro'] as const;

export const ttsSchema = z.strictObject({
  type: z.literal('sherpa').optional(),
  /** The pool adapter's per-instance limits (actors/boot.ts reads them). */
  pool: z.unknown().optional(),
  model,
  /** Text-normalisation rules (numbers, dates, phone numbers), e.g. the Chinese models' *.fst. */
  rule_fsts: z.array(file()).default([]),
  rule_fars: z.array(file()).default([]),
  /** Default speaker id; a request's voice name may pick another (a number or a name below). */
  sid: int(0, 100_000).default(0),
  /** Names for speaker ids, so roles can say `voice: anna`. */
  speakers: z.record(z.string().min(1), int(0, 100_000)).default({}),
  /** Speaking rate at voice rate 1. */
  speed: num(0.25, 4).default(1),
  /** Sentences synthesised per model run. */
  max_num_sentences: int(1, 100).default(1),
  /** PCM yielded per chunk, so the codec can start before the whole sentence is converted. */
  chunk_ms: int(20, 2000).default(160),
  num_threads: int(1, 64).default(1),
  provider: z.enum(EXECUTION_PROVIDERS).default('cpu'),
  verify_model: flag().default(true),
  verify_timeout_ms: int(1000, 600_000).default(120_000),
  debug: flag().default(false),
});
export type SherpaTtsOptions = z.output<typeof ttsSchema>;

export interface SherpaTtsConfig {
  options: SherpaTtsOptions;
  kind: (typeof TTS_KINDS)[number];
  native: OfflineTtsConfig;
}

/** Checks the slice, resolves and checks every model path, and builds the addon config. */
export function parseSherpaTtsConfig(cfg: Record<string, unknown>, path = 'providers.tts.sherpa'): SherpaTtsConfig {
  const o = parseWith(ttsSchema, cfg, path);
  const m = o.model;
  const paths: ModelPath[] = [];
  const add = (key: string, value: string, at: string, dir = false): void => void paths.push({ key, value, at: `${path}.${at}`, dir });
  for (const [key, value] of Object.entries(m.files as Record<string, string | string[] | undefined>)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) value.forEach((v, i) => add(`${key}[${i}]`, v, `model.files.${key}[${i}]`));
    else add(key, value, `model.files.${key}`, key === 'data_dir');
  }
  // rule_* sit beside `model` in the config but resolve against its dir like the model's files.
  o.rule_fsts.forEach((v, i) => add(`rule_fsts[${i}]`, v, `rule_fsts[${i}]`));
  o.rule_fars.forEach((v, i) => add(`rule_fars[${i}]`, v, `rule_fars[${i}]`));
  const abs = resolveModelPaths({ value: m.dir, at: `${path}.model.dir` }, paths);
  const one = (key: string): string => abs.get(key)!;
  /** A single path or a list, comma-joined as sherpa-onnx takes several. */
  const list = (key: string): string | undefined => {
    const got = [...abs].filter(([k]) => k === key || k.startsWith(`${key}[`)).map(([, v]) => v);
    return got.length ? got.join(',') : undefined;
  };
  const lexicon = list('lexicon');
  const extras = {
    ...(lexicon ? { lexicon } : {}),
    ...(abs.has('data_dir') ? { dataDir: one('data_dir') } : {}),
  };
  const common = { numThreads: o.num_threads, provider: o.provider, debug: o.debug ? 1 : 0 };
  let native: OfflineTtsModelConfig;
  switch (m.kind) {
    case 'vits':
      native = { ...common, vits: { model: one('model'), tokens: one('tokens'), ...extras } };
      break;
    case 'matcha':
      native = { ...common, matcha: { acousticModel: one('acoustic_model'), vocoder: one('vocoder'), tokens: one('tokens'), ...extras } };
      break;
    case 'kokoro':
      native = { ...common, kokoro: { model: one('model'), voices: one('voices'), tokens: one('tokens'), ...extras, ...(m.lang ? { lang: m.lang } : {}) } };
      break;
  }
  const ruleFsts = list('rule_fsts');
  const ruleFars = list('rule_fars');
  return {
    options: o,
    kind: m.kind,
    native: { model: native, maxNumSentences: o.max_num_sentences, ...(ruleFsts ? { ruleFsts } : {}), ...(ruleFars ? { ruleFars } : {}) },
  };
}
