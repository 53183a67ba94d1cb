/**
 * Dify `POST /v1/chat-messages` in streaming mode (vendors.md §5): JSON events on `data:` lines
 * with the type inside (`message`, `agent_message`, `message_replace`, `message_end`, `error`,
 * workflow noise), `event: ping` keep-alives without data. The app (prompt, model, tools) lives on
 * Dify, so only the newest user words go out, in the conversation remembered per device (`user`)
 * for `conversation_ttl_ms`.
 *
 *   dify: { type: dify, base_url: https://api.dify.ai/v1, api_key: ${DIFY_APP_KEY},
 *           inputs: {}, conversation_ttl_ms: 1800000, body: {}, headers: {},
 *           timeout_ms: 15000, stall_ms: 30000 }
 *
 * A `message_replace` (output moderation) cannot unsay what was streamed: it is spoken only if
 * nothing was, and the turn ends as `filtered` either way.
 */
import type { LlmDelta, LlmProvider, LlmRequest } from '../../contracts/llm.js';
import { XzError } from '../../../runtime/errors.js';
import { HttpClient, throwIfAborted } from '../../http/client.js';
import { VENDOR } from '../../http/errors.js';
import { OptionReader, type Slice } from '../../http/options.js';
import { SseParser } from '../../http/sse.js';
import { jsonOrUndefined, statusError, type HeaderBag } from '../../http/status.js';
import { ConversationMemory } from '../coze/conversations.js';

interface DifyEvent {
  event?: unknown;
  answer?: unknown;
  conversation_id?: unknown;
  task_id?: unknown;
  metadata?: { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
  status?: unknown;
  code?: unknown;
  message?: unknown;
}

export function createDifyLlm(id: string, cfg: Slice): LlmProvider {
  const o = new OptionReader(cfg, `providers.llm.${id}`);
  const base = o.baseUrl('base_url', 'https://api.dify.ai/v1');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    authorization: `Bearer ${o.needStr('api_key')}`,
    ...o.strings('headers'),
  };
  const inputs = o.obj('inputs');
  const extra = o.obj('body');
  const memory = new ConversationMemory(o.num('conversation_ttl_ms', 1) ?? 30 * 60_000);
  const http = new HttpClient(id, o.http({ timeoutMs: 15_000, stallMs: 30_000 }));

  const fail = (status: number, h: HeaderBag, body: string): XzError => {
    const j = jsonOrUndefined(body) as DifyEvent | undefined;
    return statusError({
      vendor: id, status, headers: h, body,
      vendorCode: typeof j?.code === 'string' ? j.code : undefined,
      vendorMessage: typeof j?.message === 'string' ? j.message : undefined,
    });
  };

  const streamError = (d: DifyEvent): XzError => {
    const status = Number(d.status) || 0;
    const code = typeof d.code === 'string' ? d.code : '';
    const msg = typeof d.message === 'string' ? d.message : 'error event';
    // The event carries the status the request would have had; map it the same way.
    const xz = statusError({ vendor: id, status: status || 500, headers: {}, body: '', vendorCode: code || undefined, vendorMessage: msg });
    return new XzError(xz.code, xz.message, { details: { ...xz.details, midStream: true } });
  };

  /** Stops generation on Dify's side after a barge-in; best effort. */
  const stop = (taskId: string, user: string): void => {
    http
      .post(`${base}/chat-messages/${encodeURIComponent(taskId)}/stop`, { headers, body: JSON.stringify({ user }), signal: AbortSignal.timeout(5_000) })
      .then((r) => r.text(4096))
      .catch(() => {});
  };

  async function* stream(req: LlmRequest): AsyncGenerator<LlmDelta> {
    const user = req.user ?? 'xiaozhi';
    const query = [...req.messages].reverse().find((m) => m.role === 'user')?.content;
    if (query === undefined) throw new XzError(VENDOR.XZ_ERR_VENDOR_BAD_REQUEST, `${id}: the request has no user message`);
    const known = req.user === undefined ? undefined : memory.get(req.user);
    const bodyFor = (conversation: string | undefined): string =>
      JSON.stringify({ query, inputs, response_mode: 'streaming', user, conversation_id: conversation ?? '', auto_generate_name: false, ...extra });
    const post = (conversation: string | undefined) =>
      http.post(`${base}/chat-messages`, { headers, body: bodyFor(conversation), signal: req.signal, onError: fail });
    let res;
    try {
      res = await post(known);
    } catch (e) {
      // Dify forgot the conversation (deleted, expired, another app): start a new one at once.
      if (known === undefined || (e as XzError).details?.status !== 404) throw e;
      memory.forget(req.user!, known);
      res = await post(undefined);
    }
    let taskId: string | undefined;
    let spoke = false;
    let filtered = false;
    let done = false;
    const onEvent = (data: string): LlmDelta | LlmDelta[] | undefined => {
      const d = jsonOrUndefined(data) as DifyEvent | undefined;
      if (!d || typeof d !== 'object') {
        throw new XzError(VENDOR.XZ_ERR_VENDOR_BAD_RESPONSE, `${id}: stream event is not a JSON object: ${data.slice(0, 120)}`, { details: { vendor: id } });
      }
      if (typeof d.task_id === 'string') taskId ??= d.task_id;
      if (req.user !== undefined && typeof d.conversation_id === 'string' && d.conversation_id) memory.set(req.user, d.conversation_id);
      switch (d.event) {
        case 'message':
        case 'agent_message':
          if (typeof d.answer !== 'string' || d.answer === '') return undefined;
          spoke = true;
          return { kind: 'text', text: d.answer };
        case 'message_replace':
          filtered = true;
          if (spoke || typeof d.answer !== 'string' || d.answer === '') return undefined;
          spoke = true;
          return { kind: 'text', text: d.answer };
        case 'message_end': {
          done = true;
          const u = d.metadata?.usage;
          const end: LlmDelta = { kind: 'end', reason: filtered ? 'filtered' : 'stop' };
          return u ? [{ kind: 'usage', inputTokens: Number(u.prompt_tokens) || 0, outputTokens: Number(u.completion_tokens) || 0 }, end] : [end];
        }
        case 'error':
          throw streamError(d);
        default:
          return undefined; // agent thoughts, files, TTS audio, workflow progress, future events
      }
    };
    const parser = new SseParser();
    try {
      for await (const bytes of res) {
        if (done) continue; // drained so the socket returns to the pool
        for (const ev of parser.push(bytes)) {
          throwIfAborted(req.signal, id);
          if (ev.data === '') continue; // `event: ping`
          const out = onEvent(ev.data);
          if (Array.isArray(out)) yield* out;
          else if (out) yield out;
          if (done) break;
        }
      }
      for (const ev of parser.end()) {
        if (done || ev.data === '') continue;
        const out = onEvent(ev.data);
        if (Array.isArray(out)) yield* out;
        else if (out) yield out;
      }
    } catch (e) {
      if (!done) throw e;
      return;
    } finally {
      if (!done && taskId !== undefined) stop(taskId, user);
    }
    if (!done) throw new XzError(VENDOR.XZ_ERR_VENDOR_TRUNCATED, `${id}: stream ended without message_end`, { details: { vendor: id } });
  }

  return {
    id,
    caps: { tools: false, vision: false, maxContextTokens: o.num('max_context_tokens', 1) ?? 32_768 },
    stream,
    close: () => http.close(),
  };
}
