// Pins hedging end to end against the wire: two fake OpenAI-compatible servers behind the real
// OpenAI adapter, pooled with a hedge. The first server stalls (no answer at all; or headers and
// an empty role chunk, then silence), the hedge starts the second after hedge_ms, its text
// answers, and the first server sees the client walk away promptly — the abort reached the
// socket, not just our bookkeeping. The stalled provider is not blamed for losing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOpenAiLlm } from '../../providers/llm/openai/index.js';
import { LocalPoolState, pooledLlm } from '../../providers/pool/index.js';
import { startFakeOpenAI, type FakeOpenAI, type OpenAIReply } from '../doubles/fake-openai.js';
import { liveClock } from '../fixtures/pool/scripted.js';

const T = { timeout: 30_000 };

async function fakes(t: { after(fn: () => unknown): void }): Promise<[FakeOpenAI, FakeOpenAI]> {
  const a = await startFakeOpenAI({ apiKey: 'sk-a' });
  const b = await startFakeOpenAI({ apiKey: 'sk-b' });
  t.after(() => Promise.all([a.close(), b.close()]));
  return [a, b];
}

for (const [name, stall] of [
  ['never answers', { fault: { kind: 'hang' } }],
  ['sends headers and an empty chunk, then stalls', { fault: { kind: 'stall', afterEvents: 1 } }],
] as [string, OpenAIReply][]) {
  test(`hedge: the first server ${name}; the second answers and the first sees the disconnect`, T, async (t) => {
    const [fa, fb] = await fakes(t);
    fa.script(stall);
    fb.script({ text: ['Hello', ' from', ' b'], eventGapMs: 5 });
    const a = createOpenAiLlm('gpt-a', { base_url: fa.url, model: 'm', api_key: 'sk-a' });
    const b = createOpenAiLlm('gpt-b', { base_url: fb.url, model: 'm', api_key: 'sk-b' });
    t.after(() => Promise.all([a.close?.(), b.close?.()]));
    const state = new LocalPoolState({ clock: liveClock });
    const llm = pooledLlm({ id: 'chat', chain: [a, b], state, clock: liveClock, hedgeMs: 100 });

    const started = performance.now();
    let firstTextAt: number | undefined;
    let text = '';
    for await (const d of llm.stream({ messages: [{ role: 'user', content: 'hi' }], signal: new AbortController().signal })) {
      if (d.kind !== 'text') continue;
      firstTextAt ??= performance.now();
      text += d.text;
    }
    assert.equal(text, 'Hello from b');
    assert.equal(fa.streams, 1);
    assert.equal(fb.streams, 1);
    assert.ok(fb.requests[0]!.at - started >= 90, `b was asked ${(fb.requests[0]!.at - started).toFixed(0)} ms in, after the hedge delay`);
    const gone = await fa.waitForDisconnect(1, 2_000);
    const lag = gone.at - firstTextAt!;
    assert.ok(lag < 50, `the stalled server saw the disconnect ${lag.toFixed(1)} ms after b's first text`);
    assert.equal(fb.disconnects.length, 0, 'the winner ran to its end');

    const rows = Object.fromEntries((await state.snapshot()).providers.map((p) => [p.provider, p]));
    assert.equal(rows['llm.gpt-a']!.failures, 0);
    assert.equal(rows['llm.gpt-b']!.successes, 1);
    for (let i = 0; i < 50 && (await state.snapshot()).providers.some((p) => p.inFlight > 0); i++) await liveClock.sleep(5);
    assert.ok((await state.snapshot()).providers.every((p) => p.inFlight === 0), 'every permit is back');
  });
}

test('failover over the wire: a 429 with retry-after moves to the next server and keeps the first skipped', T, async (t) => {
  const [fa, fb] = await fakes(t);
  fa.script({ fault: { kind: 'status', status: 429, headers: { 'retry-after': '30' } } });
  fb.script({ text: 'one' }, { text: 'two' });
  const a = createOpenAiLlm('gpt-a', { base_url: fa.url, model: 'm', api_key: 'sk-a' });
  const b = createOpenAiLlm('gpt-b', { base_url: fb.url, model: 'm', api_key: 'sk-b' });
  t.after(() => Promise.all([a.close?.(), b.close?.()]));
  const state = new LocalPoolState({ clock: liveClock });
  const llm = pooledLlm({ id: 'chat', chain: [a, b], state, clock: liveClock });
  const ask = async () => {
    let s = '';
    for await (const d of llm.stream({ messages: [{ role: 'user', content: 'hi' }], signal: new AbortController().signal })) if (d.kind === 'text') s += d.text;
    return s;
  };
  assert.equal(await ask(), 'one');
  assert.equal(await ask(), 'two');
  assert.equal(fa.streams, 1, 'skipped while its retry-after runs');
  const row = (await state.snapshot()).providers.find((p) => p.provider === 'llm.gpt-a')!;
  assert.equal(row.breaker, 'open');
  assert.equal(row.lastError?.code, 'XZ_ERR_VENDOR_RATE_LIMIT');
  assert.ok(row.retryInMs! > 25_000);
});
