/**
 * Ollama's native `/api/chat`: NDJSON lines (vendors.md §3), tool calls whole in one line with
 * `arguments` as an object, a final `done: true` line with token counts. (Ollama's OpenAI-style
 * `/v1` works through the `openai` type too; this one needs no key and reports load state.)
 *
 *   local: { type: ollama, base_url: http://127.0.0.1:11434, model: qwen2.5:7b,
 *            temperature: 0.7, max_tokens: 512, keep_alive: 5m, options: { num_ctx: 8192 },
 *            body: {}, headers: {}, api_key: null, timeout_ms: 60000, stall_ms: 30000 }
 *
 * `timeout_ms` defaults high: a cold model loads before the first line comes back.
 */
import type { ChatMessage, LlmDelta, LlmProvider, LlmRequest } from '../../contracts/llm.js';
import { XzError } from '../../../runtime/errors.js';
import { HttpClient, throwIfAborted } from '../../http/client.js';
import { VENDOR } from '../../http/errors.js';
import { OptionReader, type Slice } from '../../http/options.js';
import { NdjsonSplitter } from '../../http/sse.js';
import { jsonOrUndefined, statusError, type HeaderBag } from '../../http/status.js';
import { toolNamesOf } from '../openai/request.js';
import type { ToolNames } from '../openai/tool-names.js';

interface OllamaLine {
  message?: { content?: unknown; tool_calls?: unknown };
  done?: unknown;
  done_reason?: unknown;
  prompt_eval_count?: unknown;
  eval_count?: unknown;
  error?: unknown;
}

interface OllamaCall {
  id?: unknown;
  function?: { name?: unknown; arguments?: unknown };
}

function parseArgs(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    // The model wrote invalid JSON last turn; Ollama needs an object, so keep the text visible.
    return { _raw: json };
  }
}

function messages(list: readonly ChatMessage[], names: ToolNames): Record<string, unknown>[] {
  const callNames = new Map<string, string>();
  return list.map((m) => {
    if (m.role === 'assistant' && m.toolCalls?.length) {
      for (const c of m.toolCalls) callNames.set(c.id, c.name);
      return {
        role: 'assistant',
        content: m.content,
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, function: { name: names.out(c.name), arguments: parseArgs(c.argsJson) } })),
      };
    }
    if (m.role === 'tool') {
      // Ollama pairs a result with its call by the tool's name, not by id.
      const name = m.toolCallId === undefined ? undefined : callNames.get(m.toolCallId);
      return { role: 'tool', content: m.content, ...(name ? { tool_name: names.out(name) } : {}) };
    }
    return { role: m.role, content: m.content, ...(m.images?.length ? { images: m.images.map((i) => i.base64) } : {}) };
  });
}

export function createOllamaLlm(id: string, cfg: Slice): LlmProvider {
  const o = new OptionReader(cfg, `providers.llm.${id}`);
  const url = `${o.baseUrl('base_url', 'http://127.0.0.1:11434')}/api/chat`;
  const apiKey = o.str('api_key');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/x-ndjson',
    ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
    ...o.strings('headers'),
  };
  const model = o.needStr('model');
  const temperature = o.num('temperature');
  const maxTokens = o.num('max_tokens', 1);
  const keepAlive = o.str('keep_alive');
  const options = o.obj('options');
  const extra = o.obj('body');
  const http = new HttpClient(id, o.http({ timeoutMs: 60_000, stallMs: 30_000 }));
  const onError = (status: number, h: HeaderBag, body: string): XzError => {
    const e = (jsonOrUndefined(body) as { error?: unknown } | undefined)?.error;
    return statusError({ vendor: id, status, headers: h, body, vendorMessage: typeof e === 'string' ? e : undefined });
  };

  function body(req: LlmRequest, names: ToolNames): string {
    const opts: Record<string, unknown> = { ...options };
    const t = req.temperature ?? temperature;
    if (t !== undefined) opts.temperature = t;
    const n = req.maxTokens ?? maxTokens;
    if (n !== undefined) opts.num_predict = n;
    const b: Record<string, unknown> = { model, stream: true, messages: messages(req.messages, names) };
    if (req.tools?.length) {
      b.tools = req.tools.map((t) => ({ type: 'function', function: { name: names.out(t.name), description: t.description, parameters: t.parameters } }));
    }
    if (Object.keys(opts).length) b.options = opts;
    if (keepAlive !== undefined) b.keep_alive = keepAlive;
    return JSON.stringify({ ...b, ...extra, stream: true });
  }

  async function* stream(req: LlmRequest): AsyncGenerator<LlmDelta> {
    const names = toolNamesOf(req);
    const res = await http.post(url, { headers, body: body(req, names), signal: req.signal, onError });
    const lines = new NdjsonSplitter();
    let calls = 0;
    let done = false;
    function* onLine(raw: string): Generator<LlmDelta> {
      let line: OllamaLine;
      try {
        line = JSON.parse(raw) as OllamaLine;
      } catch {
        throw new XzError(VENDOR.XZ_ERR_VENDOR_BAD_RESPONSE, `${id}: line is not JSON: ${raw.slice(0, 120)}`, { details: { vendor: id } });
      }
      if (line.error !== undefined) {
        throw new XzError(VENDOR.XZ_ERR_VENDOR_UPSTREAM, `${id}: ${String(line.error)}`, { details: { vendor: id, midStream: true } });
      }
      const msg = line.message;
      if (typeof msg?.content === 'string' && msg.content !== '') yield { kind: 'text', text: msg.content };
      if (Array.isArray(msg?.tool_calls)) {
        for (const c of msg.tool_calls as OllamaCall[]) {
          const fn = c?.function;
          if (!fn || typeof fn.name !== 'string') continue;
          const args = typeof fn.arguments === 'string' ? fn.arguments : JSON.stringify(fn.arguments ?? {});
          // Older servers send no id; the result is matched by name anyway.
          const callId = typeof c.id === 'string' && c.id ? c.id : `call_${calls}`;
          calls++;
          yield { kind: 'tool-call', call: { id: callId, name: names.back(fn.name), argsJson: args } };
        }
      }
      if (line.done === true) {
        done = true;
        // Every metric field is omitempty: report usage only when the counts came.
        if (line.prompt_eval_count !== undefined || line.eval_count !== undefined) {
          yield { kind: 'usage', inputTokens: Number(line.prompt_eval_count) || 0, outputTokens: Number(line.eval_count) || 0 };
        }
        yield { kind: 'end', reason: calls ? 'tool-calls' : line.done_reason === 'length' ? 'length' : 'stop' };
      }
    }
    try {
      for await (const bytes of res) {
        if (done) continue; // drained so the socket returns to the pool
        for (const raw of lines.push(bytes)) {
          throwIfAborted(req.signal, id);
          yield* onLine(raw);
          if (done) break;
        }
      }
    } catch (e) {
      if (!done) throw e;
      return;
    }
    if (done) return;
    for (const raw of lines.end()) if (!done) yield* onLine(raw);
    if (!done) throw new XzError(VENDOR.XZ_ERR_VENDOR_TRUNCATED, `${id}: stream ended without a done line`, { details: { vendor: id } });
  }

  return {
    id,
    caps: { tools: true, vision: false, maxContextTokens: o.num('max_context_tokens', 1) ?? 32_768 },
    stream,
    close: () => http.close(),
  };
}
