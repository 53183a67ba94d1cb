// Legacy IoT (protocol.md §9): descriptors become tools, calls become `iot` command messages,
// states answer iot_get_state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../runtime/clock.js';
import { hasCode } from '../../runtime/errors.js';
import { MCP } from '../../actors/mcp/errors.js';
import { IOT_STATE_TOOL, IotThings, type IotCommandMessage } from '../../actors/mcp/iot.js';
import { DeviceToolbox } from '../../actors/mcp/toolbox.js';
import { IotDeviceSim } from './iot-device.js';
import { testLog } from './helpers.js';

const T = { timeout: 30_000 };

/** What the session does with a device text frame: parse it and hand `iot` messages over. */
function feed(things: IotThings, frames: string[]): void {
  for (const f of frames) things.ingest(JSON.parse(f) as Record<string, unknown>);
}

function setup() {
  const device = new IotDeviceSim();
  const sent: string[] = [];
  const things = new IotThings({
    send: (m) => {
      const text = JSON.stringify(m);
      sent.push(text);
      device.apply(JSON.parse(text) as Record<string, unknown>);
    },
  });
  feed(things, device.openingMessages('S'));
  return { device, things, sent };
}

test('descriptors become one tool per method plus iot_get_state, with schemas from the parameters', T, () => {
  const { things } = setup();
  const tools = things.tools();
  assert.deepEqual(tools.map((t) => t.name), ['iot_Speaker_SetVolume', 'iot_Screen_SetTheme', 'iot_Screen_SetBrightness', IOT_STATE_TOOL]);
  assert.deepEqual(tools[0], {
    name: 'iot_Speaker_SetVolume',
    description: 'Set the audio volume (Speaker: The audio speaker of the device)',
    inputSchema: { type: 'object', properties: { volume: { type: 'integer', description: 'An integer between 0 and 100' } }, required: ['volume'] },
    userOnly: false,
  });
  assert.deepEqual(tools[1]!.inputSchema, {
    type: 'object',
    properties: { theme_name: { type: 'string', description: 'Valid string values are "light" and "dark"' } },
    required: ['theme_name'],
  });
});

test('a call sends the command message, byte for byte, and resolves with "ok"', T, async () => {
  const { device, things, sent } = setup();
  assert.deepEqual(await things.call('iot_Speaker_SetVolume', { volume: 50 }), { text: 'ok', isError: false });
  assert.deepEqual(sent, ['{"type":"iot","commands":[{"name":"Speaker","method":"SetVolume","parameters":{"volume":50}}]}']);
  assert.deepEqual(device.applied, [{ name: 'Speaker', method: 'SetVolume', parameters: { volume: 50 } }]);
  // Numbers go out as integers (the device reads valueint); quoted values from a model are accepted.
  await things.call('iot_Screen_SetBrightness', { brightness: '42.6' });
  await things.call('iot_Screen_SetTheme', { theme_name: 'dark' });
  assert.deepEqual(sent.slice(1), [
    '{"type":"iot","commands":[{"name":"Screen","method":"SetBrightness","parameters":{"brightness":43}}]}',
    '{"type":"iot","commands":[{"name":"Screen","method":"SetTheme","parameters":{"theme_name":"dark"}}]}',
  ]);
});

test('a missing parameter never reaches the device', T, async () => {
  const { things, sent } = setup();
  await assert.rejects(things.call('iot_Speaker_SetVolume', {}), (e: unknown) => hasCode(e, MCP.XZ_ERR_MCP_BAD_ARGUMENTS));
  await assert.rejects(things.call('iot_Speaker_SetVolume', { volume: 'loud' }), (e: unknown) => hasCode(e, MCP.XZ_ERR_MCP_BAD_ARGUMENTS));
  await assert.rejects(things.call('iot_Lamp_TurnOn', {}), (e: unknown) => hasCode(e, MCP.XZ_ERR_MCP_UNKNOWN_TOOL));
  assert.deepEqual(sent, []);
});

test('states are cached and read by iot_get_state; later updates replace a thing state', T, async () => {
  const { device, things } = setup();
  assert.deepEqual(JSON.parse((await things.call(IOT_STATE_TOOL)).text), { Speaker: { volume: 80 }, Screen: { theme: 'light', brightness: 75 } });
  device.things[0]!.state['volume'] = 30;
  feed(things, [device.statesMessage('S', [device.things[0]!])]);
  assert.deepEqual(await things.call(IOT_STATE_TOOL, { name: 'Speaker' }), { text: '{"Speaker":{"volume":30}}', isError: false });
  assert.deepEqual(await things.call(IOT_STATE_TOOL, { name: 'Fridge' }), { text: 'no state known for Fridge', isError: true });
});

test('a re-sent descriptor replaces the thing; malformed entries are ignored', T, () => {
  const { things } = setup();
  const changed = things.ingest({ type: 'iot', descriptors: [{ name: 'Speaker', description: 'new', methods: { Mute: { description: 'Mute', parameters: {} } } }, 'junk', { description: 'no name' }] });
  assert.equal(changed, true);
  assert.equal(things.ignored, 2);
  assert.deepEqual(things.tools().map((t) => t.name), ['iot_Screen_SetTheme', 'iot_Screen_SetBrightness', 'iot_Speaker_Mute', IOT_STATE_TOOL]);
  assert.deepEqual(things.tools()[2]!.inputSchema, { type: 'object', properties: {} });
  assert.equal(things.ingest({ type: 'iot', states: [{ name: 'Speaker', state: { volume: 1 } }] }), false, 'states alone do not change tools');
});

test('no descriptors, no tools', T, () => {
  const things = new IotThings({ send: () => undefined });
  assert.deepEqual(things.tools(), []);
  assert.equal(things.has(IOT_STATE_TOOL), false);
});

test('a closed socket fails the call with XZ_ERR_MCP_CLOSED', T, async () => {
  const things = new IotThings({ send: () => false });
  feed(things, new IotDeviceSim().openingMessages(''));
  await assert.rejects(things.call('iot_Speaker_SetVolume', { volume: 5 }), (e: unknown) => hasCode(e, MCP.XZ_ERR_MCP_CLOSED));
});

test('the toolbox offers IoT tools to the model and routes calls to the IoT bridge', T, async () => {
  const sent: IotCommandMessage[] = [];
  const { log } = testLog();
  const box = new DeviceToolbox({ deviceId: 'd', sendMcp: () => false, sendIot: (m) => void sent.push(m), clock: new SimClock(), log });
  const changes: string[] = [];
  box.onToolsChanged((_t, source) => changes.push(source));
  for (const f of new IotDeviceSim().openingMessages('S')) box.receiveIot(JSON.parse(f) as Record<string, unknown>);
  assert.deepEqual(changes, ['iot', 'iot'], 'one per descriptor message');
  const llm = box.llmTools();
  assert.deepEqual(llm.definitions.map((d) => d.name), ['iot_Speaker_SetVolume', 'iot_Screen_SetTheme', 'iot_Screen_SetBrightness', IOT_STATE_TOOL]);
  assert.deepEqual(await box.call(llm.toDevice.get('iot_Speaker_SetVolume')!, { volume: 20 }), { text: 'ok', isError: false });
  assert.deepEqual(sent, [{ type: 'iot', commands: [{ name: 'Speaker', method: 'SetVolume', parameters: { volume: 20 } }] }]);
});
