/**
 * A fake OpenAI Chat Completions server (vendors.md §1.6): `POST /v1/chat/completions` answering
 * `data: {json}\n\n` chunks and `data: [DONE]\n\n`, written through the adversarial chunker.
 *
 *   const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
 *   provider = createOpenAiLlm('gpt', { base_url: fake.url, model: 'm', api_key: 'sk-test' });
 *   fake.script({ text: ['你好', '，世界'], usage: { input: 12, output: 2 } },
 *               { tools: [{ name: 'get_weather', args: '{"city":"杭州"}', fragments: 4 }] },
 *               { fault: { kind: 'status', status: 429, headers: { 'retry-after': '2' } } });
 *   fake.requests[0].json.messages … fake.disconnects[0].at … fake.attempts
 *
 * Reply fields: `text` (pieces, or a string cut into 3-character pieces), `tools` (calls whose
 * arguments go out in `fragments` pieces), `usage` (false: none; sent only when the request asked
 * for `stream_options.include_usage`), `finish`, `fault` (see http-fake.ts), `chunk`,
 * `eventGapMs`, `headDelayMs`, and wire quirks: `crlf`, `noSpace` (`data:x`), `comments`
 * (`: keep-alive` before every event), `emptyFirstChunk` (Azure), `interleave` (alternate the
 * fragments of parallel calls), `deviation` (§1.4: 'no-index', 'repeat-id', 'stop-finish',
 * 'no-finish').
 *
 * The request is validated like the real API: bearer key (401 `invalid_api_key`), `stream: true`,
 * known roles, tool names matching `^[a-zA-Z0-9_-]{1,64}$`, and every tool message answering an
 * earlier assistant `tool_calls` id (400 `invalid_request_error` otherwise).
 */
import {
  cutFor, FakeHttp, jsonPlan, Script, shaping, tokens, vendorFake,
  type BaseReply, type Fault, type FakeVendor, type RecordedRequest, type ScriptedCall, type WirePlan,
} from './http-fake.js';

export type { ScriptedCall };

export interface OpenAIReply extends BaseReply {
  readonly tools?: readonly ScriptedCall[];
  readonly finish?: string;
  readonly crlf?: boolean;
  readonly noSpace?: boolean;
  readonly comments?: boolean;
  readonly emptyFirstChunk?: boolean;
  readonly interleave?: boolean;
  readonly deviation?: 'no-index' | 'repeat-id' | 'stop-finish' | 'no-finish';
}

export interface FakeOpenAIOptions {
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** Answers once the script is empty. */
  readonly reply?: OpenAIReply;
}

export type FakeOpenAI = FakeVendor<OpenAIReply>;

const VALID_NAME = /^[a-zA-Z0-9_-]{1,64}$/;
const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer']);

function apiError(status: number, message: string, type: string, code: string | null, headers: Record<string, string> = {}): WirePlan {
  return jsonPlan(status, { error: { message, type, param: null, code } }, headers);
}

function statusPlan(f: Extract<Fault, { kind: 'status' }>): WirePlan {
  const h = { ...(f.status === 429 && !f.headers ? { 'retry-after': '1' } : {}), ...f.headers };
  if (f.body !== undefined) return typeof f.body === 'string' ? { status: f.status, headers: { 'content-type': 'text/plain', ...h }, events: [Buffer.from(f.body)], chunk: 'whole' } : jsonPlan(f.status, f.body, h);
  if (f.status === 401) return apiError(401, 'Incorrect API key provided: sk-***.', 'invalid_request_error', 'invalid_api_key', h);
  if (f.status === 429) return apiError(429, 'Rate limit reached for requests', 'requests', 'rate_limit_exceeded', h);
  // A proxy in front of the vendor answers 5xx in HTML.
  if (f.status >= 500) return { status: f.status, headers: { 'content-type': 'text/html', ...h }, events: [Buffer.from(`<html><body><h1>${f.status} Internal Server Error</h1></body></html>`)], chunk: 'whole' };
  return apiError(f.status, `error ${f.status}`, 'invalid_request_error', null, h);
}

/** Checks the request as the API would; returns the error answer or undefined. */
function validate(req: RecordedRequest, apiKey: string | undefined): WirePlan | undefined {
  if (req.method !== 'POST' || req.path !== '/v1/chat/completions') return apiError(404, `Unknown request URL: ${req.method} ${req.path}`, 'invalid_request_error', 'unknown_url');
  if (apiKey !== undefined && req.headers.authorization !== `Bearer ${apiKey}`) {
    return apiError(401, 'Incorrect API key provided: sk-***.', 'invalid_request_error', 'invalid_api_key');
  }
  const b = req.json as { model?: unknown; stream?: unknown; messages?: unknown; tools?: unknown } | undefined;
  if (!b || typeof b.model !== 'string' || !b.model) return apiError(400, 'you must provide a model parameter', 'invalid_request_error', null);
  if (b.stream !== true) return apiError(400, 'this fake only streams; send stream: true', 'invalid_request_error', null);
  if (!Array.isArray(b.messages) || b.messages.length === 0) return apiError(400, "'messages' must be a non-empty array", 'invalid_request_error', null);
  const ids = new Set<string>();
  for (const m of b.messages as { role?: unknown; tool_calls?: { id?: unknown; function?: { name?: unknown } }[]; tool_call_id?: unknown }[]) {
    if (typeof m.role !== 'string' || !ROLES.has(m.role)) return apiError(400, `invalid role ${String(m.role)}`, 'invalid_request_error', null);
    for (const c of m.tool_calls ?? []) {
      if (typeof c.function?.name !== 'string' || !VALID_NAME.test(c.function.name)) return apiError(400, `invalid tool call name ${String(c.function?.name)}`, 'invalid_request_error', null);
      ids.add(String(c.id));
    }
    if (m.role === 'tool' && !ids.has(String(m.tool_call_id))) {
      return apiError(400, "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'", 'invalid_request_error', null);
    }
  }
  for (const t of (Array.isArray(b.tools) ? b.tools : []) as { type?: unknown; function?: { name?: unknown } }[]) {
    if (t.type !== 'function' || typeof t.function?.name !== 'string' || !VALID_NAME.test(t.function.name)) {
      return apiError(400, `Invalid 'tools': function name must match ^[a-zA-Z0-9_-]{1,64}$ (got ${String(t.function?.name)})`, 'invalid_request_error', 'invalid_value');
    }
  }
  return undefined;
}

function fragmentsOf(args: string, n: number): string[] {
  const chars = [...args];
  const size = Math.max(1, Math.ceil(chars.length / Math.max(1, n)));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out.length ? out : [''];
}

function render(req: RecordedRequest, r: OpenAIReply): WirePlan {
  if (r.fault?.kind === 'status') return statusPlan(r.fault);
  const model = String(req.json.model);
  const base = { id: `chatcmpl-fake${req.index}`, object: 'chat.completion.chunk', created: 1731000000, model, system_fingerprint: 'fp_fake' };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null });
  const data: string[] = [];
  if (r.emptyFirstChunk) data.push(JSON.stringify({ ...base, choices: [], usage: null }));
  data.push(chunk({ role: 'assistant', content: '', refusal: null }));
  const texts = tokens(r.text);
  for (const t of texts) data.push(chunk({ content: t }));
  // Tool calls: a head fragment (id, name, empty arguments) then argument pieces, per call.
  const dev = r.deviation;
  const perCall = (r.tools ?? []).map((c, i) => {
    const id = c.id ?? `call_${req.index}_${i}`;
    const args = typeof c.args === 'string' ? c.args : JSON.stringify(c.args);
    const idx = dev === 'no-index' ? {} : { index: i };
    const again = dev === 'repeat-id' ? { id, type: 'function' } : {};
    const frags = [chunk({ role: 'assistant', content: null, tool_calls: [{ ...idx, id, type: 'function', function: { name: c.name, arguments: '' } }] })];
    for (const a of fragmentsOf(args, c.fragments ?? 3)) {
      frags.push(chunk({ tool_calls: [{ ...idx, ...again, function: { ...(dev === 'repeat-id' ? { name: c.name } : {}), arguments: a } }] }));
    }
    return frags;
  });
  if (r.interleave && dev !== 'no-index') {
    for (let k = 0; perCall.some((f) => k < f.length); k++) for (const f of perCall) if (k < f.length) data.push(f[k]!);
  } else for (const f of perCall) data.push(...f);
  const tail: string[] = [];
  const finish = r.finish ?? (r.tools?.length && dev !== 'stop-finish' ? 'tool_calls' : 'stop');
  if (dev !== 'no-finish') tail.push(chunk({}, finish));
  const wantUsage = (req.json.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  if (wantUsage && r.usage !== false) {
    const u = r.usage ?? { input: 21, output: texts.length };
    tail.push(JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output } }));
  }
  tail.push('[DONE]');
  const nl = r.crlf ? '\r\n' : '\n';
  const frame = (d: string): Buffer => Buffer.from(`${r.comments ? `: keep-alive${nl}${nl}` : ''}data:${r.noSpace ? '' : ' '}${d}${nl}${nl}`);
  let events = [...data, ...tail].map(frame);
  let cut = cutFor(r.fault, events, tail.length);
  if (r.fault?.kind === 'stream-error') {
    const at = r.fault.afterEvents ?? Math.min(2, data.length);
    const err = r.fault.error ?? { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null };
    events = [...events.slice(0, at), frame(JSON.stringify({ error: err }))];
    cut = { after: events.length, then: 'end' };
  }
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'x-request-id': `req_fake${req.index}` },
    events,
    ...shaping(r, cut),
  };
}

export async function startFakeOpenAI(opts: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const script = new Script<OpenAIReply>(opts.reply ?? { text: 'Hello from the fake.' });
  const http = await FakeHttp.start((req) => {
    // An invalid request is refused before any scripted reply is used, as the API would.
    const invalid = validate(req, opts.apiKey);
    if (invalid) return invalid;
    return render(req, script.next());
  });
  return vendorFake(http, script, `${http.origin}/v1`, '/v1/chat/completions');
}
