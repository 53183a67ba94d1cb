/**
 * OpenAI-compatible transcription (`POST {base_url}/audio/transcriptions`, vendors.md §2.1) as an
 * AsrProvider: a batch engine wrapped as a stream. Audio written to the stream is kept until
 * `end()`, which uploads it at once as a 16 kHz WAV in a multipart form; the JSON answer's `text`
 * is the one final event. Works with whisper-1, gpt-4o(-mini)-transcribe, and compatible servers
 * (Groq, SiliconFlow, local faster-whisper / whisper.cpp servers).
 *
 * The upload goes through the instance's undici Agent (providers/http) with undici's `request`
 * directly: HttpClient.post sends text bodies only, and a WAV is binary.
 *
 * Config (providers.asr.<name>):
 *   type: openai
 *   base_url: https://api.openai.com/v1   model: whisper-1
 *   api_key: ${OPENAI_API_KEY}            headers: {}
 *   language: null      used when the stream is opened without one (ISO-639-1 is sent)
 *   prompt: null        biasing text; the stream's hints are appended
 *   max_seconds: 60     audio beyond this is dropped (the VAD should have cut it)
 *   timeout_ms: 30000   for the whole request; connect_timeout_ms, connections, keep_alive_ms
 */
import { request } from 'undici';
import { E, XzError } from '../../../runtime/errors.js';
import { BatchUtterance, type BatchRecognizer } from '../batch.js';
import type { AsrCapabilities, AsrEvent, AsrOptions, AsrProvider, AsrStream } from '../../contracts/asr.js';
import { UPLINK_RATE } from '../../contracts/audio.js';
import { HttpClient } from '../../http/client.js';
import { VENDOR } from '../../http/errors.js';
import { OptionReader, type Slice } from '../../http/options.js';
import { jsonOrUndefined } from '../../http/status.js';
import { openAiHttpError } from '../../llm/openai/errors.js';
import { ASR } from '../errors.js';
import { multipart, wavFile } from './multipart.js';

export interface OpenAiAsrConfig {
  url: string;
  model: string;
  headers: Record<string, string>;
  language: string | undefined;
  prompt: string | undefined;
  maxSeconds: number;
  timeoutMs: number;
}

export function parseOpenAiAsrConfig(cfg: Slice, path = 'providers.asr.openai'): { cfg: OpenAiAsrConfig; reader: OptionReader } {
  const o = new OptionReader(cfg, path);
  const apiKey = o.str('api_key');
  return {
    reader: o,
    cfg: {
      url: `${o.baseUrl('base_url', 'https://api.openai.com/v1')}/audio/transcriptions`,
      model: o.str('model') ?? 'whisper-1',
      headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...o.strings('headers') },
      language: o.str('language') || undefined,
      prompt: o.str('prompt') || undefined,
      maxSeconds: o.num('max_seconds', 1) ?? 60,
      timeoutMs: o.num('timeout_ms', 1) ?? 30_000,
    },
  };
}

export class OpenAiAsr implements AsrProvider, BatchRecognizer {
  readonly id: string;
  readonly caps: AsrCapabilities = { streaming: false, sampleRate: UPLINK_RATE, languages: 'any' };
  readonly cfg: OpenAiAsrConfig;
  readonly #http: HttpClient;
  readonly #onError: ReturnType<typeof openAiHttpError>;

  constructor(id: string, cfg: OpenAiAsrConfig, http: HttpClient) {
    this.id = id;
    this.cfg = cfg;
    this.#http = http;
    this.#onError = openAiHttpError(id);
  }

  get maxSeconds(): number {
    return this.cfg.maxSeconds;
  }

  open(opts: AsrOptions): AsrStream {
    return new BatchUtterance(this, opts);
  }

  language(opts: AsrOptions): string | undefined {
    return (opts.language ?? this.cfg.language)?.split(/[-_]/)[0]?.toLowerCase();
  }

  /** Uploads one utterance; resolves with its text ('' for no audio, without a request). */
  async recognize(chunks: readonly Int16Array[], samples: number, opts: AsrOptions): Promise<string> {
    const { signal } = opts;
    if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, `${this.id}: recognition aborted`);
    if (samples === 0) return '';
    const fields: [string, string][] = [['model', this.cfg.model], ['response_format', 'json']];
    const language = (opts.language ?? this.cfg.language)?.split(/[-_]/)[0]?.toLowerCase();
    if (language) fields.push(['language', language]);
    const prompt = [this.cfg.prompt, ...(opts.hints ?? [])].filter((x) => x).join(', ');
    if (prompt) fields.push(['prompt', prompt]);
    const form = multipart(fields, { name: 'file', filename: 'utterance.wav', type: 'audio/wav', data: wavFile(chunks, samples, UPLINK_RATE) });
    const body = await this.#post(form.body, form.contentType, signal);
    const parsed = jsonOrUndefined(body) as { text?: unknown } | undefined;
    if (typeof parsed?.text !== 'string') {
      throw new XzError(VENDOR.XZ_ERR_VENDOR_BAD_RESPONSE, `${this.id}: answer has no text: ${body.slice(0, 120)}`, { details: { vendor: this.id } });
    }
    return parsed.text.trim();
  }

  async #post(body: Buffer, contentType: string, signal: AbortSignal): Promise<string> {
    const ac = new AbortController();
    let why: 'user' | 'timeout' | undefined;
    const onAbort = (): void => {
      why ??= 'user';
      ac.abort();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      why ??= 'timeout';
      ac.abort();
    }, this.cfg.timeoutMs);
    try {
      const res = await request(this.cfg.url, {
        method: 'POST',
        headers: { ...this.cfg.headers, 'content-type': contentType },
        body,
        dispatcher: this.#http.agent,
        signal: ac.signal,
      });
      const text = await res.body.text();
      if (res.statusCode < 200 || res.statusCode >= 300) throw this.#onError(res.statusCode, res.headers, text);
      return text;
    } catch (e) {
      if (why === 'user') throw new XzError(E.XZ_ERR_ABORTED, `${this.id}: recognition aborted`);
      if (why === 'timeout') throw new XzError(VENDOR.XZ_ERR_VENDOR_TIMEOUT, `${this.id}: no answer within ${this.cfg.timeoutMs} ms`, { details: { vendor: this.id } });
      if (e instanceof XzError) throw e;
      // Resets, refusals, "other side closed": the link broke, so another attempt may get through.
      throw new XzError(VENDOR.XZ_ERR_VENDOR_CONNECT, `${this.id}: ${e instanceof Error ? e.message : String(e)}`, { details: { vendor: this.id }, cause: e });
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    await this.#http.close();
  }
}

export function createOpenAiAsr(id: string, cfg: Slice, path?: string): AsrProvider {
  const { cfg: c, reader } = parseOpenAiAsrConfig(cfg, path);
  return new OpenAiAsr(id, c, new HttpClient(id, reader.http({ timeoutMs: 30_000, stallMs: 30_000 })));
}
