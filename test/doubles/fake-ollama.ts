/**
 * A fake Ollama server (vendors.md §3.5): `POST /api/chat` answering NDJSON — one compact object
 * per line, lines cut across writes (mid-object, mid-character) by the chunker, tool calls whole
 * with `arguments` as an object, a final `done: true` line with nanosecond timings and counts.
 *
 *   const fake = await startFakeOllama({ models: ['qwen2.5:7b'] });
 *   provider = createOllamaLlm('local', { base_url: fake.url, model: 'qwen2.5:7b' });
 *   fake.script({ text: '你好', usage: { input: 26, output: 9 } },
 *               { tools: [{ name: 'get_weather', args: { city: '杭州' } }], noIds: true },
 *               { text: ['a'], fault: { kind: 'stream-error' } });
 *
 * Reply fields: BaseReply (text, usage — false omits every metric, as omitempty allows — fault,
 * chunk, eventGapMs, headDelayMs) plus `tools`, `doneReason`, `noIds` (older servers: no `id` or
 * `function.index`). Errors are `{"error": "…"}` bodies; `stream-error` writes an error line after
 * a 200, as Ollama does when the model fails mid-answer.
 *
 * Validation: unknown model → 404 "model … not found, try pulling it first" (when `models` is
 * given), `images` entries that are data URIs → 400 (the prefix must be stripped), bearer key when
 * `apiKey` is set.
 */
import {
  cutFor, FakeHttp, jsonPlan, Script, shaping, tokens, vendorFake,
  type BaseReply, type Fault, type FakeVendor, type RecordedRequest, type ScriptedCall, type WirePlan,
} from './http-fake.js';

export interface OllamaReply extends BaseReply {
  readonly tools?: readonly ScriptedCall[];
  readonly doneReason?: string;
  readonly noIds?: boolean;
}

export interface FakeOllamaOptions {
  readonly apiKey?: string;
  /** Models the server "has"; any model is accepted when absent. */
  readonly models?: readonly string[];
  readonly reply?: OllamaReply;
}

export type FakeOllama = FakeVendor<OllamaReply>;

function errorPlan(status: number, error: string, headers: Record<string, string> = {}): WirePlan {
  return jsonPlan(status, { error }, headers);
}

function statusPlan(f: Extract<Fault, { kind: 'status' }>): WirePlan {
  const h = { ...(f.status === 429 && !f.headers ? { 'retry-after': '1' } : {}), ...f.headers };
  if (f.body !== undefined) return jsonPlan(f.status, f.body, h);
  const text = f.status === 401 ? 'unauthorized' : f.status === 429 ? 'too many requests' : f.status >= 500 ? 'an error was encountered while running the model' : `error ${f.status}`;
  return errorPlan(f.status, text, h);
}

function validate(req: RecordedRequest, o: FakeOllamaOptions): WirePlan | undefined {
  if (req.method !== 'POST' || req.path !== '/api/chat') return { status: 404, headers: { 'content-type': 'text/plain' }, events: [Buffer.from('404 page not found')], chunk: 'whole' };
  if (o.apiKey !== undefined && req.headers.authorization !== `Bearer ${o.apiKey}`) return errorPlan(401, 'unauthorized');
  const b = req.json as { model?: unknown; messages?: { images?: unknown }[] } | undefined;
  if (!b) return errorPlan(400, 'invalid JSON body');
  if (typeof b.model !== 'string' || !b.model) return errorPlan(400, 'model is required');
  if (o.models && !o.models.includes(b.model)) return errorPlan(404, `model "${b.model}" not found, try pulling it first`);
  if (!Array.isArray(b.messages)) return errorPlan(400, 'messages must be an array');
  for (const m of b.messages) {
    if (Array.isArray(m.images) && m.images.some((i) => typeof i === 'string' && i.startsWith('data:'))) return errorPlan(400, 'illegal base64 data at input byte 4');
  }
  return undefined;
}

function render(req: RecordedRequest, r: OllamaReply): WirePlan {
  if (r.fault?.kind === 'status') return statusPlan(r.fault);
  const model = String(req.json.model);
  let tick = 0;
  const at = () => new Date(Date.UTC(2025, 0, 1, 8, 0, 0, 100 * ++tick)).toISOString();
  const lines: unknown[] = [];
  const texts = tokens(r.text);
  for (const t of texts) lines.push({ model, created_at: at(), message: { role: 'assistant', content: t }, done: false });
  if (r.tools?.length) {
    const calls = r.tools.map((c, i) => {
      const args = typeof c.args === 'string' ? JSON.parse(c.args) : c.args;
      return r.noIds ? { function: { name: c.name, arguments: args } } : { id: c.id ?? `call_${i}`, function: { index: i, name: c.name, arguments: args } };
    });
    lines.push({ model, created_at: at(), message: { role: 'assistant', content: '', tool_calls: calls }, done: false });
  }
  const u = r.usage === false ? undefined : (r.usage ?? { input: 26, output: texts.length });
  const metrics = u ? { total_duration: 812000000, load_duration: 41000000, prompt_eval_count: u.input, prompt_eval_duration: 120000000, eval_count: u.output, eval_duration: 600000000 } : {};
  lines.push({ model, created_at: at(), message: { role: 'assistant', content: '' }, done: true, done_reason: r.doneReason ?? 'stop', ...metrics });
  let events = lines.map((l) => Buffer.from(`${JSON.stringify(l)}\n`));
  let cut = cutFor(r.fault, events, 1);
  if (r.fault?.kind === 'stream-error') {
    const after = r.fault.afterEvents ?? Math.min(1, events.length - 1);
    const error = typeof r.fault.error === 'string' ? r.fault.error : 'an error was encountered while running the model';
    events = [...events.slice(0, after), Buffer.from(`${JSON.stringify({ error })}\n`)];
    cut = { after: events.length, then: 'end' };
  }
  return { status: 200, headers: { 'content-type': 'application/x-ndjson' }, events, ...shaping(r, cut) };
}

export async function startFakeOllama(opts: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const script = new Script<OllamaReply>(opts.reply ?? { text: 'Hello from the fake.' });
  const http = await FakeHttp.start((req) => validate(req, opts) ?? render(req, script.next()));
  return vendorFake(http, script, http.origin, '/api/chat');
}
