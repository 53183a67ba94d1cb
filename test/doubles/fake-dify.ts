/**
 * A fake Dify app API (vendors.md §5.5): `POST /v1/chat-messages` in streaming mode answering
 * `data: {"event": …}\n\n` JSON events with `event: ping\n\n` keep-alives (no data) between them,
 * and `POST /v1/chat-messages/{task_id}/stop`.
 *
 *   const fake = await startFakeDify({ apiKey: 'app-x' });
 *   provider = createDifyLlm('dify', { base_url: fake.url, api_key: 'app-x' });
 *   fake.script({ text: ['明天', '有雨。'], asciiJson: true }, { text: ['x'], replace: '（已屏蔽）' });
 *   fake.conversations.get(id)?.queries …
 *
 * Conversations are server state: a fresh `conversation_id` when the request sends '' (or none),
 * 404 `not_found` "Conversation Not Exists." for an unknown id or another user's.
 *
 * Reply fields: BaseReply plus `agent` (`agent_message` instead of `message`), `chatflow`
 * (workflow/node events around the answer), `replace` (a `message_replace` after the chunks),
 * `asciiJson` (non-ASCII escaped as \uXXXX, as older servers' json.dumps does), `pings` (false:
 * none). `fault: { kind: 'stream-error', error: { status, code, message } }` writes an `error`
 * event, as Dify does when the model fails mid-answer.
 */
import {
  cutFor, FakeHttp, jsonPlan, Script, shaping, tokens, vendorFake,
  type BaseReply, type Fault, type FakeVendor, type RecordedRequest, type WirePlan,
} from './http-fake.js';

export interface DifyReply extends BaseReply {
  readonly agent?: boolean;
  readonly chatflow?: boolean;
  readonly replace?: string;
  readonly asciiJson?: boolean;
  readonly pings?: boolean;
}

export interface FakeDifyOptions {
  readonly apiKey?: string;
  readonly reply?: DifyReply;
}

export interface DifyConversation {
  readonly user: string;
  readonly queries: string[];
}

export interface FakeDify extends FakeVendor<DifyReply> {
  readonly conversations: Map<string, DifyConversation>;
  /** Task ids asked to stop. */
  readonly stopped: string[];
}

function errorPlan(status: number, code: string, message: string, headers: Record<string, string> = {}): WirePlan {
  return jsonPlan(status, { code, message, status }, status === 401 ? { 'www-authenticate': 'Bearer realm="api"', ...headers } : headers);
}

function statusPlan(f: Extract<Fault, { kind: 'status' }>): WirePlan {
  const h = { ...(f.status === 429 && !f.headers ? { 'retry-after': '1' } : {}), ...f.headers };
  if (f.body !== undefined) return jsonPlan(f.status, f.body, h);
  if (f.status === 401) return errorPlan(401, 'unauthorized', 'Access token is invalid', h);
  if (f.status === 403) return errorPlan(403, 'forbidden', 'The app is disabled', h);
  if (f.status === 429) return errorPlan(429, 'too_many_requests', 'Too many requests. Please try again later.', h);
  if (f.status >= 500) return errorPlan(f.status, 'internal_server_error', 'The server encountered an internal error.', h);
  return errorPlan(f.status, 'invalid_param', 'invalid parameter', h);
}

/** Python json.dumps' default: every non-ASCII UTF-16 unit as \uXXXX. */
function ascii(json: string): string {
  return json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export async function startFakeDify(opts: FakeDifyOptions = {}): Promise<FakeDify> {
  const script = new Script<DifyReply>(opts.reply ?? { text: 'Hello from the fake.' });
  const conversations = new Map<string, DifyConversation>();
  const stopped: string[] = [];
  let seq = 0;
  const uuid = (kind: string) => `${kind}-0000-4000-8000-${String(++seq).padStart(12, '0')}`;

  function handle(req: RecordedRequest): WirePlan {
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) return errorPlan(401, 'unauthorized', 'Access token is invalid');
    const stop = /^\/v1\/chat-messages\/([^/]+)\/stop$/.exec(req.path);
    if (req.method === 'POST' && stop) {
      if (typeof req.json?.user !== 'string') return errorPlan(400, 'invalid_param', 'user is required');
      stopped.push(decodeURIComponent(stop[1]!));
      return jsonPlan(200, { result: 'success' });
    }
    if (req.method !== 'POST' || req.path !== '/v1/chat-messages') return errorPlan(404, 'not_found', 'The requested URL was not found on the server.');
    const b = req.json as { query?: unknown; user?: unknown; response_mode?: unknown; inputs?: unknown; conversation_id?: unknown } | undefined;
    if (!b || typeof b.query !== 'string' || b.query === '') return errorPlan(400, 'invalid_param', 'query is required');
    if (typeof b.user !== 'string' || b.user === '') return errorPlan(400, 'invalid_param', 'user is required');
    if (b.response_mode !== 'streaming') return errorPlan(400, 'invalid_param', 'this fake only streams');
    if (b.inputs !== undefined && (typeof b.inputs !== 'object' || b.inputs === null)) return errorPlan(400, 'invalid_param', 'inputs must be an object');
    let convId = typeof b.conversation_id === 'string' ? b.conversation_id : '';
    if (convId !== '') {
      const c = conversations.get(convId);
      if (!c || c.user !== b.user) return errorPlan(404, 'not_found', 'Conversation Not Exists.');
    }
    const reply = script.next();
    if (reply.fault?.kind === 'status') return statusPlan(reply.fault);
    if (convId === '') {
      convId = uuid('conv');
      conversations.set(convId, { user: b.user, queries: [] });
    }
    conversations.get(convId)!.queries.push(b.query);
    return render(reply, convId);
  }

  function render(r: DifyReply, conversation_id: string): WirePlan {
    const task_id = uuid('task');
    const message_id = uuid('msg');
    const common = { task_id, id: message_id, message_id, conversation_id, created_at: 1731000000 };
    const workflow_run_id = uuid('run');
    const data: Record<string, unknown>[] = [];
    if (r.chatflow) {
      data.push({ event: 'workflow_started', task_id, workflow_run_id, data: { id: workflow_run_id, workflow_id: 'wf', created_at: 1731000000 } });
      data.push({ event: 'node_started', task_id, workflow_run_id, data: { node_id: 'llm', node_type: 'llm', title: 'LLM', index: 1 } });
    }
    const texts = tokens(r.text);
    for (const t of texts) data.push({ event: r.agent ? 'agent_message' : 'message', ...common, answer: t });
    if (r.replace !== undefined) data.push({ event: 'message_replace', ...common, answer: r.replace });
    const tail: Record<string, unknown>[] = [];
    if (r.chatflow) tail.push({ event: 'workflow_finished', task_id, workflow_run_id, data: { status: 'succeeded', outputs: {} } });
    const u = r.usage === false ? undefined : (r.usage ?? { input: 120, output: texts.length });
    tail.push({
      event: 'message_end', ...common,
      metadata: { ...(u ? { usage: { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output, total_price: '0.0001', currency: 'USD', latency: 0.8 } } : {}), retriever_resources: [] },
    });
    const pings = r.pings !== false;
    const frame = (d: Record<string, unknown>, i: number): Buffer => {
      const json = r.asciiJson ? ascii(JSON.stringify(d)) : JSON.stringify(d);
      return Buffer.from(`${pings && i % 2 === 1 ? 'event: ping\n\n' : ''}data: ${json}\n\n`);
    };
    let events = [...data, ...tail].map(frame);
    let cut = cutFor(r.fault, events, tail.length);
    if (r.fault?.kind === 'stream-error') {
      const after = r.fault.afterEvents ?? Math.min(1, data.length);
      const e = (r.fault.error ?? { status: 500, code: 'internal_server_error', message: 'The model failed.' }) as Record<string, unknown>;
      events = [...events.slice(0, after), frame({ event: 'error', task_id, message_id, conversation_id, ...e }, 0)];
      cut = { after: events.length, then: 'end' };
    }
    return { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' }, events, ...shaping(r, cut) };
  }

  const http = await FakeHttp.start(handle);
  return Object.assign(vendorFake(http, script, `${http.origin}/v1`, '/v1/chat-messages'), { conversations, stopped });
}
