/**
 * The Volcengine TTS provider's config (documented in index.ts) and the v3 request payloads it
 * turns into (vendors.md §7.3.3).
 */
import type { Voice } from '../../contracts/tts.js';
import { credentials, firstStr, invalid, num, str, wsUrl, type Cfg } from '../../volc/config.js';
import type { V3Credentials } from '../../volc/socket.js';

export const DEFAULT_TTS_URL = 'wss://openspeech.bytedance.com/api/v3/tts/bidirection';
// The vendor's documented example voice family; any voice of the resource's generation works.
export const DEFAULT_VOICE = 'zh_female_wanwanxiaohe_moon_bigtts';
const RATES = [8000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000];

export interface VolcTtsConfig {
  url: string;
  credentials: V3Credentials;
  uid: string;
  voice: string;
  sampleRate: number;
  speechRate: number;
  loudnessRate: number;
  emotion: string | null;
  additions: Record<string, unknown>;
  connectTimeoutMs: number;
  stallMs: number;
  cancelTimeoutMs: number;
  maxIdle: number;
}

export function parseVolcTtsConfig(cfg: Cfg, path = 'providers.tts.volc'): VolcTtsConfig {
  const sampleRate = num(cfg, 'sample_rate', 24_000, 8000, 48_000, path);
  if (!RATES.includes(sampleRate)) throw invalid(`${path}.sample_rate`, `must be one of ${RATES.join(', ')}`);
  const additions = cfg.additions ?? {};
  if (typeof additions !== 'object' || additions === null || Array.isArray(additions)) throw invalid(`${path}.additions`, 'must be a map');
  return {
    url: wsUrl(cfg, DEFAULT_TTS_URL, path),
    credentials: credentials(cfg, 'seed-tts-1.0', path),
    uid: str(cfg, 'uid', path) ?? 'xiaozhi-server',
    voice: firstStr(cfg, ['voice', 'speaker'], path) ?? DEFAULT_VOICE,
    sampleRate,
    speechRate: num(cfg, 'speech_rate', 0, -50, 100, path),
    loudnessRate: num(cfg, 'loudness_rate', 0, -50, 100, path),
    emotion: str(cfg, 'emotion', path),
    additions: additions as Record<string, unknown>,
    connectTimeoutMs: num(cfg, 'connect_timeout_ms', 5000, 100, 60_000, path),
    stallMs: num(cfg, 'stall_ms', 8000, 50, 120_000, path),
    cancelTimeoutMs: num(cfg, 'cancel_timeout_ms', 2000, 50, 60_000, path),
    maxIdle: num(cfg, 'max_idle', 4, 0, 1000, path),
  };
}

/** `req_params` of StartSession for a voice; TaskRequest repeats it with the text (harmless, as clients in the wild do). */
export function reqParams(cfg: VolcTtsConfig, voice: Voice): Record<string, unknown> {
  const rate = voice.rate !== undefined && Number.isFinite(voice.rate) && voice.rate > 0 ? voice.rate : 1;
  // speech_rate is a percentage offset (−50…100): 1.5× → 50.
  const speechRate = Math.round(Math.min(100, Math.max(-50, cfg.speechRate + (rate - 1) * 100)));
  const audio: Record<string, unknown> = { format: 'pcm', sample_rate: cfg.sampleRate, speech_rate: speechRate, loudness_rate: cfg.loudnessRate };
  if (cfg.emotion) audio.emotion = cfg.emotion;
  const additions: Record<string, unknown> = { ...cfg.additions };
  if (voice.pitch !== undefined && Number.isFinite(voice.pitch) && voice.pitch !== 0) {
    const post = typeof additions.post_process === 'object' && additions.post_process !== null ? (additions.post_process as Record<string, unknown>) : {};
    additions.post_process = { ...post, pitch: Math.round(Math.min(12, Math.max(-12, voice.pitch))) };
  }
  // `additions` travels as a JSON string, not an object (§7.3.3).
  return { speaker: voice.name || cfg.voice, audio_params: audio, additions: JSON.stringify(additions) };
}

export function startSessionPayload(cfg: VolcTtsConfig, voice: Voice): Record<string, unknown> {
  return { user: { uid: cfg.uid }, event: 100, namespace: 'BidirectionalTTS', req_params: reqParams(cfg, voice) };
}

export function taskPayload(params: Record<string, unknown>, text: string): Record<string, unknown> {
  return { event: 200, namespace: 'BidirectionalTTS', req_params: { ...params, text } };
}
