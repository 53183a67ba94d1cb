// System prompt templates: placeholders, sections, the role prompt inside the template, local
// time in a zone, device facts, memory; unknown placeholders visible on request, removed otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TEMPLATE, describeDevice, formatLocalTime, renderSystemPrompt, renderTemplate, type PromptContext } from '../../actors/dialogue/prompt.js';

const T = { timeout: 20_000 };
// 2024-03-14 01:26 UTC: 09:26 on a Thursday in Shanghai, still Wednesday evening in Los Angeles.
const NOW = Date.UTC(2024, 2, 14, 1, 26, 0);

const ctx: PromptContext = {
  assistantName: '小智',
  language: 'zh-CN',
  timezone: 'Asia/Shanghai',
  now: NOW,
  device: { board: 'esp32-s3-box3', firmware: '1.6.2', battery: 80.4, charging: true, volume: 70 },
  roleName: 'teacher',
  rolePrompt: 'You are {{assistant_name}}, a patient English teacher.',
  memory: 'The user is called Lin and is learning English for a trip to London in May.',
};

test('the default template renders name, language, time with zone, device, role and memory', T, () => {
  const r = renderSystemPrompt(ctx);
  assert.deepEqual(r.unknown, []);
  assert.equal(
    r.text,
    [
      'You are 小智, a patient English teacher.',
      '',
      'Your name is 小智. Answer in Chinese (China).',
      'Current local time: 2024-03-14 Thursday 09:26 (Asia/Shanghai, GMT+08:00).',
      'You are running on a device: board esp32-s3-box3, firmware 1.6.2, battery 80% (charging), volume 70%.',
      'What you remember about this user from earlier conversations:',
      'The user is called Lin and is learning English for a trip to London in May.',
    ].join('\n'),
  );
  // Same inputs, same output: nothing reads the real clock.
  assert.equal(renderSystemPrompt(ctx).text, r.text);
});

test('empty sections leave no dangling lines: no memory, no device facts, no language', T, () => {
  const r = renderSystemPrompt({ ...ctx, language: null, device: undefined, memory: '' });
  assert.equal(
    r.text,
    ['You are 小智, a patient English teacher.', '', 'Your name is 小智.', 'Current local time: 2024-03-14 Thursday 09:26 (Asia/Shanghai, GMT+08:00).'].join('\n'),
  );
  assert.ok(!r.text.includes('remember'));
  assert.ok(!/\n{3,}/.test(r.text));
});

test('local time follows the zone, including the date and weekday', T, () => {
  const la = formatLocalTime(NOW, 'America/Los_Angeles');
  assert.equal(la.datetime, '2024-03-13 Wednesday 18:26 (America/Los_Angeles, GMT-07:00)');
  assert.equal(formatLocalTime(NOW, 'UTC').datetime, '2024-03-14 Thursday 01:26 (UTC, GMT+00:00)');
  assert.equal(formatLocalTime(NOW, 'Asia/Shanghai').weekday, 'Thursday');
});

test('unknown placeholders: visible with keepUnknown, removed otherwise, reported either way', T, () => {
  const tpl = 'Hi {{assistant_name}}, the weather is {{weather}}. {{ mood }}';
  const kept = renderSystemPrompt({ ...ctx, rolePrompt: 'Role says {{nope}}.' }, `{{role_prompt}} ${tpl}`, { keepUnknown: true });
  assert.equal(kept.text, 'Role says {{nope}}. Hi 小智, the weather is {{weather}}. {{ mood }}');
  assert.deepEqual([...kept.unknown].sort(), ['mood', 'nope', 'weather']);
  const out = renderSystemPrompt({ ...ctx, rolePrompt: 'Role says {{nope}}.' }, `{{role_prompt}} ${tpl}`);
  assert.equal(out.text, 'Role says . Hi 小智, the weather is .');
  assert.deepEqual([...out.unknown].sort(), ['mood', 'nope', 'weather']);
});

test('values are inserted once: a memory holding {{placeholders}} is not expanded', T, () => {
  const r = renderSystemPrompt({ ...ctx, memory: 'User wrote {{assistant_name}} and {{#device}}x{{/device}}' });
  assert.ok(r.text.endsWith('User wrote {{assistant_name}} and {{#device}}x{{/device}}'));
  assert.deepEqual(r.unknown, []);
});

test('sections: rendered when the value is non-blank, nested sections and stray close tags', T, () => {
  const vars = { a: 'A', b: '', c: 'C' };
  assert.equal(renderTemplate('[{{#a}}a={{a}}{{#b}} b={{b}}{{/b}}{{/a}}]', vars).text, '[a=A]');
  assert.equal(renderTemplate('[{{#b}}{{a}}{{#c}}{{c}}{{/c}}{{/b}}]', vars).text, '[]');
  assert.equal(renderTemplate('{{#missing}}{{zzz}}{{/missing}}ok', vars).unknown.length, 0);
  assert.equal(renderTemplate('x{{/a}}y', vars).text, 'x{{/a}}y');
});

test('every variable the docs name is available to a custom template', T, () => {
  const tpl = '{{date}}|{{time}}|{{weekday}}|{{timezone}}|{{board}}|{{firmware}}|{{battery}}|{{volume}}|{{role}}|{{language}}';
  const r = renderSystemPrompt(ctx, tpl);
  assert.deepEqual(r.unknown, []);
  assert.equal(r.text, '2024-03-14|09:26|Thursday|Asia/Shanghai, GMT+08:00|esp32-s3-box3|1.6.2|80%|70%|teacher|zh-CN');
  assert.ok(DEFAULT_TEMPLATE.includes('{{role_prompt}}'));
});

test('device facts: only what is known', T, () => {
  assert.equal(describeDevice(undefined), '');
  assert.equal(describeDevice({}), '');
  assert.equal(describeDevice({ label: 'kitchen', battery: 15 }), 'named "kitchen", battery 15%');
});
