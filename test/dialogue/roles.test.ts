// Roles: config → roles, resolving a device's role through per-device and group entries, tool
// allow-lists, and the switch_role tool a user drives by voice through the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ToolRegistry, serverTools, type Tool } from '../../actors/tools/registry.js';
import { findRole, resolveDevice, rolesFrom, switchRoleTool, toolAllowed, type Role } from '../../actors/dialogue/roles.js';

const T = { timeout: 20_000 };
const VENDOR = /^[a-zA-Z0-9_-]{1,64}$/;
const ctx = { sessionId: 's1', deviceId: 'd1', signal: new AbortController().signal };

const roles = rolesFrom({
  default: { prompt: 'You are Xiaozhi, a friendly voice assistant. Keep replies short.', voice: null, language: null, tools: [] },
  teacher: { prompt: 'You are a patient English teacher. Correct mistakes gently.', voice: 'en-US-AriaNeural', language: 'en-US', tools: ['get_current_time', 'switch_role'] },
  storyteller: { prompt: 'You tell bedtime stories.', voice: 'zh-CN-XiaoxiaoNeural', language: 'zh-CN', tools: ['device', 'mcp:*'], description: 'tells bedtime stories' },
  老师: { prompt: '你是一位语文老师。', voice: null, language: 'zh-CN', tools: [] },
});

test('roles from config: description from config or the first sentence of the prompt', T, () => {
  assert.equal(roles.get('teacher')!.description, 'You are a patient English teacher.');
  assert.equal(roles.get('storyteller')!.description, 'tells bedtime stories');
  assert.equal(roles.get('老师')!.description, '你是一位语文老师。');
});

test('device resolution: exact id beats exact group member beats wildcard group; fields merge', T, () => {
  const devices = {
    kids: { match: ['aa:bb:*'], role: 'storyteller', voice: 'zh-CN-YunxiNeural' },
    classroom: { match: ['AA:BB:CC:00:00:01', 'aa:bb:cc:00:00:02'], role: 'teacher' },
    'aa:bb:cc:00:00:02': { language: 'en-GB', llm: 'fast' },
    broken: { match: ['zz:*'], role: 'no-such-role' },
  };
  const one = resolveDevice(roles, devices, 'aa:bb:cc:00:00:01');
  assert.equal(one.role.name, 'teacher');
  // Config about the device (even a wildcard group's voice) beats the role's own voice.
  assert.equal(one.voice, 'zh-CN-YunxiNeural');
  assert.equal(one.language, 'en-US');
  assert.deepEqual(one.matched, ['kids', 'classroom']);

  const two = resolveDevice(roles, devices, 'aa:bb:cc:00:00:02');
  assert.equal(two.role.name, 'teacher');
  assert.equal(two.language, 'en-GB');
  assert.equal(two.llm, 'fast');
  assert.deepEqual(two.matched, ['kids', 'classroom', 'aa:bb:cc:00:00:02']);

  const kid = resolveDevice(roles, devices, 'aa:bb:99:99:99:99');
  assert.equal(kid.role.name, 'storyteller');
  assert.equal(kid.language, 'zh-CN', "the role's language when the device sets none");

  const other = resolveDevice(roles, devices, '11:22:33:44:55:66');
  assert.equal(other.role.name, 'default');
  assert.equal(other.voice, null);
  assert.deepEqual(other.matched, []);

  // A role missing from config falls back to the default role rather than failing the session.
  assert.equal(resolveDevice(roles, devices, 'zz:00').role.name, 'default');
  // No roles at all still yields a usable (empty) role.
  assert.equal(resolveDevice(new Map(), {}, 'x').role.prompt, '');
});

test('tool allow-lists: empty allows all; names, globs and sources', T, () => {
  const tool = (name: string, source: string): Tool => ({ source, definition: { name, description: '', parameters: {} }, run: async () => ({ text: '', isError: false }) });
  const time = tool('get_current_time', 'server');
  const vol = tool('self_audio_speaker_set_volume', 'device');
  const ext = tool('search', 'mcp:web');
  const def = roles.get('default')!;
  const teacher = roles.get('teacher')!;
  const story = roles.get('storyteller')!;
  assert.ok([time, vol, ext].every((t) => toolAllowed(def, t)));
  assert.deepEqual([time, vol, ext].map((t) => toolAllowed(teacher, t)), [true, false, false]);
  assert.deepEqual([time, vol, ext].map((t) => toolAllowed(story, t)), [false, true, true]);
  assert.ok(toolAllowed({ tools: ['self_*'] }, vol));
  // What the session offers: the registry filtered by the role.
  const reg = new ToolRegistry();
  for (const t of [...serverTools(), vol, ext]) reg.add(t);
  assert.deepEqual(reg.definitions((t) => toolAllowed(teacher, t)).map((d) => d.name), ['get_current_time']);
});

test('findRole: names as a model or a user would say them', T, () => {
  assert.equal(findRole(roles, 'teacher')?.name, 'teacher');
  assert.equal(findRole(roles, 'Teacher role')?.name, 'teacher');
  assert.equal(findRole(roles, 'the storyteller')?.name, 'storyteller');
  assert.equal(findRole(roles, '老师角色')?.name, '老师');
  assert.equal(findRole(roles, 'story')?.name, 'storyteller');
  assert.equal(findRole(roles, 'pirate'), undefined);
  assert.equal(findRole(roles, ''), undefined);
});

test('switch_role: lists roles, switches through onSwitch, refuses unknown ones', T, async () => {
  let current = 'default';
  const switched: Role[] = [];
  const tool = switchRoleTool({
    roles,
    current: () => current,
    onSwitch: (r) => {
      switched.push(r);
      current = r.name;
    },
  });
  const def = tool.definition;
  assert.match(def.name, VENDOR);
  assert.equal(def.name, 'switch_role');
  for (const name of roles.keys()) assert.ok(def.description.includes(`"${name}"`), name);
  assert.ok(def.description.includes('tells bedtime stories'));
  assert.deepEqual((def.parameters['properties'] as { role: { enum: string[] } }).role.enum, ['default', 'teacher', 'storyteller', '老师']);

  // Through the registry, as the model's call arrives ("switch to the teacher role").
  const reg = new ToolRegistry();
  reg.add(tool);
  const r = await reg.call('switch_role', '{"role":"teacher"}', ctx);
  assert.equal(r.isError, false);
  assert.match(r.text, /Switched to the "teacher" role/);
  assert.deepEqual(switched.map((x) => x.name), ['teacher']);
  assert.equal(switched[0]!.voice, 'en-US-AriaNeural');

  const again = await reg.call('switch_role', '{"role":"Teacher"}', ctx);
  assert.match(again.text, /Already/);
  assert.equal(switched.length, 1);

  const bad = await reg.call('switch_role', '{"role":"pirate"}', ctx);
  assert.equal(bad.isError, true);
  assert.match(bad.text, /Available roles: default, teacher, storyteller, 老师/);
  const none = await reg.call('switch_role', '{}', ctx);
  assert.equal(none.isError, true);
  assert.equal(switched.length, 1);
});
