// The Coze adapter against its fake: the shared conformance suite, then Coze's own behaviour —
// one conversation per device across turns (query parameter, TTL, recovery), never speaking
// verbose/follow-up messages, errors as JSON with status 200, and cancelling a barged-in chat so
// the next turn is not refused with 4016.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createCozeLlm } from '../../providers/llm/coze/index.js';
import type { LlmRequest } from '../../providers/contracts/llm.js';
import { startFakeCoze, type FakeCoze } from '../doubles/fake-coze.js';
import type { RecordedRequest } from '../doubles/http-fake.js';
import { collect, conformance, failure, fixture, request, T, textOf, type Harness } from './conformance.js';

const KEY = 'pat_test_0123';
const BOT = '7348293334';
const STREAM = '/v3/chat';

function checkRequest(rec: RecordedRequest, req: LlmRequest): void {
  const b = rec.json;
  assert.equal(rec.headers.authorization, `Bearer ${KEY}`);
  assert.equal(b.bot_id, BOT);
  assert.equal(b.user_id, req.user);
  assert.equal(b.stream, true);
  const last = [...req.messages].reverse().find((m) => m.role === 'user')!;
  assert.deepEqual(b.additional_messages.at(-1), { role: 'user', content: last.content, content_type: 'text', type: 'question' });
  assert.ok(!b.additional_messages.some((m: { role: string }) => m.role === 'system'), 'the persona lives on Coze');
}

const harness: Harness<FakeCoze> = {
  label: 'coze',
  checkRequest,
  async start(cfg = {}) {
    const fake = await startFakeCoze({ apiKey: KEY, botId: BOT });
    const provider = createCozeLlm('coze', { type: 'coze', base_url: fake.url, bot_id: BOT, api_key: KEY, ...cfg });
    return { fake, provider };
  },
};

conformance(harness);

const it = (name: string, fn: (t: TestContext) => Promise<void>) => test(`coze: ${name}`, T, fn);
const chats = (fake: FakeCoze) => fake.requests.filter((r) => r.path === STREAM);
const turn = (content: string, user = 'dev-1'): LlmRequest => request({ user, messages: [{ role: 'system', content: 'ignored' }, { role: 'user', content }] });

it('two turns of one device continue one conversation; another device gets its own', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  const first = request({
    user: 'dev-1',
    messages: [
      { role: 'system', content: 'persona' },
      { role: 'user', content: '讲个笑话' },
      { role: 'assistant', content: '从前有座山。' },
      { role: 'user', content: '再讲一个' },
    ],
  });
  await collect(provider, first);
  await collect(provider, turn('还有吗'));
  await collect(provider, turn('你好', 'dev-2'));
  const [a, b, c] = chats(fake);
  assert.equal(a!.query.conversation_id, undefined, 'the first turn starts a conversation');
  assert.deepEqual(a!.json.additional_messages.map((m: { content: string }) => m.content), ['讲个笑话', '从前有座山。', '再讲一个']);
  const conv = [...fake.conversations.keys()][0]!;
  assert.equal(b!.query.conversation_id, conv, 'the second turn continues it');
  assert.deepEqual(b!.json.additional_messages.map((m: { content: string }) => m.content), ['还有吗']);
  assert.equal(c!.query.conversation_id, undefined);
  assert.equal(c!.json.user_id, 'dev-2');
  assert.equal(fake.conversations.size, 2);
  assert.equal(fake.conversations.get(conv)!.user, 'dev-1');
});

it('a conversation idle past conversation_ttl_ms is not continued', async (t) => {
  const { fake, provider } = await fixture(t, harness, { conversation_ttl_ms: 60 });
  await collect(provider, turn('one'));
  await new Promise((r) => setTimeout(r, 90));
  await collect(provider, turn('two'));
  assert.deepEqual(chats(fake).map((r) => r.query.conversation_id), [undefined, undefined]);
});

it('a conversation Coze lost is replaced within the same turn', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  await collect(provider, turn('one'));
  fake.conversations.clear();
  assert.equal(textOf(await collect(provider, turn('two'))), 'Hello from the fake.');
  const [, refused, fresh] = chats(fake);
  assert.ok(refused!.query.conversation_id);
  assert.equal(fresh!.query.conversation_id, undefined);
});

it('speaks answer deltas only: no follow-up, no verbose, no repeated completion', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script({ text: ['从前', '有座山。'], followUp: '还想听一个吗？' });
  assert.equal(textOf(await collect(provider, turn('讲个笑话'))), '从前有座山。');
});

it('a barge-in cancels the running chat, so the next turn is not refused with 4016', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  await collect(provider, turn('one'));
  fake.script({ text: ['long', ' answer'], fault: { kind: 'stall', afterEvents: 3 } });
  const ac = new AbortController();
  const err = await failure((async () => {
    for await (const d of provider.stream({ ...turn('two'), signal: ac.signal })) if (d.kind === 'text') ac.abort();
  })());
  assert.equal(err.code, 'XZ_ERR_ABORTED');
  const deltas = await collect(provider, turn('three'));
  assert.equal(deltas.at(-1)?.kind, 'end');
  const cancel = fake.requests.find((r) => r.path === '/v3/chat/cancel');
  assert.ok(cancel, 'the chat was cancelled');
  assert.equal(cancel.json.conversation_id, chats(fake)[1]!.query.conversation_id);
});

it('errors: JSON code 4100 with status 200 is auth; 4016 is retryable; error events and failed chats are coded', async (t) => {
  const { fake, provider } = await fixture(t, harness);
  fake.script(
    { fault: { kind: 'status', status: 200, body: { code: 4100, msg: 'authentication is invalid' } } },
    { fault: { kind: 'status', status: 200, body: { code: 4016, msg: 'occupied' } } },
    { text: ['a'], fault: { kind: 'stream-error', afterEvents: 3, error: { code: 4013, msg: 'request rate exceeded' } } },
    { text: ['a'], failWith: 'chat-failed', fault: { kind: 'stream-error', afterEvents: 3, error: { code: 5000, msg: 'model crashed' } } },
  );
  const auth = await failure(collect(provider, turn('x', 'u1')));
  assert.equal(auth.code, 'XZ_ERR_VENDOR_AUTH');
  assert.equal(auth.details?.vendorCode, 4100);
  const busy = await failure(collect(provider, turn('x', 'u2')));
  assert.equal(busy.code, 'XZ_ERR_VENDOR_UPSTREAM');
  assert.equal(busy.retryable, true);
  const limited = await failure(collect(provider, turn('x', 'u3')));
  assert.equal(limited.code, 'XZ_ERR_VENDOR_RATE_LIMIT');
  const failed = await failure(collect(provider, turn('x', 'u4')));
  assert.equal(failed.code, 'XZ_ERR_VENDOR_UPSTREAM');
  assert.match(failed.message, /model crashed/);
});

it('a wrong token is refused as by Coze', async (t) => {
  const { provider } = await fixture(t, harness, { api_key: 'pat_wrong' });
  const err = await failure(collect(provider, turn('x')));
  assert.equal(err.code, 'XZ_ERR_VENDOR_AUTH');
  assert.equal(err.retryable, false);
});
