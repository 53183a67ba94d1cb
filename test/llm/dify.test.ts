// The Dify adapter against its fake: the shared conformance suite, then Dify's own behaviour —
// the conversation per device across turns (and recovery when Dify lost it), pings without data,
// agent and chatflow apps, output moderation (`message_replace`), \u-escaped JSON, error events,
// and asking Dify to stop a barged-in answer.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createDifyLlm } from '../../providers/llm/dify/index.js';
import type { LlmRequest } from '../../providers/contracts/llm.js';
import { startFakeDify, type FakeDify } from '../doubles/fake-dify.js';
import type { RecordedRequest } from '../doubles/http-fake.js';
import { collect, conformance, failure, fixture, request, shape, T, textOf, type Harness } from './conformance.js';

const KEY = 'app-test-0123';
const STREAM = '/v1/chat-messages';

function checkRequest(rec: RecordedRequest, req: LlmRequest): void {
  const b = rec.json;
  assert.equal(rec.headers.authorization, `Bearer ${KEY}`);
  assert.equal(b.query, [...req.messages].reverse().find((m) => m.role === 'user')!.content);
  assert.equal(b.user, req.user);
  assert.equal(b.response_mode, 'streaming');
  assert.equal(typeof b.conversation_id, 'string');
}

const harness: Harness<FakeDify> = {
  label: 'dify',
  checkRequest,
  async start(cfg = {}) {
    const fake = await startFakeDify({ apiKey: KEY });
    const provider = createDifyLlm('dify', { type: 'dify', base_url: fake.url, api_key: KEY, ...cfg });
    return { fake, provider };
  },
};

conformance(harness);

const it = (name: string, fn: (t: TestContext) => Promise<void>) => test(`dify: ${name}`, T, fn);
const chats = (fake: FakeDify) => fake.requests.filter((r) => r.path === STREAM);
const turn = (content: string, user = 'dev-1'): LlmRequest => request({ user, messages: [{ role: 'user', content }] });

it('two turns of one device continue one conversation; inputs and extra body ride along', async (t) => {
  const { fake, provider } = await fixture(t, harness, { inputs: { name: '小明' }, body: { auto_generate_name: true } });
  await collect(provider, turn('明天要带伞吗'));
  await collect(provider, turn('后天呢'));
  await collect(provider, turn('你好', 'dev-2'));
  const [a, b, c] = chats(fake);
  assert.equal(a!.json.conversation_id, '');
  assert.deepEqual(a!.json.inputs, { name: '小明' });
  assert.equal(a!.json.auto_generate_name, true);
  const conv = [...fake.conversations.keys()][0]!;
  assert.equal(b!.json.conversation_id, conv);
  assert.deepEqual(fake.conversations.get(conv)!.queries, ['明天要带伞吗', '后天呢']);
  assert.equal(c!.json.conversation_id, '');
  assert.equal(fake.conversations.size, 2);
});

it('a conversation Dify no longer has (404) is replaced within the same turn', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  await collect(provider, turn('one'));
  fake.conversations.clear();
  assert.equal(textOf(await collect(provider, turn('two'))), 'Hello from the fake.');
  const [, refused, fresh] = chats(fake);
  assert.notEqual(refused!.json.conversation_id, '');
  assert.equal(fresh!.json.conversation_id, '');
});

it('a conversation idle past conversation_ttl_ms is not continued', async (t) => {
  const { fake, provider } = await fixture(t, harness, { conversation_ttl_ms: 60 });
  await collect(provider, turn('one'));
  await new Promise((r) => setTimeout(r, 90));
  await collect(provider, turn('two'));
  assert.deepEqual(chats(fake).map((r) => r.json.conversation_id), ['', '']);
});

it('agent apps, chatflow events, pings and \\u-escaped JSON all yield the same text', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  const text = '明天有雨，记得带伞。';
  fake.script({ text, agent: true }, { text, chatflow: true }, { text, asciiJson: true, pings: true });
  for (let i = 0; i < 3; i++) {
    const deltas = await collect(provider, turn('带伞吗'));
    assert.equal(textOf(deltas), text);
    assert.deepEqual(shape(deltas), ['text', 'usage', 'end']);
  }
});

it('message_replace ends the turn as filtered; it is spoken only if nothing was', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script({ text: ['bad', ' words'], replace: '换个话题吧。' }, { text: [], replace: '换个话题吧。' });
  const spoken = await collect(provider, turn('x'));
  assert.equal(textOf(spoken), 'bad words');
  assert.deepEqual(spoken.at(-1), { kind: 'end', reason: 'filtered' });
  const replaced = await collect(provider, turn('y'));
  assert.equal(textOf(replaced), '换个话题吧。');
  assert.deepEqual(replaced.at(-1), { kind: 'end', reason: 'filtered' });
});

it('error events are coded by their status; quota codes are quota', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script(
    { text: ['a', 'b'], fault: { kind: 'stream-error', afterEvents: 1 } },
    { text: ['a'], fault: { kind: 'stream-error', afterEvents: 1, error: { status: 400, code: 'completion_request_error', message: 'bad prompt' } } },
    { fault: { kind: 'status', status: 400, body: { code: 'provider_quota_exceeded', message: 'quota', status: 400 } } },
  );
  const upstream = await failure(collect(provider, turn('x')));
  assert.equal(upstream.code, 'XZ_ERR_VENDOR_UPSTREAM');
  assert.equal(upstream.details?.midStream, true);
  const bad = await failure(collect(provider, turn('x')));
  assert.equal(bad.code, 'XZ_ERR_VENDOR_BAD_REQUEST');
  assert.equal(bad.details?.vendorCode, 'completion_request_error');
  const quota = await failure(collect(provider, turn('x')));
  assert.equal(quota.code, 'XZ_ERR_VENDOR_QUOTA');
  assert.equal(quota.retryable, false);
});

it('a barge-in asks Dify to stop the task for that user', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script({ text: ['long', ' answer'], fault: { kind: 'stall' } });
  const ac = new AbortController();
  const err = await failure((async () => {
    for await (const d of provider.stream({ ...turn('x', 'dev-9'), signal: ac.signal })) if (d.kind === 'text') ac.abort();
  })());
  assert.equal(err.code, 'XZ_ERR_ABORTED');
  const stop = await fake.waitForRequests(2);
  assert.match(stop.path, /^\/v1\/chat-messages\/task-[^/]+\/stop$/);
  assert.deepEqual(stop.json, { user: 'dev-9' });
});
