/**
 * Microsoft Edge "read aloud" TTS as a TtsProvider (vendors.md §8): SSML over a WebSocket, MP3
 * back in binary frames, decoded here to PCM with wasm mpg123 (this runs in a speak worker, never
 * on the main thread). The consumer endpoint serves MP3 or WebM only — asking for raw PCM gets
 * clients banned — so the output is 24 kHz MP3 and the declared rate is 24 000 Hz.
 *
 * Sockets are pooled per instance (pool.ts): a sentence on an idle socket costs no handshake.
 * Abort (or a reader that stops early) closes the request's socket: the protocol has no cancel
 * message, and closing is what stops the server.
 *
 * Config (providers.tts.<name>):
 *   type: edge
 *   url: wss://speech.platform.bing.com/consumer/speech/synthesize/readaloud/edge/v1
 *   voice: null                 a fixed voice for every request (else chosen by language)
 *   voices: { zh: zh-CN-XiaoxiaoNeural, en: en-US-AvaNeural }   language → voice
 *   default_voice: zh-CN-XiaoxiaoNeural
 *   rate: '+0%'  pitch: '+0Hz'  volume: '+0%'   base prosody; a request's rate/pitch add to it
 *   output_format: audio-24khz-48kbitrate-mono-mp3   (or audio-24khz-96kbitrate-mono-mp3)
 *   chromium_version: 143.0.3650.75   the Edge version we present (Microsoft retires old ones)
 *   connections: 4              sockets open at most (concurrent syntheses)
 *   idle_ms: 60000              an idle socket is closed after this
 *   connect_timeout_ms: 10000   stall_ms: 10000 (silence inside a request)
 *   permessage_deflate: true    offered as the Edge browser does; false saves a zlib pass per
 *                               message (~1–5 ms to first audio on a local link; MP3 does not shrink)
 */
import { E, XzError } from '../../../runtime/errors.js';
import type { PcmChunk } from '../../contracts/audio.js';
import type { TtsCapabilities, TtsProvider, TtsRequest, Voice } from '../../contracts/tts.js';
import { VENDOR } from '../../http/errors.js';
import { OptionReader } from '../../http/options.js';
import { TTS } from '../errors.js';
import { DEFAULT_CHROMIUM_VERSION, EDGE_ORIGIN, EDGE_URL, handshake, hexId } from './drm.js';
import { wsProbe, type HttpProbe } from '../../http/probe.js';
import { Mp3Decoder } from './mp3.js';
import { EdgePool } from './pool.js';
import { OUTPUT_FORMATS, PITCH_RE, RATE_RE, isVoiceName, splitText, ssml, type OutputFormat, type Prosody } from './protocol.js';

export interface EdgeConfig {
  url: string;
  voice: string | null;
  voices: Record<string, string>;
  defaultVoice: string;
  prosody: Prosody;
  format: OutputFormat;
  chromium: string;
  connections: number;
  idleMs: number;
  connectTimeoutMs: number;
  stallMs: number;
  deflate: boolean;
}

const invalid = (path: string, want: string): XzError =>
  new XzError(E.XZ_ERR_CONFIG_INVALID, `${path} must be ${want}`, { details: { path } });

function voiceOpt(v: unknown, path: string): string {
  if (typeof v !== 'string' || !isVoiceName(v)) throw invalid(path, 'an Edge voice name such as zh-CN-XiaoxiaoNeural');
  return v;
}

function bool(v: unknown, dflt: boolean, path: string): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw invalid(path, 'true or false');
  return v;
}

function matching(r: OptionReader, key: string, re: RegExp, dflt: string, want: string): string {
  const v = r.str(key) ?? dflt;
  if (!re.test(v)) throw invalid(`${r.path}.${key}`, want);
  return v;
}

export function parseEdgeConfig(cfg: Record<string, unknown>, path = 'providers.tts.edge'): EdgeConfig {
  const r = new OptionReader(cfg, path);
  const url = r.str('url') ?? EDGE_URL;
  try {
    if (!/^wss?:$/.test(new URL(url).protocol)) throw new Error();
  } catch {
    throw invalid(`${path}.url`, 'a ws:// or wss:// URL');
  }
  const voices: Record<string, string> = { zh: 'zh-CN-XiaoxiaoNeural', en: 'en-US-AvaNeural' };
  for (const [lang, v] of Object.entries(r.obj('voices'))) voices[lang.toLowerCase()] = voiceOpt(v, `${path}.voices.${lang}`);
  const format = r.str('output_format') ?? 'audio-24khz-48kbitrate-mono-mp3';
  if (!Object.hasOwn(OUTPUT_FORMATS, format)) throw invalid(`${path}.output_format`, `one of ${Object.keys(OUTPUT_FORMATS).join(', ')} (the endpoint serves MP3 only)`);
  const chromium = r.str('chromium_version') ?? DEFAULT_CHROMIUM_VERSION;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(chromium)) throw invalid(`${path}.chromium_version`, 'a full version such as 143.0.3650.75');
  return {
    url,
    voice: cfg.voice === undefined || cfg.voice === null ? null : voiceOpt(cfg.voice, `${path}.voice`),
    voices,
    defaultVoice: cfg.default_voice === undefined ? 'zh-CN-XiaoxiaoNeural' : voiceOpt(cfg.default_voice, `${path}.default_voice`),
    prosody: {
      rate: matching(r, 'rate', RATE_RE, '+0%', "like '+10%' or '-5%'"),
      pitch: matching(r, 'pitch', PITCH_RE, '+0Hz', "like '+20Hz' or '-10Hz'"),
      volume: matching(r, 'volume', RATE_RE, '+0%', "like '+10%' or '-5%'"),
    },
    format: format as OutputFormat,
    chromium,
    connections: Math.floor(r.num('connections', 1) ?? 4),
    idleMs: r.num('idle_ms', 1) ?? 60_000,
    connectTimeoutMs: r.num('connect_timeout_ms', 1) ?? 10_000,
    stallMs: r.num('stall_ms', 1) ?? 10_000,
    deflate: bool(cfg.permessage_deflate, true, `${path}.permessage_deflate`),
  };
}

export function pickVoice(cfg: EdgeConfig, voice: Voice): string {
  if (voice.name) {
    if (!isVoiceName(voice.name)) throw new XzError(TTS.XZ_ERR_TTS_BAD_VOICE, `not an Edge voice name: ${JSON.stringify(voice.name)}`);
    return voice.name;
  }
  if (cfg.voice) return cfg.voice;
  const tag = (voice.language ?? '').toLowerCase();
  const primary = tag.split(/[-_]/)[0] ?? '';
  return cfg.voices[tag] ?? cfg.voices[primary] ?? cfg.defaultVoice;
}

const signed = (n: number, unit: string): string => `${n < 0 ? '-' : '+'}${Math.abs(n)}${unit}`;

/**
 * Base prosody plus the request's: rate is a speed factor (1.5 → +50 %), pitch is semitones,
 * which Edge only takes in Hz here; a 200 Hz nominal voice turns semitones into Hz.
 */
export function prosodyFor(cfg: EdgeConfig, voice: Voice): Prosody {
  const rate = voice.rate !== undefined && Number.isFinite(voice.rate) && voice.rate > 0 ? voice.rate : 1;
  const semis = voice.pitch !== undefined && Number.isFinite(voice.pitch) ? voice.pitch : 0;
  const baseRate = parseInt(cfg.prosody.rate, 10);
  const basePitch = parseInt(cfg.prosody.pitch, 10);
  return {
    rate: signed(Math.max(-90, Math.min(200, baseRate + Math.round((rate - 1) * 100))), '%'),
    pitch: signed(basePitch + Math.round(200 * (2 ** (semis / 12) - 1)), 'Hz'),
    volume: cfg.prosody.volume,
  };
}

export class EdgeTts implements TtsProvider {
  readonly id: string;
  readonly caps: TtsCapabilities;
  readonly cfg: EdgeConfig;
  readonly #pool: EdgePool;
  readonly #spare: Mp3Decoder[] = [];
  #making = 0;
  #closed = false;

  constructor(id: string, cfg: EdgeConfig) {
    this.id = id;
    this.cfg = cfg;
    this.caps = { sampleRate: OUTPUT_FORMATS[cfg.format], streamingAudio: true, streamingText: false };
    this.#pool = new EdgePool(
      { vendor: id, baseUrl: cfg.url, chromium: cfg.chromium, format: cfg.format, connectTimeoutMs: cfg.connectTimeoutMs, deflate: cfg.deflate },
      cfg.connections,
      cfg.idleMs,
    );
  }

  /** Sockets opened so far and open now. */
  stats(): { handshakes: number; open: number } {
    return { handshakes: this.#pool.handshakes, open: this.#pool.size };
  }

  synthesize(req: TtsRequest): AsyncIterable<PcmChunk> {
    return this.#run(req);
  }

  async *#run(req: TtsRequest): AsyncGenerator<PcmChunk> {
    const { signal } = req;
    if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, `${this.id}: synthesis aborted`);
    const pieces = splitText(req.text.trim());
    if (pieces.length === 0) return;
    const voice = pickVoice(this.cfg, req.voice);
    const prosody = prosodyFor(this.cfg, req.voice);
    const dec = this.#spare.pop() ?? (await Mp3Decoder.create(this.caps.sampleRate));
    try {
      for (const piece of pieces) yield* this.#piece(ssml(voice, prosody, piece), dec, signal);
    } finally {
      dec.free();
      this.#replenish();
    }
  }

  /**
   * Every synthesis gets a fresh decoder: a used one carries its filterbank overlap, so the last
   * few ms of one sentence would bleed into the start of the next (the exact-sample conformance
   * test catches it), and its async reset() takes up to ~20 ms. Creating one costs ~0.5 ms but
   * 3–9 ms at p90–p99, so a spare is made after each synthesis, off the path to first audio.
   */
  #replenish(): void {
    if (this.#closed || this.#spare.length + this.#making >= 1) return;
    this.#making++;
    Mp3Decoder.create(this.caps.sampleRate).then(
      (d) => {
        this.#making--;
        if (this.#closed) d.free();
        else this.#spare.push(d);
      },
      () => this.#making--, // the next synthesis creates its own and reports any failure
    );
  }

  async *#piece(doc: string, dec: Mp3Decoder, signal: AbortSignal): AsyncGenerator<PcmChunk> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.#pool.acquire(signal);
      const reused = conn.served > 0;
      const turn = conn.start(hexId(), doc);
      let clean = false;
      try {
        for (;;) {
          const ev = await turn.next(signal, this.cfg.stallMs, this.id);
          if (ev.kind === 'end') {
            clean = true;
            if (turn.audioBytes === 0) throw new XzError(VENDOR.XZ_ERR_VENDOR_UPSTREAM, `${this.id}: turn ended without audio`, { details: { vendor: this.id } });
            return;
          }
          const pcm = dec.push(ev.bytes);
          if (pcm.length > 0) yield { pcm, sampleRate: this.caps.sampleRate };
        }
      } catch (e) {
        // A reused socket the server dropped while idle fails before answering anything: that is
        // no fault of the request, so it goes once more on a fresh socket.
        if (attempt === 0 && reused && !turn.heard && e instanceof XzError && e.category === 'connectivity') continue;
        throw e;
      } finally {
        if (clean) this.#pool.release(conn);
        else conn.destroy();
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#pool.close();
    for (const d of this.#spare.splice(0)) d.free();
  }
}

export function createEdgeTts(id: string, cfg: Record<string, unknown>, path?: string): TtsProvider {
  return new EdgeTts(id, parseEdgeConfig(cfg, path));
}

/** The pool's health check: the service's WebSocket handshake (fresh Sec-MS-GEC token), closed at once. */
export function edgeProbe(cfg: Record<string, unknown>, path?: string): HttpProbe {
  const c = parseEdgeConfig(cfg, path);
  return wsProbe(() => ({ ...handshake(c.url, c.chromium, Date.now()), origin: EDGE_ORIGIN }), c.connectTimeoutMs);
}
