// The Ollama adapter against its NDJSON fake: the shared conformance suite, then Ollama's own
// shapes (object arguments, tool results by name, options, missing metrics, error lines).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createOllamaLlm } from '../../providers/llm/ollama/index.js';
import type { LlmRequest } from '../../providers/contracts/llm.js';
import { startFakeOllama, type FakeOllama } from '../doubles/fake-ollama.js';
import type { RecordedRequest } from '../doubles/http-fake.js';
import { collect, conformance, failure, fixture, request, shape, T, type Harness } from './conformance.js';

const MODEL = 'qwen2.5:7b';

function checkRequest(rec: RecordedRequest, req: LlmRequest): void {
  const b = rec.json;
  assert.equal(b.model, MODEL);
  assert.equal(b.stream, true);
  assert.deepEqual(b.messages.map((m: { role: string }) => m.role), req.messages.map((m) => m.role));
  for (const t of b.tools ?? []) assert.match(t.function.name, /^[a-zA-Z0-9_-]{1,64}$/);
}

const harness: Harness<FakeOllama> = {
  label: 'ollama',
  checkRequest,
  async start(cfg = {}) {
    const fake = await startFakeOllama({ models: [MODEL] });
    const provider = createOllamaLlm('local', { type: 'ollama', base_url: fake.url, model: MODEL, ...cfg });
    return { fake, provider };
  },
};

conformance(harness);

const it = (name: string, fn: (t: TestContext) => Promise<void>) => test(`ollama: ${name}`, T, fn);

it('maps options, tool calls (arguments as objects) and tool results (by name)', async (t) => {
  const { fake, provider } = await fixture(t, harness, { temperature: 0.2, max_tokens: 99, keep_alive: '10m', options: { num_ctx: 8192 }, body: { think: false } });
  const req = request({
    tools: [{ name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
    messages: [
      { role: 'user', content: '杭州天气?' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'get_weather', argsJson: '{"city":"杭州"}' }] },
      { role: 'tool', content: '11 degrees', toolCallId: 'c1' },
    ],
  });
  await collect(provider, req);
  const b = fake.requests[0]!.json;
  assert.deepEqual(b.options, { num_ctx: 8192, temperature: 0.2, num_predict: 99 });
  assert.equal(b.keep_alive, '10m');
  assert.equal(b.think, false);
  assert.deepEqual(b.messages[1].tool_calls, [{ id: 'c1', function: { name: 'get_weather', arguments: { city: '杭州' } } }]);
  assert.deepEqual(b.messages[2], { role: 'tool', content: '11 degrees', tool_name: 'get_weather' });
  assert.equal(b.tools[0].type, 'function');
});

it('tool calls from older servers (no id) get ids; done_reason length maps to length', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script({ tools: [{ name: 'get_weather', args: { city: '北京' } }], noIds: true }, { text: 'cut', doneReason: 'length' });
  const calls = (await collect(provider, request())).filter((d) => d.kind === 'tool-call');
  assert.deepEqual(calls, [{ kind: 'tool-call', call: { id: 'call_0', name: 'get_weather', argsJson: '{"city":"北京"}' } }]);
  assert.deepEqual((await collect(provider, request())).at(-1), { kind: 'end', reason: 'length' });
});

it('no metrics on the done line means no usage delta', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script({ text: ['a', 'b'], usage: false });
  assert.deepEqual(shape(await collect(provider, request())), ['text', 'end']);
});

it('an error line after the 200 is upstream and retryable; an unknown model is invalid-request', async (t) => {
  const { fake, provider } = await fixture(t, harness, { model: 'qwen9' });
  const missing = await failure(collect(provider, request()));
  assert.equal(missing.code, 'XZ_ERR_VENDOR_BAD_REQUEST');
  assert.equal(missing.details?.status, 404);
  assert.match(missing.message, /try pulling it first/);
  const ok = createOllamaLlm('ok', { type: 'ollama', base_url: fake.url, model: MODEL });
  t.after(() => ok.close?.());
  fake.script({ text: ['par', 'tial'], fault: { kind: 'stream-error', afterEvents: 1 } });
  const mid = await failure(collect(ok, request()));
  assert.equal(mid.code, 'XZ_ERR_VENDOR_UPSTREAM');
  assert.equal(mid.retryable, true);
});
