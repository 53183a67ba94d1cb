/**
 * OpenAI-compatible Chat Completions over SSE: one adapter for OpenAI, DeepSeek, Qwen/Bailian,
 * Doubao Ark, GLM, Groq, vLLM, LM Studio, Ollama's `/v1` and anything else that copies the API.
 *
 *   gpt: { type: openai, base_url: https://api.deepseek.com/v1, model: deepseek-chat,
 *          api_key: ${DEEPSEEK_API_KEY}, headers: {}, body: { thinking: { type: disabled } },
 *          temperature: 0.7, max_tokens: 512, timeout_ms: 10000, stall_ms: 15000 }
 *
 * `base_url` is the part before `/chat/completions`. `timeout_ms` bounds the wait for response
 * headers, `stall_ms` the silence inside the stream; `connect_timeout_ms`, `connections` and
 * `keep_alive_ms` shape the connection pool; `max_context_tokens` is reported in the capabilities.
 */
import type { LlmDelta, LlmProvider, LlmRequest } from '../../contracts/llm.js';
import { XzError } from '../../../runtime/errors.js';
import { HttpClient, throwIfAborted } from '../../http/client.js';
import { VENDOR } from '../../http/errors.js';
import { OptionReader, type Slice } from '../../http/options.js';
import { SseParser } from '../../http/sse.js';
import { ChunkFolder } from './chunks.js';
import { openAiHttpError, openAiStreamError } from './errors.js';
import { openAiBody, toolNamesOf, type OpenAiBodyOptions } from './request.js';

export function createOpenAiLlm(id: string, cfg: Slice): LlmProvider {
  const o = new OptionReader(cfg, `providers.llm.${id}`);
  const url = `${o.baseUrl('base_url')}/chat/completions`;
  const apiKey = o.str('api_key');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
    ...o.strings('headers'),
  };
  const bodyOpts: OpenAiBodyOptions = {
    model: o.needStr('model'),
    temperature: o.num('temperature'),
    maxTokens: o.num('max_tokens', 1),
    extra: o.obj('body'),
  };
  const http = new HttpClient(id, o.http({ timeoutMs: 15_000, stallMs: 20_000 }));
  const onError = openAiHttpError(id);

  async function* stream(req: LlmRequest): AsyncGenerator<LlmDelta> {
    const names = toolNamesOf(req);
    const res = await http.post(url, { headers, body: JSON.stringify(openAiBody(req, names, bodyOpts)), signal: req.signal, onError });
    const parser = new SseParser();
    const folder = new ChunkFolder(names);
    let done = false;
    const onEvent = (data: string): LlmDelta | LlmDelta[] | undefined => {
      if (data === '[DONE]') {
        done = true;
        return folder.finish();
      }
      let chunk: Record<string, unknown>;
      try {
        chunk = JSON.parse(data) as Record<string, unknown>;
      } catch {
        throw new XzError(VENDOR.XZ_ERR_VENDOR_BAD_RESPONSE, `${id}: stream event is not JSON: ${data.slice(0, 120)}`, { details: { vendor: id } });
      }
      const err = openAiStreamError(id, chunk);
      if (err) throw err;
      const text = folder.text(chunk);
      return text === '' ? undefined : { kind: 'text', text };
    };
    try {
      for await (const bytes of res) {
        // After [DONE] the rest is read, not parsed, so the socket goes back to the pool.
        if (done) continue;
        for (const ev of parser.push(bytes)) {
          throwIfAborted(req.signal, id);
          // `event: error` is how some compatible servers flag a failure with an otherwise normal body.
          if (ev.event === 'error') {
            const parsed = jsonOrText(ev.data);
            throw openAiStreamError(id, parsed) ?? openAiStreamError(id, { error: parsed }) ?? streamFailed(id, ev.data);
          }
          if (ev.data === '') continue;
          const out = onEvent(ev.data);
          if (Array.isArray(out)) yield* out;
          else if (out) yield out;
          if (done) break;
        }
      }
    } catch (e) {
      // Everything was delivered; a stall or reset while draining is not the caller's problem.
      if (!done) throw e;
      return;
    }
    if (done) return;
    for (const ev of parser.end()) {
      if (ev.data === '' || done) continue;
      const out = onEvent(ev.data);
      if (Array.isArray(out)) yield* out;
      else if (out) yield out;
    }
    if (done) return;
    // A finished choice without [DONE] is complete enough (some servers skip the sentinel);
    // without either, the body was cut.
    if (folder.finished) return yield* folder.finish();
    throw new XzError(VENDOR.XZ_ERR_VENDOR_TRUNCATED, `${id}: stream ended without [DONE]`, { details: { vendor: id } });
  }

  return {
    id,
    caps: { tools: true, vision: false, maxContextTokens: o.num('max_context_tokens', 1) ?? 128_000 },
    stream,
    close: () => http.close(),
  };
}

function jsonOrText(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function streamFailed(id: string, data: string): XzError {
  return new XzError(VENDOR.XZ_ERR_VENDOR_UPSTREAM, `${id}: error event: ${data.slice(0, 200)}`, { details: { vendor: id, midStream: true } });
}
