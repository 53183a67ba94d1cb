// Per-device memory on a real LMDB store: a summary written when a session ends is loaded by the
// next session after the store is closed and reopened (a server restart); the summarizer gets the
// previous summary and only the turns since; failures keep the old summary.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../providers/store/index.js';
import type { ChatMessage } from '../../providers/contracts/llm.js';
import { DeviceMemory, cleanSummary, memoryMessages, summaryPrompt, type Complete } from '../../actors/dialogue/memory.js';
import { History } from '../../actors/dialogue/history.js';
import { renderSystemPrompt } from '../../actors/dialogue/prompt.js';

const T = { timeout: 20_000 };
const root = mkdtempSync(join(tmpdir(), 'xz-dialogue-memory-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(root, `m${++n}`);
const DEVICE = 'aa:bb:cc:dd:ee:01';

/** A scripted summarizer that records what it was asked. */
function summarizer(answers: (string | Error)[]): Complete & { calls: ChatMessage[][] } {
  const calls: ChatMessage[][] = [];
  const fn = async (messages: ChatMessage[]) => {
    calls.push(messages);
    const a = answers.shift();
    if (a === undefined) throw new Error('no scripted answer left');
    if (a instanceof Error) throw a;
    return a;
  };
  return Object.assign(fn, { calls });
}

test('memory survives a restart: summary and recent turns load in the next session', T, async () => {
  const path = freshPath();
  let clock = 1_700_000_000_000;
  const now = () => clock++;

  // Session 1.
  let store = await openStore({ type: 'lmdb', path });
  let mem = new DeviceMemory(store, { recentTurns: 2, now });
  assert.deepEqual(await mem.load(DEVICE), { summary: '', turns: [], lastSeq: 0, summarizedThrough: 0 });
  await mem.saveTurn(DEVICE, { user: '我叫林，我下个月去伦敦', assistant: '太好了，祝你旅途愉快！' });
  await mem.saveTurn(DEVICE, { user: '提醒我买转换插头', assistant: '好的，记得买英标转换插头。' });
  await mem.saveTurn(DEVICE, { user: '我喜欢喝乌龙茶', assistant: '乌龙茶很香。' });
  const llm1 = summarizer(['用户叫林，下个月去伦敦，需要买英标转换插头，喜欢乌龙茶。']);
  const out1 = await mem.summarize(DEVICE, llm1, { language: 'zh-CN' });
  assert.deepEqual(out1, { status: 'written', summary: '用户叫林，下个月去伦敦，需要买英标转换插头，喜欢乌龙茶。' });
  assert.equal(llm1.calls.length, 1);
  const prompt1 = llm1.calls[0]!.map((m) => m.content).join('\n');
  assert.match(prompt1, /\(none yet\)/);
  assert.match(prompt1, /我叫林/);
  assert.match(prompt1, /150 words/);
  assert.match(prompt1, /zh-CN/);
  await store.close();

  // Restart: a fresh store object on the same files.
  store = await openStore({ type: 'lmdb', path });
  mem = new DeviceMemory(store, { recentTurns: 2, now });
  const rec = await mem.load(DEVICE);
  assert.equal(rec.summary, '用户叫林，下个月去伦敦，需要买英标转换插头，喜欢乌龙茶。');
  assert.deepEqual(
    rec.turns.map((t) => t.user),
    ['提醒我买转换插头', '我喜欢喝乌龙茶'],
    'the last recentTurns turns are kept verbatim',
  );
  // What a session does with it: the summary goes into the system prompt, the turns into history.
  const sys = renderSystemPrompt({ assistantName: '小智', language: 'zh-CN', now: 0, timezone: 'UTC', roleName: 'default', rolePrompt: 'Be kind.', memory: rec.summary });
  assert.ok(sys.text.includes('用户叫林'));
  const h = new History({ budgetTokens: 2000 });
  h.seed(memoryMessages(rec));
  assert.deepEqual(h.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);

  // Session 2 after the restart: the summarizer receives the previous summary and only new turns.
  await mem.saveTurn(DEVICE, { user: '我买好插头了', assistant: '太好了！' });
  const llm2 = summarizer(['用户叫林，下个月去伦敦，已经买好转换插头，喜欢乌龙茶。']);
  const out2 = await mem.summarize(DEVICE, llm2);
  assert.equal(out2.status, 'written');
  const prompt2 = llm2.calls[0]!.map((m) => m.content).join('\n');
  assert.ok(prompt2.includes('用户叫林，下个月去伦敦，需要买英标转换插头，喜欢乌龙茶。'), 'previous summary is in the prompt');
  assert.ok(prompt2.includes('我买好插头了'));
  assert.ok(!prompt2.includes('我喜欢喝乌龙茶'), 'turns already summarized are not fed again');
  await store.close();

  store = await openStore({ type: 'lmdb', path });
  mem = new DeviceMemory(store, { recentTurns: 2 });
  assert.equal((await mem.load(DEVICE)).summary, '用户叫林，下个月去伦敦，已经买好转换插头，喜欢乌龙茶。');
  await store.close();
});

test('a failing, empty or aborted summarizer keeps the old summary; turns stay for next time', T, async () => {
  const store = await openStore({ type: 'lmdb', path: freshPath() });
  const mem = new DeviceMemory(store, { recentTurns: 1 });
  await mem.saveTurn(DEVICE, { user: 'my name is Ana', assistant: 'Nice to meet you, Ana.' });
  assert.equal((await mem.summarize(DEVICE, summarizer(['The user is Ana.']))).status, 'written');

  await mem.saveTurn(DEVICE, { user: 'I have a cat called Miso', assistant: 'Cute!' });
  await mem.saveTurn(DEVICE, { user: 'I work nights', assistant: 'Noted.' });
  const failed = await mem.summarize(DEVICE, summarizer([new Error('upstream 503')]));
  assert.equal(failed.status, 'failed');
  assert.equal(failed.summary, 'The user is Ana.');
  const empty = await mem.summarize(DEVICE, summarizer(['   ']));
  assert.equal(empty.status, 'failed');
  // Aborted while the model is thinking (the session's signal fired).
  const ac = new AbortController();
  let started!: () => void;
  const inCall = new Promise<void>((r) => (started = r));
  const hanging: Complete = (_m, signal) =>
    new Promise((_r, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      started();
    });
  const pending = mem.summarize(DEVICE, hanging, { signal: ac.signal });
  await inCall;
  ac.abort(new Error('session gone'));
  assert.equal((await pending).status, 'failed');
  // Already aborted: the model is not even asked.
  const never = summarizer([]);
  assert.equal((await mem.summarize(DEVICE, never, { signal: ac.signal })).status, 'failed');
  assert.equal(never.calls.length, 0);
  assert.equal((await mem.load(DEVICE)).summary, 'The user is Ana.');

  // Both unsummarized turns are still there although recentTurns is 1, and the next try sees them.
  const retry = summarizer(['The user is Ana, has a cat called Miso and works nights.']);
  assert.equal((await mem.summarize(DEVICE, retry)).status, 'written');
  const asked = retry.calls[0]!.map((m) => m.content).join('\n');
  assert.ok(asked.includes('Miso') && asked.includes('nights') && asked.includes('The user is Ana.'));
  assert.ok(!asked.includes('my name is Ana'));
  const rec = await mem.load(DEVICE);
  assert.equal(rec.turns.length, 1, 'summarized turns beyond the recent window are dropped');
  // Nothing new: no model call.
  const idle = summarizer([]);
  assert.deepEqual(await mem.summarize(DEVICE, idle), { status: 'nothing-new', summary: rec.summary });
  assert.equal(idle.calls.length, 0);
  await store.close();
});

test('devices do not see each other’s memory; forget removes it', T, async () => {
  const store = await openStore({ type: 'memory' });
  const mem = new DeviceMemory(store);
  await mem.saveTurn('dev-a', { user: 'a', assistant: 'A' });
  await mem.saveTurn('dev-b', { user: 'b', assistant: 'B' });
  assert.deepEqual((await mem.load('dev-a')).turns.map((t) => t.user), ['a']);
  await mem.forget('dev-a');
  assert.equal((await mem.load('dev-a')).turns.length, 0);
  assert.equal((await mem.load('dev-b')).turns.length, 1);
  // Blank exchanges are not stored.
  await mem.saveTurn('dev-b', { user: '  ', assistant: '' });
  assert.equal((await mem.load('dev-b')).lastSeq, 1);
  await store.close();
});

test('the summary prompt and the cleanup of what models wrap summaries in', T, () => {
  const msgs = summaryPrompt('Old.', [{ user: 'u1', assistant: 'a1' }], null);
  assert.equal(msgs.length, 2);
  assert.equal(msgs[0]!.role, 'system');
  assert.match(msgs[0]!.content, /user's language/);
  assert.equal(msgs[1]!.content, 'Previous summary:\nOld.\n\nNew conversation:\nUser: u1\nAssistant: a1');
  assert.equal(cleanSummary('Summary: "The user likes tea."', 1000), 'The user likes tea.');
  assert.equal(cleanSummary('```\n摘要：用户喜欢茶。\n```', 1000), '用户喜欢茶。');
  assert.equal(cleanSummary('x'.repeat(50), 10), 'x'.repeat(10));
});
