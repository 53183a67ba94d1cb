/**
 * A fake Coze v3 chat server (vendors.md §4.5): `POST /v3/chat[?conversation_id=…]` answering SSE
 * as `event:NAME\ndata:JSON\n\n` with no space after the colons, the full lifecycle (chat created,
 * in progress, answer deltas, an `answer` message.completed repeating them, `verbose` and
 * `follow_up` completions that must not be spoken, chat completed with usage, `done` with the JSON
 * string "[DONE]"), and `POST /v3/chat/cancel`.
 *
 *   const fake = await startFakeCoze({ apiKey: 'pat_x', botId: '7348293334' });
 *   provider = createCozeLlm('coze', { base_url: fake.url, bot_id: '7348293334', api_key: 'pat_x' });
 *   fake.script({ text: ['从前', '有座山。'], usage: { input: 168, output: 12 } });
 *   fake.conversations.get(id)?.user … fake.requests[0].query.conversation_id
 *
 * Conversations are server state: a new one per chat without `conversation_id`; an unknown id or
 * another user's → `{"code":4000}`; a second chat while one is running → `{"code":4016}` (both
 * status 200 with `application/json`, as Coze answers). A chat whose client left keeps running for
 * `chatRunsOnMs` (default 1000) unless cancelled, so a barge-in that does not cancel gets 4016.
 *
 * Reply fields: BaseReply plus `followUp` (false: no follow_up message), `failWith`
 * ('error-event' default, or 'chat-failed') for `fault: { kind: 'stream-error', error: { code, msg } }`.
 */
import {
  cutFor, FakeHttp, jsonPlan, Script, shaping, tokens, vendorFake,
  type BaseReply, type Fault, type FakeVendor, type RecordedRequest, type WirePlan,
} from './http-fake.js';

export interface CozeReply extends BaseReply {
  readonly followUp?: string | false;
  readonly failWith?: 'error-event' | 'chat-failed';
}

export interface FakeCozeOptions {
  readonly apiKey?: string;
  readonly botId?: string;
  readonly reply?: CozeReply;
  readonly chatRunsOnMs?: number;
}

export interface CozeConversation {
  readonly user: string;
  /** Every message of every chat, as received in additional_messages. */
  readonly messages: { role: string; content: string }[];
  /** The chat running now, if any. */
  running: string | undefined;
}

export interface FakeCoze extends FakeVendor<CozeReply> {
  readonly conversations: Map<string, CozeConversation>;
}

const STREAM = '/v3/chat';

function codePlan(status: number, code: number, msg: string, headers: Record<string, string> = {}): WirePlan {
  return jsonPlan(status, { code, msg, detail: { logid: '20250101080000FAKE' } }, { 'x-tt-logid': '20250101080000FAKE', ...headers });
}

function statusPlan(f: Extract<Fault, { kind: 'status' }>): WirePlan {
  const h = { ...(f.status === 429 && !f.headers ? { 'retry-after': '1' } : {}), ...f.headers };
  if (f.body !== undefined) return jsonPlan(f.status, f.body, h);
  if (f.status === 401) return codePlan(401, 4100, 'authentication is invalid', h);
  if (f.status === 429) return codePlan(429, 4013, 'request rate exceeded', h);
  if (f.status >= 500) return codePlan(f.status, 5000, 'internal server error', h);
  return codePlan(f.status, 4000, 'invalid parameter', h);
}

export async function startFakeCoze(opts: FakeCozeOptions = {}): Promise<FakeCoze> {
  const script = new Script<CozeReply>(opts.reply ?? { text: 'Hello from the fake.' });
  const conversations = new Map<string, CozeConversation>();
  const chats = new Map<string, string>(); // chat id → conversation id
  let seq = 0;
  const id = () => `74910000000000${String(++seq).padStart(5, '0')}`;
  const release = (conv: string, chat: string): void => {
    const c = conversations.get(conv);
    if (c?.running === chat) c.running = undefined;
  };

  function handle(req: RecordedRequest): WirePlan {
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) return codePlan(401, 4100, 'authentication is invalid');
    if (req.method === 'POST' && req.path === '/v3/chat/cancel') {
      const b = req.json as { conversation_id?: string; chat_id?: string } | undefined;
      const conv = String(b?.conversation_id);
      const chat = String(b?.chat_id);
      if (chats.get(chat) !== conv) return codePlan(200, 4000, 'chat not found');
      release(conv, chat);
      return jsonPlan(200, { code: 0, msg: '', data: { id: chat, conversation_id: conv, status: 'canceled' } });
    }
    if (req.method !== 'POST' || req.path !== STREAM) return codePlan(404, 4000, `no route ${req.path}`);
    const b = req.json as { bot_id?: unknown; user_id?: unknown; stream?: unknown; additional_messages?: { role?: string; content?: string }[] } | undefined;
    if (!b || typeof b.bot_id !== 'string' || (opts.botId !== undefined && b.bot_id !== opts.botId)) return codePlan(200, 4000, 'invalid bot_id');
    if (typeof b.user_id !== 'string' || !b.user_id) return codePlan(200, 4000, 'user_id is required');
    if (b.stream !== true) return codePlan(200, 4000, 'this fake only streams');
    const msgs = Array.isArray(b.additional_messages) ? b.additional_messages : [];
    if (msgs.length === 0 || msgs.length > 100 || msgs.at(-1)?.role !== 'user') return codePlan(200, 4000, 'additional_messages must end with a user message');
    let convId = req.query.conversation_id;
    let conv: CozeConversation | undefined;
    if (convId !== undefined) {
      conv = conversations.get(convId);
      if (!conv || conv.user !== b.user_id) return codePlan(200, 4000, 'conversation not found');
      if (conv.running) return codePlan(200, 4016, 'Conversation occupied: a chat is in progress');
    }
    const reply = script.next();
    if (reply.fault?.kind === 'status') return statusPlan(reply.fault);
    if (!conv) {
      convId = id();
      conv = { user: b.user_id, messages: [], running: undefined };
      conversations.set(convId, conv);
    }
    for (const m of msgs) conv.messages.push({ role: String(m.role), content: String(m.content) });
    const chatId = id();
    chats.set(chatId, convId!);
    conv.running = chatId;
    return render(reply, b.bot_id, convId!, chatId, conv);
  }

  function render(r: CozeReply, bot: string, conversation_id: string, chat: string, conv: CozeConversation): WirePlan {
    const chatObj = (status: string, more: Record<string, unknown> = {}) =>
      ({ id: chat, conversation_id, bot_id: bot, created_at: 1731000000, last_error: { code: 0, msg: '' }, status, ...more });
    const msgId = id();
    const msg = (type: string, content: string, more: Record<string, unknown> = {}) =>
      ({ id: type === 'answer' ? msgId : id(), conversation_id, bot_id: bot, role: 'assistant', type, content, content_type: 'text', chat_id: chat, section_id: conversation_id, ...more });
    const texts = tokens(r.text);
    const full = texts.join('');
    const u = r.usage === false ? undefined : (r.usage ?? { input: 168, output: texts.length });
    const ev: [string, unknown][] = [
      ['conversation.chat.created', chatObj('created')],
      ['conversation.chat.in_progress', chatObj('in_progress')],
      ...texts.map((t): [string, unknown] => ['conversation.message.delta', msg('answer', t)]),
      ['conversation.message.completed', msg('answer', full, { created_at: 1731000001 })],
      ['conversation.message.completed', msg('verbose', JSON.stringify({ msg_type: 'generate_answer_finish', data: JSON.stringify({ finish_reason: 0 }) }))],
    ];
    if (r.followUp !== false) ev.push(['conversation.message.completed', msg('follow_up', r.followUp ?? '还想听一个吗？')]);
    ev.push(['conversation.chat.completed', chatObj('completed', { completed_at: 1731000002, ...(u ? { usage: { token_count: u.input + u.output, output_count: u.output, input_count: u.input } } : {}) })]);
    ev.push(['done', '[DONE]']);
    const frame = ([name, data]: [string, unknown]) => Buffer.from(`event:${name}\ndata:${JSON.stringify(data)}\n\n`);
    let events = ev.map(frame);
    let cut = cutFor(r.fault, events, 2);
    if (r.fault?.kind === 'stream-error') {
      const after = r.fault.afterEvents ?? 3;
      const e = (r.fault.error ?? { code: 5000, msg: 'internal error' }) as { code: number; msg: string };
      const failure: [string, unknown] = r.failWith === 'chat-failed'
        ? ['conversation.chat.failed', chatObj('failed', { failed_at: 1731000002, last_error: e })]
        : ['error', e];
      events = [...events.slice(0, after), frame(failure)];
      cut = { after: events.length, then: 'end' };
    }
    conv.messages.push({ role: 'assistant', content: full });
    return {
      status: 200,
      headers: { 'content-type': 'text/event-stream', 'x-tt-logid': '20250101080000FAKE' },
      events,
      ...shaping(r, cut),
      onDone: (how) => {
        // A chat whose client went away keeps running on Coze's side for a while.
        if (how === 'client-gone') setTimeout(() => release(conversation_id, chat), opts.chatRunsOnMs ?? 1_000).unref();
        else release(conversation_id, chat);
      },
    };
  }

  const http = await FakeHttp.start(handle);
  return Object.assign(vendorFake(http, script, http.origin, STREAM), { conversations });
}
