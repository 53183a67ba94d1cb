/**
 * OpenAI-compatible speech (`POST {base_url}/audio/speech`, vendors.md §2.2) as a TtsProvider.
 * It asks for `response_format: pcm` — headerless 24 kHz s16le mono — so there is nothing to
 * decode: body chunks become PCM as they arrive. Chunk boundaries are arbitrary (a chunk may end
 * half-way through a sample), so an odd byte is carried into the next chunk.
 *
 * A 200 whose Content-Type says JSON is an error body some compatible servers send with the
 * wrong status: it is read and reported, never played as noise.
 *
 * Config (providers.tts.<name>):
 *   type: openai
 *   base_url: https://api.openai.com/v1     the part before /audio/speech
 *   model: gpt-4o-mini-tts                  voice: alloy
 *   voices: { zh: …, en: … }                optional language → voice
 *   api_key: ${OPENAI_API_KEY}              headers: {}   extra request headers
 *   speed: 1                                a request's rate multiplies it (0.25–4)
 *   instructions: null                      style prompt (not for tts-1*)
 *   sample_rate: 24000                      what this server's pcm is (OpenAI: 24000)
 *   timeout_ms: 15000  stall_ms: 15000  connect_timeout_ms, connections, keep_alive_ms
 */
import { E, XzError } from '../../../runtime/errors.js';
import { PcmReframer } from '../wav.js';
import type { PcmChunk } from '../../contracts/audio.js';
import type { TtsCapabilities, TtsProvider, TtsRequest, Voice } from '../../contracts/tts.js';
import { HttpClient } from '../../http/client.js';
import { VENDOR } from '../../http/errors.js';
import { OptionReader, type Slice } from '../../http/options.js';
import { header } from '../../http/status.js';
import { openAiHttpError } from '../../llm/openai/errors.js';

export interface OpenAiTtsConfig {
  url: string;
  model: string;
  voice: string;
  voices: Record<string, string>;
  speed: number;
  instructions: string | undefined;
  headers: Record<string, string>;
  sampleRate: number;
}

export function parseOpenAiTtsConfig(cfg: Slice, path = 'providers.tts.openai'): { cfg: OpenAiTtsConfig; reader: OptionReader } {
  const o = new OptionReader(cfg, path);
  const apiKey = o.str('api_key');
  const voices: Record<string, string> = {};
  for (const [lang, v] of Object.entries(o.strings('voices'))) voices[lang.toLowerCase()] = v;
  const speed = o.num('speed', 0.25) ?? 1;
  if (speed > 4) throw new XzError(E.XZ_ERR_CONFIG_INVALID, `${path}.speed must be in 0.25..4`, { details: { path: `${path}.speed` } });
  return {
    reader: o,
    cfg: {
      url: `${o.baseUrl('base_url', 'https://api.openai.com/v1')}/audio/speech`,
      model: o.str('model') ?? 'gpt-4o-mini-tts',
      voice: o.str('voice') ?? 'alloy',
      voices,
      speed,
      instructions: o.str('instructions'),
      headers: {
        'content-type': 'application/json',
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...o.strings('headers'),
      },
      sampleRate: o.num('sample_rate', 8000) ?? 24_000,
    },
  };
}

export function voiceFor(cfg: OpenAiTtsConfig, v: Voice): string {
  if (v.name) return v.name;
  const tag = (v.language ?? '').toLowerCase();
  return cfg.voices[tag] ?? cfg.voices[tag.split(/[-_]/)[0] ?? ''] ?? cfg.voice;
}

export function bodyFor(cfg: OpenAiTtsConfig, req: TtsRequest): string {
  const rate = req.voice.rate !== undefined && Number.isFinite(req.voice.rate) && req.voice.rate > 0 ? req.voice.rate : 1;
  // Rounded: 1.2 × 1.5 must go out as 1.8, not 1.7999999999999998.
  const speed = Math.round(Math.min(4, Math.max(0.25, cfg.speed * rate)) * 100) / 100;
  return JSON.stringify({
    model: cfg.model,
    input: req.text,
    voice: voiceFor(cfg, req.voice),
    response_format: 'pcm',
    ...(speed !== 1 ? { speed } : {}),
    ...(cfg.instructions ? { instructions: cfg.instructions } : {}),
  });
}

export class OpenAiTts implements TtsProvider {
  readonly id: string;
  readonly caps: TtsCapabilities;
  readonly cfg: OpenAiTtsConfig;
  readonly #http: HttpClient;
  readonly #onError: ReturnType<typeof openAiHttpError>;

  constructor(id: string, cfg: OpenAiTtsConfig, http: HttpClient) {
    this.id = id;
    this.cfg = cfg;
    this.#http = http;
    this.#onError = openAiHttpError(id);
    this.caps = { sampleRate: cfg.sampleRate, streamingAudio: true, streamingText: false };
  }

  synthesize(req: TtsRequest): AsyncIterable<PcmChunk> {
    return this.#run(req);
  }

  async *#run(req: TtsRequest): AsyncGenerator<PcmChunk> {
    if (req.signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, `${this.id}: synthesis aborted`);
    if (req.text.trim() === '') return;
    const res = await this.#http.post(this.cfg.url, { headers: this.cfg.headers, body: bodyFor(this.cfg, req), signal: req.signal, onError: this.#onError });
    const type = header(res.headers, 'content-type') ?? '';
    if (/json|text\//i.test(type)) {
      const text = await res.text(64 * 1024);
      throw this.#onError(res.status, res.headers, text); // status 200: coded as a bad response
    }
    const pcm = new PcmReframer();
    for await (const bytes of res) {
      // Abort is checked per chunk as well: bytes already buffered must not play after it.
      if (req.signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, `${this.id}: synthesis aborted`);
      const samples = pcm.push(bytes);
      if (samples.length > 0) yield { pcm: samples, sampleRate: this.caps.sampleRate };
    }
    if (pcm.dangling) throw new XzError(VENDOR.XZ_ERR_VENDOR_TRUNCATED, `${this.id}: audio ended inside a sample`, { details: { vendor: this.id } });
  }

  async close(): Promise<void> {
    await this.#http.close();
  }
}

export function createOpenAiTts(id: string, cfg: Slice, path?: string): TtsProvider {
  const { cfg: c, reader } = parseOpenAiTtsConfig(cfg, path);
  return new OpenAiTts(id, c, new HttpClient(id, reader.http({ timeoutMs: 15_000, stallMs: 15_000 })));
}
