// Pins how model text becomes speech: the first segment is cut early (at a pause mark once a few
// words long), later ones at sentence ends; decimals and abbreviations are not sentence ends;
// markdown and emoji never reach the TTS, and the first emoji becomes the device emotion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SentenceSplitter, firstEmotion, joinPieces, speakable, type Piece } from '../../actors/think/sentences.js';

const T = { timeout: 10_000 };

function run(deltas: string[]): string[] {
  const s = new SentenceSplitter();
  const out: string[] = [];
  for (const d of deltas) out.push(...s.push(d));
  out.push(...s.flush());
  return out;
}

test('the first segment ends at a comma once it has a few words; later ones at sentence ends', T, () => {
  assert.deepEqual(run(['Sure, ', 'the weather today', ' is sunny, with a high', ' of 26 degrees. Bring ', 'sunglasses!']), [
    'Sure, the weather today is sunny,',
    'with a high of 26 degrees.',
    'Bring sunglasses!',
  ]);
});

test('Chinese: first segment at the first pause mark, then at 。！？', T, () => {
  assert.deepEqual(run(['今天天气', '很好，最高气温', '二十六度。明天', '会下雨吗？会的']), ['今天天气很好，', '最高气温二十六度。', '明天会下雨吗？', '会的']);
});

test('segments come out as soon as their boundary arrives, not at the end', T, () => {
  const s = new SentenceSplitter();
  assert.deepEqual(s.push('Hello there, '), ['Hello there,']);
  assert.deepEqual(s.push('how are'), []);
  assert.deepEqual(s.push(' you? I'), ['how are you?']);
  assert.deepEqual(s.flush(), ['I']);
});

test('decimals, versions and abbreviations do not end a sentence', T, () => {
  assert.deepEqual(run(['It costs 3.', '14 dollars, e.g. at v2.4 prices. Dr. Smith agrees.']), ['It costs 3.14 dollars,', 'e.g. at v2.4 prices.', 'Dr. Smith agrees.']);
});

test('a long first run without punctuation is cut at a space', T, () => {
  const out = run(['one two three four five six seven eight nine ten eleven twelve thirteen']);
  assert.ok(out.length >= 2, JSON.stringify(out));
  assert.equal(out.join(' '), 'one two three four five six seven eight nine ten eleven twelve thirteen');
});

test('markdown and emoji are not spoken; the first emoji is the emotion', T, () => {
  const s = new SentenceSplitter();
  const out = [...s.push('😂 **Great** question! Here is a [link](http://x.y) and `code`.\n- item one\n'), ...s.flush()];
  assert.deepEqual(out, ['Great question!', 'Here is a link and code.', 'item one']);
  assert.equal(s.emotion, 'laughing');
  assert.equal(speakable('## Title 🎉'), 'Title');
  assert.equal(firstEmotion('no emoji here'), undefined);
  assert.equal(firstEmotion('好的😊'), 'happy');
  assert.equal(firstEmotion('🦄 unicorn'), 'happy', 'an emoji without a name still shows a face');
});

test('nothing speakable yields nothing', T, () => {
  assert.deepEqual(run(['😊', '  ', '**']), []);
});

function pieces(text: string, step = 3): Piece[] {
  const s = new SentenceSplitter();
  const out: Piece[] = [];
  for (let i = 0; i < text.length; i += step) out.push(...s.pushPieces(text.slice(i, i + step)));
  return [...out, ...s.flushPieces()];
}

test('pieces for a text-streaming TTS: cut at pause marks, each marked with whether it ends its sentence', { timeout: 5000 }, () => {
  assert.deepEqual(pieces('你好，我是小智，今天天气很好。我们去公园玩吧！好的'), [
    { text: '你好，我是小智，', end: false },
    { text: '今天天气很好。', end: true },
    { text: '我们去公园玩吧！', end: true },
    { text: '好的', end: true },
  ]);
  assert.deepEqual(pieces('Pi is 3.14, roughly. Dr. Who said so, twice.'), [
    { text: 'Pi is 3.14,', end: false },
    { text: 'roughly.', end: true },
    { text: 'Dr. Who said so,', end: false },
    { text: 'twice.', end: true },
  ]);
  // Markup around the closing mark leaves an empty closing piece, so the sentence still ends.
  const s = new SentenceSplitter();
  const got = [...s.pushPieces('Hello there, my friend, **'), ...s.pushPieces('**. Next')];
  assert.deepEqual(got.at(-1), { text: '', end: true });
  assert.equal(joinPieces(['Hello there,', 'my friend']), 'Hello there, my friend');
  assert.equal(joinPieces(['你好，', '世界。']), '你好，世界。');
});
