// The OpenAI-compatible adapter against its fake: the shared conformance suite, then what only
// Chat Completions has (request mapping, wire quirks, vendor deviations in streamed tool calls).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAiLlm } from '../../providers/llm/openai/index.js';
import type { LlmRequest } from '../../providers/contracts/llm.js';
import { startFakeOpenAI, type FakeOpenAI } from '../doubles/fake-openai.js';
import type { RecordedRequest } from '../doubles/http-fake.js';
import { collect, conformance, failure, fixture, request, shape, T, textOf, type Harness } from './conformance.js';

const KEY = 'sk-test-0123';

function checkRequest(rec: RecordedRequest, req: LlmRequest): void {
  const b = rec.json;
  assert.equal(rec.headers.authorization, `Bearer ${KEY}`);
  assert.equal(b.model, 'fake-model');
  assert.equal(b.stream, true);
  assert.deepEqual(b.stream_options, { include_usage: true });
  assert.deepEqual(b.messages.map((m: { role: string }) => m.role), req.messages.map((m) => m.role));
  if (req.tools?.length) {
    assert.equal(b.tool_choice, 'auto');
    for (const t of b.tools) {
      assert.equal(t.type, 'function');
      assert.match(t.function.name, /^[a-zA-Z0-9_-]{1,64}$/);
    }
  }
}

const harness: Harness<FakeOpenAI> = {
  label: 'openai',
  checkRequest,
  async start(cfg = {}) {
    const fake = await startFakeOpenAI({ apiKey: KEY });
    const provider = createOpenAiLlm('gpt', { type: 'openai', base_url: fake.url, model: 'fake-model', api_key: KEY, ...cfg });
    return { fake, provider };
  },
};

conformance(harness);

const it = (name: string, fn: (t: TestContext) => Promise<void>) => test(`openai: ${name}`, T, fn);

it('maps tools, tool history and options into the request; extra body and headers ride along', async (t) => {
  const { fake, provider } = await fixture(t, harness, {
    temperature: 0.3, max_tokens: 256, headers: { 'x-tenant': 'fleet-7' }, body: { enable_thinking: false, stream: false, max_tokens: 100 },
  });
  const req = request({
    tools: [{ name: 'self.audio_speaker.set_volume', description: 'Set volume', parameters: { type: 'object', properties: { volume: { type: 'integer' } } } }],
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Louder please' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'self.audio_speaker.set_volume', argsJson: '{"volume":80}' }] },
      { role: 'tool', content: '{"ok":true}', toolCallId: 'call_1' },
    ],
  });
  const deltas = await collect(provider, req);
  assert.equal(deltas.at(-1)?.kind, 'end');
  const rec = fake.requests[0]!;
  checkRequest(rec, req);
  const b = rec.json;
  assert.equal(rec.headers['x-tenant'], 'fleet-7');
  assert.equal(b.enable_thinking, false);
  assert.equal(b.stream, true, 'the extra body cannot turn streaming off');
  assert.equal(b.max_tokens, 100, 'the extra body wins over max_tokens');
  assert.equal(b.temperature, 0.3);
  assert.deepEqual(b.tools, [{ type: 'function', function: { name: 'self_audio_speaker_set_volume', description: 'Set volume', parameters: req.tools![0]!.parameters } }]);
  assert.deepEqual(b.messages[2], {
    role: 'assistant', content: null,
    tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'self_audio_speaker_set_volume', arguments: '{"volume":80}' } }],
  });
  assert.deepEqual(b.messages[3], { role: 'tool', tool_call_id: 'call_1', content: '{"ok":true}' });
});

it('the request overrides temperature and max_tokens from config', async (t) => {
  const { fake, provider } = await fixture(t, harness, { temperature: 0.3, max_tokens: 256 });
  await collect(provider, request({ temperature: 0.9, maxTokens: 64 }));
  assert.equal(fake.requests[0]!.json.temperature, 0.9);
  assert.equal(fake.requests[0]!.json.max_tokens, 64);
});

it('wire quirks: CRLF, no space after data:, keep-alive comments, an empty first chunk', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  const text = '晴，二十度。Sunny, 20 degrees.';
  fake.script({ text, crlf: true, noSpace: true, comments: true, emptyFirstChunk: true, usage: { input: 3, output: 4 } });
  const deltas = await collect(provider, request());
  assert.equal(textOf(deltas), text);
  assert.deepEqual(shape(deltas), ['text', 'usage', 'end']);
});

for (const deviation of ['no-index', 'repeat-id', 'stop-finish', 'no-finish'] as const) {
  it(`tool-call deviation "${deviation}" still yields whole calls`, async (t) => {
    const { fake, provider } = await fixture(t, harness);
    fake.script({ tools: [{ id: 'call_X', name: 'get_weather', args: '{"city":"北京"}', fragments: 4 }], deviation });
    const deltas = await collect(provider, request());
    const calls = deltas.filter((d) => d.kind === 'tool-call');
    assert.deepEqual(calls, [{ kind: 'tool-call', call: { id: 'call_X', name: 'get_weather', argsJson: '{"city":"北京"}' } }]);
    assert.deepEqual(deltas.at(-1), { kind: 'end', reason: 'tool-calls' });
  });
}

it('interleaved fragments of parallel calls are kept apart by index', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script({
    interleave: true,
    tools: [
      { id: 'a', name: 'one', args: '{"x":"aaaaaaaaaaaa"}', fragments: 5 },
      { id: 'b', name: 'two', args: '{"y":"bbbbbbbbbbbb"}', fragments: 5 },
    ],
  });
  const calls = (await collect(provider, request())).filter((d) => d.kind === 'tool-call').map((d) => (d as { call: unknown }).call);
  assert.deepEqual(calls, [
    { id: 'a', name: 'one', argsJson: '{"x":"aaaaaaaaaaaa"}' },
    { id: 'b', name: 'two', argsJson: '{"y":"bbbbbbbbbbbb"}' },
  ]);
});

it('429 insufficient_quota is quota, not retryable; a 500 HTML page is upstream', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script(
    { fault: { kind: 'status', status: 429, body: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } } } },
    { fault: { kind: 'status', status: 503 } },
  );
  const quota = await failure(collect(provider, request()));
  assert.equal(quota.code, 'XZ_ERR_VENDOR_QUOTA');
  assert.equal(quota.retryable, false);
  const html = await failure(collect(provider, request()));
  assert.equal(html.category, 'upstream');
  assert.match(html.message, /503/);
});

it('an error event inside the stream fails the turn with the code it carries', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script(
    { text: ['par', 'tial'], fault: { kind: 'stream-error', afterEvents: 2 } },
    { text: ['x'], fault: { kind: 'stream-error', afterEvents: 1, error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded' } } },
  );
  const upstream = await failure(collect(provider, request()));
  assert.equal(upstream.code, 'XZ_ERR_VENDOR_UPSTREAM');
  assert.equal(upstream.details?.midStream, true);
  const limited = await failure(collect(provider, request()));
  assert.equal(limited.code, 'XZ_ERR_VENDOR_RATE_LIMIT');
});

it('a wrong key is refused by the fake as by the API', async (t) => {
  const { fake, provider } = await fixture(t, harness, { api_key: 'sk-wrong' });
  const err = await failure(collect(provider, request()));
  assert.equal(err.code, 'XZ_ERR_VENDOR_AUTH');
  assert.equal(err.details?.vendorCode, 'invalid_api_key');
  assert.equal(fake.attempts, 1);
});

it('a finish without [DONE] is accepted; bad config fails at creation', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script({ text: ['done'], usage: false, fault: { kind: 'truncate', afterEvents: 3 } });
  assert.deepEqual(shape(await collect(provider, request())), ['text', 'end']);
  assert.throws(() => createOpenAiLlm('bad', { type: 'openai', model: 'm' }), (e: { code?: string; message?: string }) => {
    assert.equal(e.code, 'XZ_ERR_CONFIG_INVALID');
    assert.match(e.message ?? '', /providers\.llm\.bad\.base_url/);
    return true;
  });
});
