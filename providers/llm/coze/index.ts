/**
 * Coze v3 chat (`POST /v3/chat`, SSE with `event:` lines; vendors.md §4). The bot lives on Coze
 * (persona, plugins, knowledge), so only the user's words go out: the whole visible history when a
 * conversation starts, then just the new question, with the conversation id per device (`user`)
 * remembered here for `conversation_ttl_ms`.
 *
 *   coze: { type: coze, base_url: https://api.coze.cn, bot_id: "7348293334", api_key: ${COZE_PAT},
 *           conversation_ttl_ms: 1800000, body: { custom_variables: {} }, headers: {},
 *           timeout_ms: 15000, stall_ms: 30000 }
 *
 * Coze allows one chat at a time per conversation (code 4016), and a barge-in leaves the aborted
 * chat running there; so a stream that ends early asks Coze to cancel its chat.
 */
import type { ChatMessage, LlmDelta, LlmProvider, LlmRequest } from '../../contracts/llm.js';
import { XzError } from '../../../runtime/errors.js';
import { HttpClient, throwIfAborted, type HttpStream } from '../../http/client.js';
import { VENDOR } from '../../http/errors.js';
import { OptionReader, type Slice } from '../../http/options.js';
import { SseParser } from '../../http/sse.js';
import { header, jsonOrUndefined, statusError, type HeaderBag } from '../../http/status.js';
import { ConversationMemory } from './conversations.js';

interface CozeData {
  id?: unknown;
  conversation_id?: unknown;
  type?: unknown;
  content?: unknown;
  usage?: { input_count?: unknown; output_count?: unknown };
  last_error?: { code?: unknown; msg?: unknown };
  code?: unknown;
  msg?: unknown;
}

/** What a Coze error code says that an HTTP status cannot (Coze often answers 200 with a code). */
function codeOf(code: number): string | undefined {
  if (code === 4100) return VENDOR.XZ_ERR_VENDOR_AUTH;
  if (code === 4101) return VENDOR.XZ_ERR_VENDOR_FORBIDDEN;
  if (code === 4013) return VENDOR.XZ_ERR_VENDOR_RATE_LIMIT;
  // 4016: the conversation still has a chat in progress; it ends or is cancelled soon.
  if (code === 4016 || code >= 5000) return VENDOR.XZ_ERR_VENDOR_UPSTREAM;
  if (code >= 4000) return VENDOR.XZ_ERR_VENDOR_BAD_REQUEST;
  return undefined;
}

const MAX_MESSAGES = 100; // Coze's limit on additional_messages
const CANCEL_WAIT_MS = 2_000;

/** Waits for `p` at most `ms`, or until the signal aborts; never rejects. */
function settleWithin(p: Promise<void>, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    void p.then(done);
  });
}

function additional(list: readonly ChatMessage[], fresh: boolean): Record<string, unknown>[] {
  let last = -1;
  for (let i = list.length - 1; i >= 0 && last === -1; i--) if (list[i]!.role === 'user') last = i;
  if (last === -1) throw new XzError(VENDOR.XZ_ERR_VENDOR_BAD_REQUEST, 'coze: the request has no user message');
  const picked = fresh
    ? list.slice(0, last + 1).filter((m) => (m.role === 'user' || (m.role === 'assistant' && !m.toolCalls?.length)) && m.content !== '').slice(-MAX_MESSAGES)
    : [list[last]!];
  return picked.map((m) => ({ role: m.role, content: m.content, content_type: 'text', type: m.role === 'user' ? 'question' : 'answer' }));
}

export function createCozeLlm(id: string, cfg: Slice): LlmProvider {
  const o = new OptionReader(cfg, `providers.llm.${id}`);
  const base = o.baseUrl('base_url', 'https://api.coze.cn');
  const botId = o.needStr('bot_id');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream',
    authorization: `Bearer ${o.needStr('api_key')}`,
    ...o.strings('headers'),
  };
  const extra = o.obj('body');
  const memory = new ConversationMemory(o.num('conversation_ttl_ms', 1) ?? 30 * 60_000);
  const http = new HttpClient(id, o.http({ timeoutMs: 15_000, stallMs: 30_000 }));

  const fail = (status: number, h: HeaderBag, body: string): XzError => {
    const j = jsonOrUndefined(body) as CozeData | undefined;
    const n = typeof j?.code === 'number' ? j.code : undefined;
    // For these statuses the status is the clearer signal (and 429 carries retry-after).
    const byStatus = status === 401 || status === 403 || status === 429 || status >= 500;
    return statusError({
      vendor: id, status, headers: h, body, vendorCode: n,
      vendorMessage: typeof j?.msg === 'string' ? j.msg : undefined,
      code: byStatus || n === undefined ? undefined : (codeOf(n) ?? VENDOR.XZ_ERR_VENDOR_BAD_RESPONSE),
    });
  };

  const streamError = (d: CozeData | undefined): XzError => {
    const code = Number(d?.code ?? d?.last_error?.code) || 0;
    const msg = String(d?.msg ?? d?.last_error?.msg ?? 'chat failed');
    return new XzError(codeOf(code) ?? VENDOR.XZ_ERR_VENDOR_UPSTREAM, `${id}: ${code ? `${code} ` : ''}${msg}`, {
      details: { vendor: id, vendorCode: code || undefined, midStream: true },
    });
  };

  /**
   * Frees the conversation for the next turn. The aborted stream does not wait for it (abort must
   * be prompt); the next turn in that conversation does, briefly, or Coze would answer 4016.
   */
  const cancelling = new Map<string, Promise<void>>();
  const cancel = (conversationId: string, chatId: string): void => {
    const p = http
      .post(`${base}/v3/chat/cancel`, {
        headers, body: JSON.stringify({ conversation_id: conversationId, chat_id: chatId }), signal: AbortSignal.timeout(CANCEL_WAIT_MS),
      })
      .then((r) => r.text(4096))
      .then(
        () => {},
        () => {},
      )
      .finally(() => cancelling.delete(conversationId));
    cancelling.set(conversationId, p);
  };

  async function* stream(req: LlmRequest): AsyncGenerator<LlmDelta> {
    const user = req.user;
    const known = user === undefined ? undefined : memory.get(user);
    const pending = known === undefined ? undefined : cancelling.get(known);
    if (pending) await settleWithin(pending, CANCEL_WAIT_MS, req.signal);
    const open = async (conv: string | undefined): Promise<HttpStream> => {
      const url = `${base}/v3/chat${conv ? `?conversation_id=${encodeURIComponent(conv)}` : ''}`;
      const body = JSON.stringify({
        bot_id: botId, user_id: user ?? 'xiaozhi', stream: true, auto_save_history: true,
        additional_messages: additional(req.messages, conv === undefined), ...extra,
      });
      const res = await http.post(url, { headers, body, signal: req.signal, onError: fail });
      // Coze reports failures as JSON even with status 200: decide by content type.
      if (!/event-stream/i.test(header(res.headers, 'content-type') ?? '')) throw fail(res.status, res.headers, await res.text(64 * 1024));
      return res;
    };
    let conversation = known;
    let chatId: string | undefined;
    let usage: LlmDelta | undefined;
    let completed = false;
    let done = false;
    const finish = (): LlmDelta[] => {
      done = true;
      return usage ? [usage, { kind: 'end', reason: 'stop' }] : [{ kind: 'end', reason: 'stop' }];
    };
    const onEvent = (event: string | undefined, data: string): LlmDelta | LlmDelta[] | undefined => {
      if (event === 'done') return finish(); // data is the JSON string "[DONE]", not an object
      const d = jsonOrUndefined(data) as CozeData | undefined;
      switch (event) {
        case 'conversation.chat.created':
        case 'conversation.chat.in_progress':
          if (typeof d?.id === 'string') chatId ??= d.id;
          if (typeof d?.conversation_id === 'string' && d.conversation_id) {
            conversation = d.conversation_id;
            if (user !== undefined) memory.set(user, conversation);
          }
          return undefined;
        case 'conversation.message.delta':
          // Only answers are spoken; verbose, follow_up and tool traces are not.
          return d?.type === 'answer' && typeof d.content === 'string' && d.content !== '' ? { kind: 'text', text: d.content } : undefined;
        case 'conversation.chat.completed':
          completed = true;
          if (d?.usage) usage = { kind: 'usage', inputTokens: Number(d.usage.input_count) || 0, outputTokens: Number(d.usage.output_count) || 0 };
          return undefined;
        case 'conversation.chat.failed':
        case 'error':
          throw streamError(d);
        case 'conversation.chat.requires_action':
          throw new XzError(VENDOR.XZ_ERR_VENDOR_BAD_REQUEST, `${id}: the bot asks for client-side plugin outputs, which this adapter does not provide`, {
            details: { vendor: id },
          });
        default:
          return undefined; // message.completed repeats the deltas; audio and unknown events are not ours
      }
    };
    let res: HttpStream;
    try {
      res = await open(known);
    } catch (e) {
      // A conversation Coze refuses (gone, another bot's) would fail every later turn: start a
      // new one now, sending the visible history so the model keeps its context.
      const refused = (e as XzError).category === 'invalid-request' && (e as XzError).details?.status !== undefined;
      if (known === undefined || !refused) throw e;
      memory.forget(user!, known);
      conversation = undefined;
      res = await open(undefined);
    }
    try {
      const parser = new SseParser();
      try {
        for await (const bytes of res) {
          if (done) continue; // drained so the socket returns to the pool
          for (const ev of parser.push(bytes)) {
            throwIfAborted(req.signal, id);
            const out = onEvent(ev.event, ev.data);
            if (Array.isArray(out)) yield* out;
            else if (out) yield out;
            if (done) break;
          }
        }
      } catch (e) {
        if (!done) throw e;
        return;
      }
      for (const ev of parser.end()) {
        if (done) break;
        const out = onEvent(ev.event, ev.data);
        if (Array.isArray(out)) yield* out;
        else if (out) yield out;
      }
      if (!done && completed) yield* finish();
      if (!done) throw new XzError(VENDOR.XZ_ERR_VENDOR_TRUNCATED, `${id}: stream ended before the chat completed`, { details: { vendor: id } });
    } finally {
      if (!done && !completed && conversation !== undefined && chatId !== undefined) cancel(conversation, chatId);
    }
  }

  return {
    id,
    caps: { tools: false, vision: false, maxContextTokens: o.num('max_context_tokens', 1) ?? 32_768 },
    stream,
    close: () => http.close(),
  };
}
