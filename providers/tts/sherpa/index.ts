/**
 * sherpa-onnx as a TtsProvider: local synthesis from a VITS (MeloTTS, Piper, the Chinese VITS
 * voices), Matcha or Kokoro model the operator supplies (providers/sherpa/README.md: where to get one,
 * and the YAML for each).
 *
 * The model is loaded when the provider is created (once per speak worker), so `caps.sampleRate`
 * is the model's own rate, which is known only then. Each request runs `generateAsync` on a
 * libuv pool thread, one at a time per provider (Lane), and gets the whole sentence's float
 * samples back; they are converted to s16 and yielded in `chunk_ms` pieces so the codec starts
 * encoding before the whole sentence is converted, and an abort is honoured between chunks.
 * The think actor already hands over one sentence at a time, which is the granularity sherpa's
 * progress callback would give, and that callback is reported to crash the process (native/sherpa.ts).
 *
 * Config (providers.tts.<name>; paths relative to model.dir, else the working directory):
 *   type: sherpa
 *   model:
 *     kind: vits                      vits | matcha | kokoro
 *     dir: /models/vits-melo-tts-zh_en
 *     files: { model: model.onnx, tokens: tokens.txt, lexicon: lexicon.txt }
 *                                     matcha: acoustic_model, vocoder, tokens; kokoro: model, voices,
 *                                     tokens; any: lexicon (one or a list), data_dir (espeak-ng-data)
 *     lang: null                      kokoro multi-language only
 *   rule_fsts: [date.fst, number.fst, phone.fst]   text normalisation (Chinese models)
 *   rule_fars: []
 *   sid: 0                            default speaker
 *   speakers: { anna: 3 }             names a request's voice may use; a number also works
 *   speed: 1.0                        at voice rate 1
 *   max_num_sentences: 1
 *   chunk_ms: 160
 *   num_threads: 1
 *   provider: cpu
 *   verify_model: true                probe the model in a child process (needs the spawner)
 *   verify_timeout_ms: 120000
 *   debug: false
 */
import { E, XzError } from '../../../runtime/errors.js';
import type { SpawnClient } from '../../../runtime/spawner.js';
import { toInt16, type OfflineTts } from '../../../native/sherpa.js';
import type { PcmChunk } from '../../contracts/audio.js';
import type { TtsCapabilities, TtsProvider, TtsRequest, Voice } from '../../contracts/tts.js';
import { TTS } from '../errors.js';
import { Lane, SHERPA, engineError, sherpaModule, untilAborted, verifyModel, type SherpaCreateOptions } from '../../sherpa/common.js';
import { parseSherpaTtsConfig, type SherpaTtsConfig } from './config.js';

export { TTS_KINDS, parseSherpaTtsConfig, ttsSchema, type SherpaTtsConfig } from './config.js';

/** The speaker id for a request: its voice name (a configured name or a number), else the default. */
export function pickSpeaker(cfg: SherpaTtsConfig, numSpeakers: number, voice: Voice): number {
  const name = voice.name;
  if (name === undefined || name === '') return cfg.options.sid;
  const sid = Object.hasOwn(cfg.options.speakers, name) ? cfg.options.speakers[name]! : /^\d+$/.test(name) ? Number(name) : undefined;
  if (sid === undefined) {
    const names = Object.keys(cfg.options.speakers);
    throw new XzError(TTS.XZ_ERR_TTS_BAD_VOICE, `sherpa-onnx voice ${JSON.stringify(name)}: not a speaker id${names.length ? ` or one of ${names.join(', ')}` : ''}`);
  }
  if (numSpeakers > 0 && sid >= numSpeakers) throw new XzError(TTS.XZ_ERR_TTS_BAD_VOICE, `sherpa-onnx voice ${JSON.stringify(name)}: speaker ${sid}, the model has ${numSpeakers}`);
  return sid;
}

/** Speed at the request's rate, kept where the models still sound like speech. */
export function speedFor(cfg: SherpaTtsConfig, voice: Voice): number {
  const rate = voice.rate !== undefined && Number.isFinite(voice.rate) && voice.rate > 0 ? voice.rate : 1;
  return Math.min(4, Math.max(0.25, cfg.options.speed * rate));
}

export class SherpaTts implements TtsProvider {
  readonly id: string;
  readonly caps: TtsCapabilities;
  readonly cfg: SherpaTtsConfig;
  #tts: OfflineTts | null;
  readonly #lane = new Lane();

  constructor(id: string, cfg: SherpaTtsConfig, tts: OfflineTts) {
    this.id = id;
    this.cfg = cfg;
    this.#tts = tts;
    this.caps = { sampleRate: tts.sampleRate, streamingAudio: false, streamingText: false };
  }

  /** Speakers the model has. */
  get numSpeakers(): number {
    return this.#tts?.numSpeakers ?? 0;
  }

  synthesize(req: TtsRequest): AsyncIterable<PcmChunk> {
    return this.#run(req);
  }

  async *#run(req: TtsRequest): AsyncGenerator<PcmChunk> {
    const { signal } = req;
    const aborted = (): XzError => new XzError(E.XZ_ERR_ABORTED, 'synthesis aborted');
    if (signal.aborted) throw aborted();
    const tts = this.#tts;
    if (!tts) throw new XzError(E.XZ_ERR_SHUTTING_DOWN, `${this.id}: provider closed`);
    const text = req.text.trim();
    if (text === '') return;
    const sid = pickSpeaker(this.cfg, tts.numSpeakers, req.voice);
    const speed = speedFor(this.cfg, req.voice);
    let audio;
    try {
      const job = this.#lane.run(() => tts.generateAsync({ text, sid, speed, enableExternalBuffer: false }), signal);
      audio = await untilAborted(job, signal, 'synthesis aborted');
    } catch (e) {
      throw engineError(`${this.id}: synthesis failed`, e);
    }
    const rate = this.caps.sampleRate;
    if (audio.sampleRate !== rate) throw new XzError(TTS.XZ_ERR_TTS_BAD_AUDIO, `sherpa-onnx produced ${audio.sampleRate} Hz, declared ${rate} Hz`);
    const step = Math.max(1, Math.round((rate * this.cfg.options.chunk_ms) / 1000));
    for (let at = 0; at < audio.samples.length; at += step) {
      if (signal.aborted) throw aborted();
      yield { pcm: toInt16(audio.samples, at, Math.min(at + step, audio.samples.length)), sampleRate: rate };
    }
  }

  /** Drops the model (freed once a synthesis still running has finished). */
  async close(): Promise<void> {
    this.#tts = null;
  }
}

/**
 * Builds the provider: config → files → native module → model probe in a child process →
 * the model, loaded on a pool thread (createAsync) so the worker's loop stays free meanwhile.
 */
export async function createSherpaTts(
  id: string,
  cfg: Record<string, unknown>,
  client: () => Promise<SpawnClient>,
  path = 'providers.tts.sherpa',
  opts: SherpaCreateOptions = {},
): Promise<TtsProvider> {
  const c = parseSherpaTtsConfig(cfg, path);
  const sherpa = sherpaModule(opts.specifier);
  if (c.options.verify_model) {
    await verifyModel({ target: 'tts', config: c.native, client, timeoutMs: c.options.verify_timeout_ms, path: `${path}.model`, specifier: opts.specifier });
  }
  let tts: OfflineTts;
  try {
    tts = await sherpa.OfflineTts.createAsync(c.native);
  } catch (e) {
    throw new XzError(SHERPA.XZ_ERR_SHERPA_MODEL_INVALID, `${path}.model: sherpa-onnx refused the model: ${e instanceof Error ? e.message : String(e)}`, {
      details: { path: `${path}.model` },
      cause: e,
    });
  }
  const speakers: [string, number][] = [[`${path}.sid`, c.options.sid], ...Object.entries(c.options.speakers).map(([n, sid]): [string, number] => [`${path}.speakers.${n}`, sid])];
  for (const [at, sid] of speakers) {
    if (tts.numSpeakers > 0 && sid >= tts.numSpeakers) {
      throw new XzError(E.XZ_ERR_CONFIG_INVALID, `${at}: speaker ${sid}, but the model has ${tts.numSpeakers}`, { details: { path: at } });
    }
  }
  return new SherpaTts(id, c, tts);
}
