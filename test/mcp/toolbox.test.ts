// Tool lists cached per device and firmware across reconnects: a reconnect gets them at once,
// a background re-list replaces them (protocol.md §8; issue 7 item 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../runtime/clock.js';
import { hasCode } from '../../runtime/errors.js';
import { MemoryStore } from '../../providers/store/memory.js';
import { MCP } from '../../actors/mcp/errors.js';
import { ToolCache } from '../../actors/mcp/tool-cache.js';
import { DeviceToolbox, parseToolArgs, type ToolsSource } from '../../actors/mcp/toolbox.js';
import { syncDeviceTools } from '../../actors/mcp/registry.js';
import { ToolRegistry, serverTools } from '../../actors/tools/registry.js';
import type { DeviceTool } from '../../actors/mcp/types.js';
import { McpDeviceSim, lamps, type McpDeviceOptions } from '../helpers/mcp-device.js';
import { testLog } from './helpers.js';

const T = { timeout: 30_000 };
const DEVICE = 'aa:bb:cc:dd:ee:ff';

/** One connection: a fresh simulator and toolbox over a shared cache, as after a reconnect. */
function connect(cache: ToolCache | undefined, sim: McpDeviceOptions, clock = new SimClock()) {
  const device = new McpDeviceSim({ ...sim, clock });
  const { log, lines } = testLog();
  const iotSent: unknown[] = [];
  let box: DeviceToolbox | undefined;
  const send = device.link((p) => box!.receiveMcp(p));
  box = new DeviceToolbox({ deviceId: DEVICE, sendMcp: send, sendIot: (m) => void iotSent.push(m), clock, log, cache, listTimeoutMs: 5000 });
  const changes: { source: ToolsSource; names: string[] }[] = [];
  box.onToolsChanged((tools, source) => changes.push({ source, names: tools.map((t) => t.name) }));
  return { device, box, clock, changes, lines, iotSent };
}

test('first connection lists and caches; a reconnect gets the cached list at once, then the refresh replaces it', T, async () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  const cache = new ToolCache(store);

  const first = connect(cache, { extraTools: 30 });
  await first.box.start();
  assert.equal(first.box.state, 'ready');
  assert.equal(first.changes.length, 1);
  assert.equal(first.changes[0]!.source, 'device');
  assert.equal(first.changes[0]!.names.length, 5 + 30 + 7, 'built-ins, lamps and (FW 2.4.2) user-only tools');
  await first.box.refreshed;
  const cached = await cache.get(DEVICE, '2.4.2');
  assert.equal(cached?.tools.length, 42);
  assert.equal(cached?.board, 'bread-compact-wifi');
  first.box.close();

  // Same firmware, but the board now has fewer lamps; tools/list replies are slow.
  const clock = new SimClock();
  const second = connect(cache, { extraTools: 10, delayMs: (m) => (m === 'tools/list' ? 2000 : 0) }, clock);
  await second.box.start();
  assert.deepEqual(second.changes.map((c) => c.source), ['cache']);
  assert.equal(second.box.tools().length, 42, 'the cached list, before any tools/list reply');
  assert.equal(second.device.received.filter((p) => (p as { method?: string }).method === 'tools/list').length, 1, 'refresh under way');
  await clock.advance(2000);
  await second.box.refreshed;
  assert.deepEqual(second.changes.map((c) => c.source), ['cache', 'device']);
  assert.equal(second.box.tools().length, 5 + 10 + 7);
  assert.equal(second.box.tools().some((t) => t.name === 'self.lamp_11.set_state'), false);
  assert.equal((await cache.get(DEVICE, '2.4.2'))?.tools.length, 22, 'cache replaced');
  await store.close();
});

test('an unchanged refresh does not announce anything new', T, async () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  const cache = new ToolCache(store);
  const a = connect(cache, {});
  await a.box.start();
  const b = connect(cache, {});
  await b.box.start();
  await b.box.refreshed;
  assert.deepEqual(b.changes.map((c) => c.source), ['cache']);
  await store.close();
});

test('another firmware version misses the cache', T, async () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  const cache = new ToolCache(store);
  await (connect(cache, { version: '2.4.2' }).box.start());
  const up = connect(cache, { version: '2.5.0' });
  await up.box.start();
  assert.deepEqual(up.changes.map((c) => c.source), ['device']);
  assert.ok(await cache.get(DEVICE, '2.5.0'));
  await store.close();
});

test('a failed refresh keeps the cached list', T, async () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  const cache = new ToolCache(store);
  await connect(cache, {}).box.start();
  const clock = new SimClock();
  const c = connect(cache, { delayMs: (m) => (m === 'tools/list' ? Infinity : 0) }, clock);
  await c.box.start();
  await clock.advance(5000);
  await c.box.refreshed;
  assert.equal(c.box.state, 'ready');
  assert.equal(c.box.tools().length, 12);
  assert.ok(c.lines.some((l) => l['msg'] === 'device tool refresh failed: keeping the cached list'));
  await store.close();
});

test('a damaged cache entry reads as a miss', T, async () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  await store.ns('mcp.tools').put(`${DEVICE}|2.4.2`, { tools: [{ name: 1 }], firmware: '2.4.2' });
  assert.equal(await new ToolCache(store).get(DEVICE, '2.4.2'), undefined);
  await store.close();
});

test('without MCP answers the toolbox fails quietly and the session goes on', T, async () => {
  const clock = new SimClock();
  const c = connect(undefined, { delayMs: Infinity }, clock);
  const started = c.box.start();
  await clock.advance(5000);
  await started;
  assert.equal(c.box.state, 'failed');
  assert.deepEqual(c.box.tools(), []);
  await assert.rejects(c.box.call('self.get_device_status'), (e: unknown) => hasCode(e, MCP.XZ_ERR_MCP_UNKNOWN_TOOL));
});

test('calls go through the toolbox by device name; the model sees safe names without user-only tools', T, async () => {
  const c = connect(undefined, { extraTools: lamps(2) });
  await c.box.start();
  const llm = c.box.llmTools();
  assert.ok(llm.definitions.some((d) => d.name === 'self_audio_speaker_set_volume'));
  assert.equal(llm.definitions.some((d) => d.name === 'self_reboot'), false);
  assert.equal(c.box.llmTools(), llm, 'memoized while the list is unchanged');
  const device = llm.toDevice.get('self_audio_speaker_set_volume')!;
  assert.deepEqual(await c.box.call(device, parseToolArgs('{"volume":55}')), { text: 'true', isError: false });
  assert.equal(c.device.status.volume, 55);
  c.box.close();
  assert.equal(c.box.state, 'closed');
  await assert.rejects(c.box.call(device, { volume: 1 }), (e: unknown) => hasCode(e, MCP.XZ_ERR_MCP_CLOSED));
});

test('parseToolArgs', T, () => {
  assert.deepEqual(parseToolArgs(''), {});
  assert.deepEqual(parseToolArgs('{"a":1}'), { a: 1 });
  for (const bad of ['[1]', '"x"', '{', 'null']) assert.throws(() => parseToolArgs(bad), (e: unknown) => hasCode(e, MCP.XZ_ERR_MCP_BAD_ARGUMENTS));
});

test('cached tools are plain data', T, async () => {
  const store = new MemoryStore({ sweepIntervalMs: 0 });
  const cache = new ToolCache(store);
  const tools: DeviceTool[] = [{ name: 'self.x', description: 'd', inputSchema: { type: 'object', properties: {} }, annotations: { audience: ['user'] }, userOnly: true }];
  await cache.put(DEVICE, '1.7.0', 'board', tools);
  assert.deepEqual((await cache.get(DEVICE, '1.7.0'))?.tools, tools);
  await cache.delete(DEVICE, '1.7.0');
  assert.equal(await cache.get(DEVICE, '1.7.0'), undefined);
  await store.close();
});

test('syncDeviceTools keeps the session registry in step with the device list', T, async () => {
  const registry = new ToolRegistry();
  for (const t of serverTools()) registry.add(t);
  // A board tool whose safe name collides with a server function.
  const clash = { name: 'get.current.time', description: 'the board clock', call: () => 'noon' };
  const c = connect(undefined, { extraTools: [clash] });
  const stop = syncDeviceTools(registry, c.box);
  assert.deepEqual(registry.definitions().map((d) => d.name), ['get_current_time']);
  await c.box.start();
  const names = registry.definitions().map((d) => d.name);
  assert.ok(names.includes('self_audio_speaker_set_volume'));
  assert.ok(names.includes('get_current_time_2'));
  assert.equal(names.includes('self_reboot'), false, 'user-only tools never reach the model');
  const ctx = { sessionId: 's', deviceId: DEVICE, signal: new AbortController().signal };
  assert.deepEqual(await registry.call('self_audio_speaker_set_volume', '{"volume":9}', ctx), { text: 'true', isError: false });
  assert.deepEqual(await registry.call('get_current_time_2', '', ctx), { text: 'noon', isError: false });
  assert.equal(c.device.status.volume, 9);
  // IoT descriptors arriving later join the same source.
  c.box.receiveIot({ type: 'iot', descriptors: [{ name: 'Lamp', description: 'a lamp', methods: { TurnOn: { description: 'on', parameters: {} } } }] });
  assert.ok(registry.definitions().some((d) => d.name === 'iot_Lamp_TurnOn'));
  stop();
});

test('devices listing the same tools share one frozen copy and one model view; a different list gets its own', T, async () => {
  const a = connect(undefined, { extraTools: 3 });
  const b = connect(undefined, { extraTools: 3 });
  const c = connect(undefined, { extraTools: 4 });
  await Promise.all([a.box.start(), b.box.start(), c.box.start()]);
  assert.equal(a.box.tools().length, 5 + 3 + 7);
  assert.equal(a.box.tools(), b.box.tools(), 'same content → the same array');
  assert.notEqual(a.box.tools(), c.box.tools());
  assert.ok(Object.isFrozen(a.box.tools()[0]!.inputSchema), 'shared lists cannot be changed by one session');
  assert.equal(a.box.llmTools(), b.box.llmTools(), 'one model-facing view per list');
  assert.notEqual(a.box.llmTools({ reserved: ['self_get_device_status'] }), a.box.llmTools());
  for (const x of [a, b, c]) x.box.close();
});
