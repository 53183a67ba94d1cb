/**
 * sherpa-onnx as an AsrProvider: local recognition from model files the operator supplies
 * (none ship with any package; providers/sherpa/README.md says where to get them and gives the YAML
 * for each kind). This is the offline option for Chinese.
 *
 *   online-*  (streaming Zipformer transducer, Paraformer, Zipformer2 CTC): audio is decoded as
 *             it is written, partials follow the text, the final comes after end() (online.ts).
 *   offline-* (SenseVoice, Paraformer, Zipformer transducer, Whisper): the utterance is buffered
 *             and decoded after end(), wrapped as a stream by batch.ts. Decoding runs on a libuv
 *             pool thread (decodeAsync), so the worker's loop stays free meanwhile; one decode at
 *             a time per provider (Lane). An abort answers at once; the decode already running
 *             finishes in the background and its result is dropped.
 *
 * The model is loaded once per worker thread when the provider is created and shared by every
 * session on it (a SenseVoice int8 model is ~230 MB of memory per listen worker). Creation checks
 * the config, then that every file exists, then (verify_model) loads the model once in a child
 * process, because a wrong model file makes sherpa-onnx exit() the whole server.
 *
 * Config (providers.asr.<name>; all paths relative to model.dir, else the working directory):
 *   type: sherpa
 *   model:
 *     kind: offline-sense-voice   see config.ts ASR_KINDS for every kind and its files
 *     dir: /models/sherpa-onnx-sense-voice-zh-en-ja-ko-yue-2024-07-17
 *     files: { model: model.int8.onnx, tokens: tokens.txt }
 *     language: auto              sense-voice: auto|zh|en|ja|ko|yue; whisper: '' (detect) or a code
 *     use_itn: true               sense-voice only
 *     task: transcribe            whisper only
 *   num_threads: 1                threads inside one decode (the box is sized by worker count)
 *   provider: cpu
 *   feature_dim: 80
 *   decoding_method: greedy_search    or modified_beam_search (transducers)
 *   max_active_paths: 4
 *   hotwords:                     transducers with modified_beam_search only
 *     file: hotwords.txt          sherpa-onnx's hotwords file (relative to model.dir)
 *     score: 1.5
 *     modeling_unit: cjkchar      cjkchar | bpe | cjkchar+bpe: phrases as words, not tokens
 *     bpe_vocab: bpe.vocab        for the bpe units
 *   languages: any                or a list of primary tags; others are refused (XZ_ERR_ASR_LANGUAGE)
 *   max_seconds: 30               offline kinds: audio past this is dropped
 *   verify_model: true            probe the model in a child process (needs the spawner)
 *   verify_timeout_ms: 120000
 *   debug: false
 *
 * The utterance's hints (dialogue.hotwords) go to each offline transducer stream when
 * `hotwords.modeling_unit` is set (sherpa-onnx then spells them in the model's tokens). The
 * streaming API of the addon takes no per-stream hotwords: online kinds use the file only.
 */
import { E, XzError } from '../../../runtime/errors.js';
import type { SpawnClient } from '../../../runtime/spawner.js';
import { toFloat32, type OfflineRecognizer, type OfflineRecognizerConfig, type OnlineRecognizer, type OnlineRecognizerConfig } from '../../../native/sherpa.js';
import type { AsrCapabilities, AsrOptions, AsrProvider, AsrStream } from '../../contracts/asr.js';
import { UPLINK_RATE } from '../../contracts/audio.js';
import { BatchUtterance, type BatchRecognizer } from '../batch.js';
import { ASR } from '../errors.js';
import { Lane, SHERPA, engineError, sherpaModule, verifyModel, type SherpaCreateOptions } from '../../sherpa/common.js';
import { parseSherpaAsrConfig, type SherpaAsrConfig } from './config.js';
import { OnlineSherpaStream } from './online.js';

export { ASR_KINDS, asrSchema, parseSherpaAsrConfig, type SherpaAsrConfig } from './config.js';

const primary = (tag: string | undefined): string | undefined => tag?.toLowerCase().split(/[-_]/)[0] || undefined;

/** SenseVoice says `<|zh|>`, Whisper `zh`; anything else (`<|nospeech|>`, '') is no language. */
export function resultLanguage(lang: string | undefined): string | undefined {
  const code = (lang ?? '').replace(/[<|>]/g, '').trim().toLowerCase();
  return /^[a-z]{2,3}$/.test(code) ? code : undefined;
}

/** sherpa-onnx's per-stream form: phrases separated by '/', a trailing ` :n` is a score. */
export function streamHotwords(hints: readonly string[] | undefined): string | undefined {
  const phrases = (hints ?? []).map((h) => h.replace(/[/\n]+/g, ' ').replace(/\s*:[\d.]*\s*$/, '').trim()).filter((h) => h);
  return phrases.length > 0 ? phrases.join('/') : undefined;
}

type Engine = { online: true; recognizer: OnlineRecognizer } | { online: false; recognizer: OfflineRecognizer };

export class SherpaAsr implements AsrProvider, BatchRecognizer {
  readonly id: string;
  readonly caps: AsrCapabilities;
  readonly cfg: SherpaAsrConfig;
  #engine: Engine | null;
  readonly #lane = new Lane();
  // The language an offline result reported, for the final event batch.ts builds after recognize().
  readonly #detected = new WeakMap<AsrOptions, string>();

  constructor(id: string, cfg: SherpaAsrConfig, engine: Engine) {
    this.id = id;
    this.cfg = cfg;
    this.#engine = engine;
    this.caps = { streaming: cfg.online, sampleRate: UPLINK_RATE, languages: cfg.languages };
  }

  get maxSeconds(): number {
    return this.cfg.options.max_seconds;
  }

  open(opts: AsrOptions): AsrStream {
    const engine = this.#engine;
    if (engine?.online) return new OnlineSherpaStream(this.id, engine.recognizer, opts, this.#refusal(opts));
    return new BatchUtterance(this, opts);
  }

  language(opts: AsrOptions): string | undefined {
    return this.#detected.get(opts) ?? primary(opts.language);
  }

  async recognize(chunks: readonly Int16Array[], samples: number, opts: AsrOptions): Promise<string> {
    const refused = this.#refusal(opts);
    if (refused) throw refused;
    const engine = this.#engine;
    if (!engine || engine.online) throw new XzError(E.XZ_ERR_SHUTTING_DOWN, `${this.id}: provider closed`);
    if (opts.signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, 'recognition aborted');
    if (samples === 0) return '';
    const pcm = new Float32Array(samples);
    let at = 0;
    for (const c of chunks) {
      pcm.set(toFloat32(c), at);
      at += c.length;
    }
    const recognizer = engine.recognizer;
    try {
      const result = await this.#lane.run(async () => {
        const hints = this.cfg.streamHints ? streamHotwords(opts.hints) : undefined;
        const stream = hints ? recognizer.createStream(hints) : recognizer.createStream();
        stream.acceptWaveform({ samples: pcm, sampleRate: UPLINK_RATE });
        return recognizer.decodeAsync(stream);
      }, opts.signal);
      const lang = resultLanguage(result.lang);
      if (lang) this.#detected.set(opts, lang);
      return (result.text ?? '').trim();
    } catch (e) {
      throw engineError(`${this.id}: decoding failed`, e);
    }
  }

  /** Drops the model (freed once the last stream using it is gone). */
  async close(): Promise<void> {
    this.#engine = null;
  }

  #refusal(opts: AsrOptions): XzError | null {
    if (!this.#engine) return new XzError(E.XZ_ERR_SHUTTING_DOWN, `${this.id}: provider closed`);
    const lang = primary(opts.language);
    const known = this.cfg.languages;
    if (lang === undefined || known === 'any' || known.includes(lang)) return null;
    return new XzError(ASR.XZ_ERR_ASR_LANGUAGE, `${this.id} (sherpa-onnx ${this.cfg.kind}) is configured for ${known.join(', ')}, not ${opts.language}`);
  }
}

/**
 * Builds the provider: config → files → native module → model probe in a child process →
 * the model, loaded in this thread. Every failure is a coded error naming its config path.
 */
export async function createSherpaAsr(
  id: string,
  cfg: Record<string, unknown>,
  client: () => Promise<SpawnClient>,
  path = 'providers.asr.sherpa',
  opts: SherpaCreateOptions = {},
): Promise<AsrProvider> {
  const c = parseSherpaAsrConfig(cfg, path);
  const sherpa = sherpaModule(opts.specifier);
  if (c.options.verify_model) {
    await verifyModel({ target: c.online ? 'online-asr' : 'offline-asr', config: c.native, client, timeoutMs: c.options.verify_timeout_ms, path: `${path}.model`, specifier: opts.specifier });
  }
  try {
    // Streaming recognizers have no async constructor: this blocks the worker while the model
    // loads (once per worker, at the first utterance that needs it).
    const engine: Engine = c.online
      ? { online: true, recognizer: new sherpa.OnlineRecognizer(c.native as OnlineRecognizerConfig) }
      : { online: false, recognizer: await sherpa.OfflineRecognizer.createAsync(c.native as OfflineRecognizerConfig) };
    return new SherpaAsr(id, c, engine);
  } catch (e) {
    throw new XzError(SHERPA.XZ_ERR_SHERPA_MODEL_INVALID, `${path}.model: sherpa-onnx refused the model: ${e instanceof Error ? e.message : String(e)}`, {
      details: { path: `${path}.model` },
      cause: e,
    });
  }
}
