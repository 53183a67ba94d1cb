/**
 * espeak-ng as a TtsProvider: offline, ~20 ms for a sentence, Mandarin (`cmn`) and English.
 *
 * Each request runs `espeak-ng --stdout --stdin -v <voice> -s <wpm> -p <pitch>` through the
 * spawner (never from our own thread: see runtime/spawner.ts). The text goes in on stdin, so no
 * shell and no argument parsing ever sees it; the WAV comes back on stdout and is yielded as PCM
 * as the pipe delivers it. The rate is read from the header and checked against the declared one.
 *
 * Config (providers.tts.<name>):
 *   type: espeak
 *   command: espeak-ng          binary name or path
 *   voice: null                 a fixed voice for every request (else chosen by language)
 *   voices: { zh: cmn, en: en-us }   language (full tag or primary subtag) → voice
 *   default_voice: en-us        when the language matches nothing above
 *   wpm: 175                    words per minute at rate 1
 *   pitch: 50                   espeak pitch (0–99) at 0 semitones
 *   sample_rate: 22050          what this espeak-ng build writes (checked on every request)
 *   timeout_ms: 20000
 */
import { E, XzError } from '../../../runtime/errors.js';
import { SP, type SpawnClient } from '../../../runtime/spawner.js';
import type { PcmChunk } from '../../contracts/audio.js';
import type { TtsCapabilities, TtsProvider, TtsRequest, Voice } from '../../contracts/tts.js';
import { TTS } from '../errors.js';
import { WavStreamParser } from '../wav.js';

export interface EspeakConfig {
  command: string;
  voice: string | null;
  voices: Record<string, string>;
  defaultVoice: string;
  wpm: number;
  pitch: number;
  sampleRate: number;
  timeoutMs: number;
}

// Voice names are passed as an argument: keep them to what espeak-ng names look like.
const VOICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_+\-/.]*$/;
const WPM_MIN = 80;
const WPM_MAX = 450;
// espeak's pitch 0–99 spans roughly an octave either side of 50: ~4 units per semitone.
const PITCH_PER_SEMITONE = 50 / 12;

function invalid(path: string, message: string): XzError {
  return new XzError(E.XZ_ERR_CONFIG_INVALID, `${path}: ${message}`, { details: { path } });
}

function num(cfg: Record<string, unknown>, key: string, dflt: number, min: number, max: number, path: string): number {
  const v = cfg[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalid(`${path}.${key}`, `must be a number in ${min}..${max}`);
  return v;
}

function voiceName(v: unknown, path: string): string {
  if (typeof v !== 'string' || !VOICE_NAME.test(v)) throw invalid(path, `not a voice name: ${JSON.stringify(v)}`);
  return v;
}

/** Checks a config slice (structured-clone data from the YAML) and fills in defaults. */
export function parseEspeakConfig(cfg: Record<string, unknown>, path = 'providers.tts.espeak'): EspeakConfig {
  const voices: Record<string, string> = { zh: 'cmn', en: 'en-us' };
  if (cfg.voices !== undefined && cfg.voices !== null) {
    if (typeof cfg.voices !== 'object' || Array.isArray(cfg.voices)) throw invalid(`${path}.voices`, 'must be a map of language to voice');
    for (const [lang, v] of Object.entries(cfg.voices)) voices[lang.toLowerCase()] = voiceName(v, `${path}.voices.${lang}`);
  }
  const command = cfg.command ?? 'espeak-ng';
  if (typeof command !== 'string' || command === '') throw invalid(`${path}.command`, 'must be a command name or path');
  return {
    command,
    voice: cfg.voice === undefined || cfg.voice === null ? null : voiceName(cfg.voice, `${path}.voice`),
    voices,
    defaultVoice: cfg.default_voice === undefined ? 'en-us' : voiceName(cfg.default_voice, `${path}.default_voice`),
    wpm: num(cfg, 'wpm', 175, WPM_MIN, WPM_MAX, path),
    pitch: num(cfg, 'pitch', 50, 0, 99, path),
    sampleRate: num(cfg, 'sample_rate', 22_050, 8000, 48_000, path),
    timeoutMs: num(cfg, 'timeout_ms', 20_000, 100, 600_000, path),
  };
}

/** Picks the espeak-ng voice: the request's name, the configured fixed voice, else by language. */
export function pickVoice(cfg: EspeakConfig, voice: Voice): string {
  if (voice.name) {
    if (!VOICE_NAME.test(voice.name)) throw new XzError(TTS.XZ_ERR_TTS_BAD_VOICE, `not an espeak-ng voice name: ${JSON.stringify(voice.name)}`);
    return voice.name;
  }
  if (cfg.voice) return cfg.voice;
  const tag = (voice.language ?? '').toLowerCase();
  const primary = tag.split(/[-_]/)[0] ?? '';
  return cfg.voices[tag] ?? cfg.voices[primary] ?? (primary === 'zh' ? 'cmn' : cfg.defaultVoice);
}

/** The command line for one request (text travels on stdin). */
export function espeakArgs(cfg: EspeakConfig, voice: Voice): string[] {
  const rate = voice.rate !== undefined && Number.isFinite(voice.rate) && voice.rate > 0 ? voice.rate : 1;
  const semis = voice.pitch !== undefined && Number.isFinite(voice.pitch) ? voice.pitch : 0;
  const wpm = Math.round(Math.min(WPM_MAX, Math.max(WPM_MIN, cfg.wpm * rate)));
  const pitch = Math.round(Math.min(99, Math.max(0, cfg.pitch + semis * PITCH_PER_SEMITONE)));
  return ['--stdout', '--stdin', '-v', pickVoice(cfg, voice), '-s', String(wpm), '-p', String(pitch)];
}

export class EspeakTts implements TtsProvider {
  readonly id: string;
  readonly caps: TtsCapabilities;
  readonly #cfg: EspeakConfig;
  readonly #client: () => Promise<SpawnClient>;

  constructor(id: string, cfg: EspeakConfig, client: () => Promise<SpawnClient>) {
    this.id = id;
    this.#cfg = cfg;
    this.#client = client;
    this.caps = { sampleRate: cfg.sampleRate, streamingAudio: true, streamingText: false };
  }

  synthesize(req: TtsRequest): AsyncIterable<PcmChunk> {
    return this.#run(req);
  }

  async *#run(req: TtsRequest): AsyncGenerator<PcmChunk> {
    const { signal } = req;
    if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, 'synthesis aborted');
    const text = req.text.trim();
    if (text === '') return;
    const args = espeakArgs(this.#cfg, req.voice); // validates the voice before any process starts
    const client = await this.#client();
    const proc = client.run(this.#cfg.command, args, {
      stdin: Buffer.from(text, 'utf8'),
      signal,
      timeoutMs: this.#cfg.timeoutMs,
    });
    const wav = new WavStreamParser();
    let checked = false;
    try {
      for await (const chunk of proc.stdout) {
        const pcm = wav.push(chunk);
        if (!checked && wav.format) {
          checked = true;
          if (wav.format.sampleRate !== this.caps.sampleRate) {
            throw new XzError(TTS.XZ_ERR_TTS_BAD_AUDIO, `espeak-ng wrote ${wav.format.sampleRate} Hz, declared ${this.caps.sampleRate} Hz (set sample_rate)`);
          }
        }
        if (pcm.length > 0) yield { pcm, sampleRate: this.caps.sampleRate };
      }
      await proc.exit;
      if (!wav.format) throw new XzError(TTS.XZ_ERR_TTS_BAD_AUDIO, 'espeak-ng wrote no WAV header');
    } catch (e) {
      throw translate(e);
    } finally {
      proc.kill(); // no-op once it exited; ends it when the reader stopped early or we failed
    }
  }
}

function translate(e: unknown): unknown {
  if (e instanceof XzError && e.code === SP.XZ_ERR_SPAWN_EXIT) {
    const stderr = String(e.details?.stderr ?? '');
    if (/voice does not exist/i.test(stderr)) return new XzError(TTS.XZ_ERR_TTS_BAD_VOICE, stderr.trim(), { cause: e });
  }
  return e;
}

export function createEspeakTts(id: string, cfg: Record<string, unknown>, client: () => Promise<SpawnClient>, path?: string): TtsProvider {
  return new EspeakTts(id, parseEspeakConfig(cfg, path), client);
}
