// Device tools as function definitions for language-model vendors: safe names, the map back,
// collisions, user-only tools kept from the model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sanitizeToolName, toLlmTools } from '../../actors/mcp/tool-names.js';
import type { DeviceTool } from '../../actors/mcp/types.js';

const T = { timeout: 30_000 };
const VENDOR = /^[a-zA-Z0-9_-]{1,64}$/;

function tool(name: string, userOnly = false): DeviceTool {
  return { name, description: `does ${name}`, inputSchema: { type: 'object', properties: { v: { type: 'integer' } }, required: ['v'] }, userOnly };
}

test('dots become underscores and the reverse map leads back to the device name', T, () => {
  const r = toLlmTools([tool('self.audio_speaker.set_volume'), tool('self.get_device_status')]);
  assert.deepEqual(
    r.definitions.map((d) => d.name),
    ['self_audio_speaker_set_volume', 'self_get_device_status'],
  );
  assert.equal(r.toDevice.get('self_audio_speaker_set_volume'), 'self.audio_speaker.set_volume');
  assert.equal(r.toLlm.get('self.get_device_status'), 'self_get_device_status');
  assert.deepEqual(r.definitions[0], {
    name: 'self_audio_speaker_set_volume',
    description: 'does self.audio_speaker.set_volume',
    parameters: { type: 'object', properties: { v: { type: 'integer' } }, required: ['v'] },
  });
});

test('collisions are disambiguated; a name already valid keeps it', T, () => {
  const r = toLlmTools([tool('a.b'), tool('a_b'), tool('a:b'), tool('a b')]);
  assert.deepEqual([...r.toLlm], [
    ['a_b', 'a_b'],
    ['a.b', 'a_b_2'],
    ['a:b', 'a_b_3'],
    ['a b', 'a_b_4'],
  ]);
  for (const d of r.definitions) {
    assert.match(d.name, VENDOR);
    assert.equal(r.toLlm.get(r.toDevice.get(d.name)!), d.name, 'round trip');
  }
  assert.equal(new Set(r.definitions.map((d) => d.name)).size, 4);
});

test('long names are cut to 64 characters, suffixes included', T, () => {
  const long = `self.${'x'.repeat(70)}`;
  const r = toLlmTools([tool(long), tool(`${long}.y`)]);
  const names = r.definitions.map((d) => d.name);
  for (const n of names) assert.match(n, VENDOR);
  assert.equal(names[0]!.length, 64);
  assert.equal(names[1], `${names[0]!.slice(0, 62)}_2`);
  assert.equal(r.toDevice.get(names[1]!), `${long}.y`);
});

test('user-only tools are left out unless asked for', T, () => {
  const tools = [tool('self.get_device_status'), tool('self.reboot', true)];
  assert.deepEqual(toLlmTools(tools).definitions.map((d) => d.name), ['self_get_device_status']);
  assert.equal(toLlmTools(tools).toDevice.has('self_reboot'), false);
  assert.deepEqual(toLlmTools(tools, { includeUserOnly: true }).definitions.map((d) => d.name), ['self_get_device_status', 'self_reboot']);
});

test('reserved names (server functions) are avoided', T, () => {
  const r = toLlmTools([tool('get_time'), tool('self.get_time')], { reserved: ['get_time'] });
  assert.deepEqual(r.definitions.map((d) => d.name), ['get_time_2', 'self_get_time']);
  assert.equal(r.toDevice.get('get_time_2'), 'get_time');
});

test('a schema without properties is completed; the definition is a copy', T, () => {
  const t: DeviceTool = { name: 'self.x', description: '', inputSchema: { type: 'object' }, userOnly: false };
  const d = toLlmTools([t]).definitions[0]!;
  assert.deepEqual(d, { name: 'self_x', description: 'self.x', parameters: { type: 'object', properties: {} } });
  (d.parameters['properties'] as Record<string, unknown>)['y'] = 1;
  assert.deepEqual(t.inputSchema, { type: 'object' });
});

test('sanitizeToolName', T, () => {
  assert.equal(sanitizeToolName('self.audio_speaker.set_volume'), 'self_audio_speaker_set_volume');
  assert.equal(sanitizeToolName('音量'), '__');
  assert.equal(sanitizeToolName(''), 'tool');
});
