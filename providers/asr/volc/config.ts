/**
 * The Volcengine ASR provider's config (documented in index.ts) and the full client request it
 * turns into (vendors.md §6.4).
 */
import type { AsrOptions } from '../../contracts/asr.js';
import { UPLINK_RATE } from '../../contracts/audio.js';
import { bool, credentials, num, oneOf, str, wsUrl, type Cfg } from '../../volc/config.js';
import type { V3Credentials } from '../../volc/socket.js';

export const DEFAULT_ASR_URL = 'wss://openspeech.bytedance.com/api/v3/sauc/bigmodel_async';

export interface VolcAsrConfig {
  url: string;
  credentials: V3Credentials;
  uid: string;
  packetMs: number;
  endWindowSize: number;
  enableItn: boolean;
  enablePunc: boolean;
  enableDdc: boolean;
  resultType: 'full' | 'single';
  compression: 'gzip' | 'none';
  numbering: 'none' | 'explicit';
  connectTimeoutMs: number;
  finalTimeoutMs: number;
}

export function parseVolcAsrConfig(cfg: Cfg, path = 'providers.asr.volc'): VolcAsrConfig {
  return {
    url: wsUrl(cfg, DEFAULT_ASR_URL, path),
    credentials: credentials(cfg, 'volc.bigasr.sauc.duration', path),
    uid: str(cfg, 'uid', path) ?? 'xiaozhi-server',
    packetMs: num(cfg, 'packet_ms', 200, 20, 1000, path),
    endWindowSize: num(cfg, 'end_window_size', 800, 200, 10_000, path),
    enableItn: bool(cfg, 'enable_itn', true, path),
    enablePunc: bool(cfg, 'enable_punc', true, path),
    enableDdc: bool(cfg, 'enable_ddc', false, path),
    resultType: oneOf(cfg, 'result_type', ['full', 'single'], 'full', path),
    compression: oneOf(cfg, 'compression', ['gzip', 'none'], 'gzip', path),
    numbering: oneOf(cfg, 'numbering', ['none', 'explicit'], 'none', path),
    connectTimeoutMs: num(cfg, 'connect_timeout_ms', 5000, 100, 60_000, path),
    finalTimeoutMs: num(cfg, 'final_timeout_ms', 8000, 100, 120_000, path),
  };
}

/** The full client request (§6.4). */
export function fullRequest(cfg: VolcAsrConfig, opts: Pick<AsrOptions, 'language' | 'hints'>): Record<string, unknown> {
  const audio: Record<string, unknown> = { format: 'pcm', codec: 'raw', rate: UPLINK_RATE, bits: 16, channel: 1 };
  // Only the nostream endpoint takes a language; the streaming ones detect it.
  if (opts.language && cfg.url.includes('nostream')) audio.language = opts.language;
  const request: Record<string, unknown> = {
    model_name: 'bigmodel',
    enable_itn: cfg.enableItn,
    enable_punc: cfg.enablePunc,
    enable_ddc: cfg.enableDdc,
    show_utterances: true, // definite flags come only with utterances
    result_type: cfg.resultType,
    end_window_size: cfg.endWindowSize,
  };
  const hints = (opts.hints ?? []).filter((h) => h.trim() !== '');
  if (hints.length > 0) request.corpus = { context: JSON.stringify({ hotwords: hints.map((word) => ({ word })) }) };
  return { user: { uid: cfg.uid }, audio, request };
}
