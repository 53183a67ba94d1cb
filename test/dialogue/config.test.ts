// The proposed config keys: defaults, text forms of numbers (from ${VAR}), and refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dialogueSchema, toolsSchema } from '../../actors/dialogue/config.js';

const T = { timeout: 20_000 };

test('dialogue defaults follow the reference server (120 s idle, +60 s hard close, 2 s wake tail)', T, () => {
  const d = dialogueSchema.parse({});
  assert.equal(d.idle_farewell_s, 120);
  assert.equal(d.idle_close_s, 60);
  assert.equal(d.wake_tail_ms, 2000);
  assert.deepEqual(d.memory, { enabled: true, recent_turns: 6 });
  assert.ok(d.exit_phrases.includes('退出') && d.exit_phrases.includes('关闭'));
  assert.equal(d.timezone, null);
  assert.ok(d.activation_prompt.includes('{{code}}'));
});

test('numbers and flags written as text are accepted; bad values are refused', T, () => {
  const d = dialogueSchema.parse({ history_tokens: '4000', memory: { enabled: 'false', recent_turns: '3' }, timezone: 'Asia/Shanghai' });
  assert.equal(d.history_tokens, 4000);
  assert.deepEqual(d.memory, { enabled: false, recent_turns: 3 });
  assert.equal(dialogueSchema.safeParse({ timezone: 'Mars/Olympus' }).success, false);
  assert.equal(dialogueSchema.safeParse({ idle_farewel_s: 3 }).success, false, 'unknown keys are typos');
  assert.equal(dialogueSchema.safeParse({ history_tokens: 5 }).success, false);
});

test('tools: weather URL must hold {city}; voices as ids or objects', T, () => {
  const t = toolsSchema.parse({ weather: { url: 'https://api.example.com/w?city={city}&key={key}', key: 'k' }, voices: ['a', { id: 'b', name: 'Bea' }] });
  assert.equal(t.weather.timeout_ms, 5000);
  assert.deepEqual(t.voices, [
    { id: 'a', name: 'a', description: '' },
    { id: 'b', name: 'Bea', description: '' },
  ]);
  assert.equal(toolsSchema.parse({}).music.dir, null);
  assert.equal(toolsSchema.safeParse({ weather: { url: 'https://api.example.com/w' } }).success, false);
  assert.equal(toolsSchema.safeParse({ weather: { url: 'ftp://x/{city}' } }).success, false);
});
