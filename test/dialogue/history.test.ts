// The history window: token estimates for CJK and Latin text, trimming oldest whole turns under a
// budget without separating tool calls from their results, and heardOnly after an interruption.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChatMessage } from '../../providers/contracts/llm.js';
import { History, estimateTokens, heardOnly, joinSentences, messageTokens, pairToolCalls, splitTurns } from '../../actors/dialogue/history.js';

const T = { timeout: 20_000 };
const user = (content: string): ChatMessage => ({ role: 'user', content });
const assistant = (content: string): ChatMessage => ({ role: 'assistant', content });

test('estimates: one token per CJK character, one per four Latin characters', T, () => {
  assert.equal(estimateTokens(''), 0);
  assert.equal(estimateTokens('你好小智'), 4);
  assert.equal(estimateTokens('abcd'), 1);
  assert.equal(estimateTokens('abcde'), 2);
  assert.equal(estimateTokens('hello world!'), 3);
  // Mixed: 3 CJK + "abc " (4 Latin → 1); full-width punctuation counts as CJK.
  assert.equal(estimateTokens('今天天abc '), 4);
  assert.equal(estimateTokens('好。'), 2);
  assert.equal(estimateTokens('こんにちは'), 5);
  assert.equal(estimateTokens('안녕'), 2);
  // Emoji is one code point, not two UTF-16 units.
  assert.equal(estimateTokens('😀😀😀😀'), 1);
  assert.equal(messageTokens(user('abcd')), 4 + 1);
  assert.equal(messageTokens({ role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'abcd', argsJson: '{}' }] }), 4 + 1 + 1 + 4);
});

test('the budget drops the oldest whole turns first and always keeps the newest', T, () => {
  // Each CJK turn: user 10 chars (14 tokens with overhead) + assistant 10 chars (14) = 28.
  const h = new History({ budgetTokens: 60 });
  for (let i = 0; i < 5; i++) {
    h.addUser(`第${i}个问题问题问题问`);
    h.addAssistant(`第${i}个回答回答回答回`);
  }
  assert.equal(h.tokens, 56);
  assert.deepEqual(
    h.messages.map((m) => m.content.slice(0, 2)),
    ['第3', '第3', '第4', '第4'],
  );
  // A newest turn bigger than the budget stays whole on its own.
  h.addUser('长'.repeat(200));
  assert.equal(h.length, 1);
  assert.ok(h.tokens > h.budget);
  h.addAssistant('ok');
  assert.equal(h.length, 2);
  // Lowering the budget trims at once.
  const g = new History({ budgetTokens: 1000 });
  for (let i = 0; i < 10; i++) g.push(user('a'.repeat(40)), assistant('b'.repeat(40)));
  assert.equal(g.length, 20);
  g.budget = 50;
  assert.equal(g.length, 2);
});

test('Latin text costs a quarter as much as CJK text of the same length', T, () => {
  const latin = new History({ budgetTokens: 200 });
  const cjk = new History({ budgetTokens: 200 });
  for (let i = 0; i < 20; i++) {
    latin.push(user('x'.repeat(40)), assistant('y'.repeat(40)));
    cjk.push(user('字'.repeat(40)), assistant('字'.repeat(40)));
  }
  // Latin turn = 2 × (4 + 10) = 28 → 7 turns; CJK turn = 2 × (4 + 40) = 88 → 2 turns.
  assert.equal(latin.length, 14);
  assert.equal(cjk.length, 4);
});

test('a tool-call message and its results go together, never split by the budget', T, () => {
  const h = new History({ budgetTokens: 10_000 });
  h.addUser('what is the volume');
  h.addToolRound([{ id: 'c1', name: 'self_get_device_status', argsJson: '{}' }], [{ id: 'c1', text: '{"volume":70}'.repeat(20) }]);
  h.addToolRound(
    [
      { id: 'c2', name: 'self_audio_speaker_set_volume', argsJson: '{"volume":50}' },
      { id: 'c3', name: 'get_current_time', argsJson: '{}' },
    ],
    [
      { id: 'c2', text: 'true' },
      { id: 'c3', text: 'Thursday' },
    ],
  );
  h.addAssistant('The volume was 70, now 50.');
  h.addUser('thanks');
  h.addAssistant('You are welcome.');
  const before = h.messages;
  assert.equal(splitTurns(before).length, 2);
  // Squeeze: the first turn (with both tool rounds) must go as a whole.
  h.budget = h.tokens - 1;
  assert.deepEqual(h.messages, [user('thanks'), assistant('You are welcome.')]);
  for (const m of before.filter((x) => x.role === 'tool')) assert.ok(before.some((a) => a.toolCalls?.some((c) => c.id === m.toolCallId)));
});

test('heardOnly: the reply becomes what the user heard; finished tool rounds stay', T, () => {
  const turn: ChatMessage[] = [
    user('turn the volume down and tell me a story'),
    { role: 'assistant', content: 'Sure.', toolCalls: [{ id: 'c1', name: 'set_volume', argsJson: '{"v":30}' }] },
    { role: 'tool', content: 'true', toolCallId: 'c1' },
    assistant('Done. Once upon a time there was a fox. The fox was very clever. It lived in a forest.'),
  ];
  assert.deepEqual(heardOnly(turn, ['Sure.', 'Done.', 'Once upon a time there was a fox.']), [
    turn[0],
    { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'set_volume', argsJson: '{"v":30}' }] },
    turn[2],
    assistant('Sure. Done. Once upon a time there was a fox.'),
  ]);
  // Nothing heard: no assistant text at all.
  assert.deepEqual(heardOnly([user('hi'), assistant('Hello there, how are you?')], []), [user('hi')]);
  // CJK sentences join without spaces.
  assert.deepEqual(heardOnly([user('讲个故事'), assistant('从前有座山。山里有座庙。庙里有个和尚。')], ['从前有座山。', '山里有座庙。']), [
    user('讲个故事'),
    assistant('从前有座山。山里有座庙。'),
  ]);
  assert.equal(joinSentences(['Hello.', '你好。', 'OK']), 'Hello.你好。OK');
});

test('interrupted while a tool ran: the unanswered call is dropped, answered ones kept', T, () => {
  const msgs: ChatMessage[] = [
    user('q'),
    {
      role: 'assistant',
      content: '',
      toolCalls: [
        { id: 'a', name: 'x', argsJson: '{}' },
        { id: 'b', name: 'y', argsJson: '{}' },
      ],
    },
    { role: 'tool', content: 'ok', toolCallId: 'a' },
    { role: 'assistant', content: 'Checking.', toolCalls: [{ id: 'c', name: 'z', argsJson: '{}' }] },
    { role: 'tool', content: 'orphan', toolCallId: 'zzz' },
  ];
  assert.deepEqual(pairToolCalls(msgs), [
    user('q'),
    { role: 'assistant', content: '', toolCalls: [{ id: 'a', name: 'x', argsJson: '{}' }] },
    { role: 'tool', content: 'ok', toolCallId: 'a' },
    assistant('Checking.'),
  ]);
  const h = new History({ budgetTokens: 1000 });
  h.push(user('earlier'), assistant('answer'), ...msgs);
  h.interrupted(['Checking.']);
  assert.deepEqual(h.messages, [
    user('earlier'),
    assistant('answer'),
    user('q'),
    { role: 'assistant', content: '', toolCalls: [{ id: 'a', name: 'x', argsJson: '{}' }] },
    { role: 'tool', content: 'ok', toolCallId: 'a' },
    assistant('Checking.'),
  ]);
});

test('History.interrupted replaces only the newest reply; lastExchange feeds memory', T, () => {
  const h = new History({ budgetTokens: 1000 });
  h.addUser('first');
  h.addAssistant('first answer');
  h.addUser('tell me a long story');
  h.addAssistant('Part one. Part two. Part three.');
  h.interrupted(['Part one.']);
  assert.deepEqual(h.messages, [user('first'), assistant('first answer'), user('tell me a long story'), assistant('Part one.')]);
  assert.deepEqual(h.lastExchange(), { user: 'tell me a long story', assistant: 'Part one.' });
  // Interrupted before the model finished: the heard part is appended.
  h.addUser('next');
  h.interrupted(['Half']);
  assert.deepEqual(h.messages.slice(-2), [user('next'), assistant('Half')]);
  // Interrupted before anything was heard: the question stays, unanswered.
  h.addUser('again');
  h.interrupted([]);
  assert.deepEqual(h.messages.slice(-1), [user('again')]);
  assert.equal(h.lastExchange(), undefined);
  // System messages are never part of the history; the returned array is a copy.
  h.push({ role: 'system', content: 'x' });
  assert.ok(h.messages.every((m) => m.role !== 'system'));
  h.messages.length = 0;
  assert.ok(h.length > 0);
});

test('seed starts from remembered turns and repairs loose tool messages', T, () => {
  const h = new History({ budgetTokens: 1000 });
  h.addUser('old');
  h.seed([{ role: 'tool', content: 'loose', toolCallId: 'x' }, user('remembered'), assistant('yes')]);
  assert.deepEqual(h.messages, [user('remembered'), assistant('yes')]);
});
