/**
 * Volcengine (Doubao) TTS over the v3 bidirectional WebSocket (vendors.md §7.3) as a
 * TtsProvider: text in pieces (`open`) or whole (`synthesize`), PCM out as the server streams
 * it, at the declared `sample_rate`. Connections are pooled per provider instance and reused
 * across sentences and turns (one handshake, many sessions); see connection.ts and session.ts.
 *
 * Config (providers.tts.<name>):
 *   type: volc
 *   url: wss://openspeech.bytedance.com/api/v3/tts/bidirection
 *   appid: "123456789"            X-Api-App-Key / X-Api-App-Id (alias app_key)
 *   access_token: ${VOLC_TOKEN}   X-Api-Access-Key (alias access_key); or api_key: X-Api-Key
 *   resource_id: seed-tts-1.0     must match the voice's generation (seed-tts-2.0, seed-icl-1.0, …)
 *   voice: zh_female_wanwanxiaohe_moon_bigtts   default speaker (a role's voice name overrides)
 *   sample_rate: 24000            8000 | 16000 | 22050 | 24000 | 32000 | 44100 | 48000
 *   speech_rate: 0, loudness_rate: 0   −50…100 (a voice's rate factor adds to speech_rate)
 *   emotion: null
 *   additions: {}                 sent as the JSON string the vendor wants
 *   uid: xiaozhi-server
 *   connect_timeout_ms: 5000      handshake + ConnectionStarted
 *   stall_ms: 8000                server silence while it owes SessionStarted or audio after FinishSession
 *   cancel_timeout_ms: 2000       wait for SessionCanceled before dropping the connection
 *   max_idle: 4                   idle connections kept open
 */
import { E, XzError } from '../../../runtime/errors.js';
import type { PcmChunk } from '../../contracts/audio.js';
import type { TtsCapabilities, TtsProvider, TtsRequest, TtsSession, Voice } from '../../contracts/tts.js';
import type { Cfg } from '../../volc/config.js';
import { parseVolcTtsConfig, type VolcTtsConfig } from './config.js';
import { ConnectionPool, headers } from './connection.js';
import { randomUUID } from 'node:crypto';
import { wsProbe, type HttpProbe } from '../../http/probe.js';
import { VolcTtsSession } from './session.js';

export { parseVolcTtsConfig, type VolcTtsConfig } from './config.js';

export class VolcTts implements TtsProvider {
  readonly id: string;
  readonly caps: TtsCapabilities;
  readonly cfg: VolcTtsConfig;
  readonly #pool: ConnectionPool;

  constructor(id: string, cfg: VolcTtsConfig) {
    this.id = id;
    this.cfg = cfg;
    this.caps = { sampleRate: cfg.sampleRate, streamingAudio: true, streamingText: true };
    this.#pool = new ConnectionPool(cfg);
  }

  /** Connections open now (busy or idle); for health reporting. */
  get connections(): number {
    return this.#pool.size;
  }

  open(voice: Voice, signal: AbortSignal): TtsSession {
    return new VolcTtsSession(this.cfg, this.#pool, voice, signal);
  }

  synthesize(req: TtsRequest): AsyncIterable<PcmChunk> {
    return this.#whole(req);
  }

  async *#whole(req: TtsRequest): AsyncGenerator<PcmChunk> {
    if (req.signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, 'synthesis aborted');
    if (req.text.trim() === '') return;
    const s = this.open(req.voice, req.signal);
    s.pushText(req.text);
    s.end();
    yield* s;
  }

  async close(): Promise<void> {
    this.#pool.close();
  }
}

export function createVolcTts(id: string, cfg: Cfg, path?: string): TtsProvider {
  return new VolcTts(id, parseVolcTtsConfig(cfg, path));
}

/** The pool's health check: the gateway's WebSocket handshake with our credentials, closed at once. */
export function volcTtsProbe(cfg: Cfg, path?: string): HttpProbe {
  const c = parseVolcTtsConfig(cfg, path);
  return wsProbe(() => ({ url: c.url, headers: headers(c, randomUUID()) }), c.connectTimeoutMs);
}
