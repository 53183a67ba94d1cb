// The device MCP client against the firmware-faithful simulator: initialize, paging, user-only
// tools, id rules (protocol.md §8.1–8.3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../runtime/errors.js';
import { MCP } from '../../actors/mcp/errors.js';
import { parseVersion } from '../../actors/mcp/device-mcp.js';
import { lamps, type SimTool } from '../helpers/mcp-device.js';
import { lamp, wire } from './helpers.js';

const T = { timeout: 30_000 };

test('initialize sends the vision capability and clientInfo, learns board and firmware, then notifications/initialized', T, async () => {
  const w = wire({}, { visionUrl: 'http://127.0.0.1:8080/mcp/vision/explain', visionToken: 'tok-1', clientVersion: '0.1.0' });
  const info = await w.client.initialize();
  assert.deepEqual(info, { name: 'bread-compact-wifi', version: '2.4.2', protocolVersion: '2024-11-05' });
  assert.deepEqual(w.sent[0], {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2024-11-05',
      capabilities: { vision: { url: 'http://127.0.0.1:8080/mcp/vision/explain', token: 'tok-1' } },
      clientInfo: { name: 'xiaozhi-server', version: '0.1.0' },
    },
  });
  assert.deepEqual(w.sim.vision, { url: 'http://127.0.0.1:8080/mcp/vision/explain', token: 'tok-1' });
  assert.deepEqual(w.sent[1], { jsonrpc: '2.0', method: 'notifications/initialized' });
  // The firmware drops notifications without a reply.
  assert.equal(w.sim.replies.length, 1);
  assert.equal(w.sim.ignored.at(-1)?.why, 'notification');
  assert.equal(w.client.supportsUserTools, true);
});

test('without a vision URL the capabilities object is empty', T, async () => {
  const w = wire();
  await w.client.initialize();
  assert.deepEqual((w.sent[0]!['params'] as Record<string, unknown>)['capabilities'], {});
  assert.equal(w.sim.vision, undefined);
});

test('tools/list follows nextCursor over 3+ pages; cursors are tool names; ids count up', T, async () => {
  const w = wire({ extraTools: 60 });
  await w.client.initialize();
  const tools = await w.client.listTools();
  const lists = w.sent.filter((p) => p['method'] === 'tools/list');
  assert.ok(lists.length >= 3, `expected 3+ pages, got ${lists.length}`);
  assert.deepEqual(lists[0]!['params'], {});
  for (const p of lists.slice(1)) assert.match(String((p['params'] as Record<string, unknown>)['cursor']), /^self\.lamp_\d+\.set_state$/);
  // Every reply stayed within the firmware's budget, and only the last one lacks nextCursor.
  const pages = w.sim.replies.slice(1).map((r) => JSON.parse(r) as { result: { nextCursor?: string } });
  for (const r of w.sim.replies) assert.ok(Buffer.byteLength(r) <= 8000 + 40, `reply of ${Buffer.byteLength(r)} bytes`);
  assert.deepEqual(pages.map((p) => 'nextCursor' in p.result), [...pages.slice(1).map(() => true), false]);
  // Ids from 1 upward, one per request (the notification has none).
  assert.deepEqual(w.sent.filter((p) => 'id' in p).map((p) => p['id']), [1, ...lists.map((_, i) => i + 2)]);
  assert.equal(tools.length, 5 + 60, 'the five built-ins and 60 lamps, user-only tools not requested');
  assert.equal(tools[0]!.name, 'self.get_device_status');
  assert.equal(tools.at(-1)!.name, lamp(60));
  assert.deepEqual(tools[1], {
    name: 'self.audio_speaker.set_volume',
    description: 'Set the volume of the audio speaker. If the current volume is unknown, you must call `self.get_device_status` tool first and then call this tool.',
    inputSchema: { type: 'object', properties: { volume: { type: 'integer', minimum: 0, maximum: 100 } }, required: ['volume'] },
    userOnly: false,
  });
  assert.deepEqual(tools.find((t) => t.name === lamp(1))!.inputSchema, {
    type: 'object',
    properties: { on: { type: 'boolean' }, level: { type: 'integer', default: 50, minimum: 0, maximum: 100 } },
    required: ['on'],
  });
});

test('an error on a page after the first ends the list', T, async () => {
  const giant: SimTool = { name: 'self.giant', description: 'x'.repeat(9000) };
  const w = wire({ extraTools: [...lamps(30), giant, ...lamps(35).slice(30)] });
  const tools = await w.client.listTools();
  const last = JSON.parse(w.sim.replies.at(-1)!) as { error: { message: string } };
  assert.deepEqual(last.error, { message: 'Failed to add tool self.giant because of payload size limit' });
  assert.equal('code' in last.error, false, 'the firmware sends no code');
  assert.equal(tools.length, 5 + 30);
  assert.equal(tools.at(-1)!.name, lamp(30));
});

test('an error on the first page is a coded error carrying the device message', T, async () => {
  const w = wire({ pageBytes: 200 });
  await assert.rejects(w.client.listTools(), (e: unknown) => {
    const err = e as Error;
    assert.ok(hasCode(e, MCP.XZ_ERR_MCP_LIST_FAILED));
    assert.match(err.message, /Failed to add tool self\.get_device_status because of payload size limit/);
    return true;
  });
});

test('a cursor naming no tool, or only hidden tools left, gives an error instead of an empty page', T, async () => {
  const w = wire();
  w.sim.handle({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: { cursor: 'self.nothing' } });
  w.sim.handle({ jsonrpc: '2.0', id: 8, method: 'tools/list', params: { cursor: 'self.reboot' } });
  assert.deepEqual(w.sim.replies, [
    '{"jsonrpc":"2.0","id":7,"error":{"message":"Failed to add tool  because of payload size limit"}}',
    '{"jsonrpc":"2.0","id":8,"error":{"message":"Failed to add tool  because of payload size limit"}}',
  ]);
});

test('withUserTools is sent to FW ≥ 2.0 and user-only tools come back marked', T, async () => {
  const w = wire();
  await w.client.initialize();
  const tools = await w.client.listTools({ withUserTools: true });
  assert.deepEqual(w.sent.find((p) => p['method'] === 'tools/list')!['params'], { withUserTools: true });
  const user = tools.filter((t) => t.userOnly).map((t) => t.name);
  assert.deepEqual(user, ['self.get_system_info', 'self.reboot', 'self.upgrade_firmware', 'self.screen.get_info', 'self.screen.snapshot', 'self.screen.preview_image', 'self.assets.set_download_url']);
  assert.deepEqual(tools.find((t) => t.name === 'self.reboot')!.annotations, { audience: ['user'] });
  // The firmware's own quirk: the help text is the default, so url is not required.
  assert.deepEqual(tools.find((t) => t.name === 'self.upgrade_firmware')!.inputSchema, {
    type: 'object',
    properties: { url: { type: 'string', default: 'The URL of the firmware binary file to download and install' } },
  });
});

test('withUserTools is not sent to FW < 2.0', T, async () => {
  const w = wire({ version: '1.9.4' });
  await w.client.initialize();
  assert.equal(w.client.supportsUserTools, false);
  const tools = await w.client.listTools({ withUserTools: true });
  assert.deepEqual(w.sent.find((p) => p['method'] === 'tools/list')!['params'], {});
  assert.equal(tools.some((t) => t.userOnly), false);
});

test('unknown firmware version: a first page refused with withUserTools is retried without', T, async () => {
  const w = wire({ version: 'custom-build' });
  // A device that rejects the parameter (not the firmware, which ignores unknown params).
  const original = w.sim.handle.bind(w.sim);
  w.sim.handle = (p: unknown) => {
    const params = (p as { params?: Record<string, unknown> }).params;
    if (params?.['withUserTools'] === true) {
      const id = (p as { id: number }).id;
      setImmediate(() => w.client.receive({ jsonrpc: '2.0', id, error: { code: -32602, message: 'Invalid params' } }));
      return;
    }
    original(p);
  };
  await w.client.initialize();
  assert.equal(w.client.supportsUserTools, undefined);
  const tools = await w.client.listTools({ withUserTools: true });
  assert.equal(tools.length, 5);
  const lists = w.sent.filter((p) => p['method'] === 'tools/list').map((p) => p['params']);
  assert.deepEqual(lists, [{ withUserTools: true }, {}]);
  assert.equal(w.client.supportsUserTools, false, 'remembered for the next listing');
  await w.client.listTools({ withUserTools: true });
  assert.deepEqual(w.sent.filter((p) => p['method'] === 'tools/list').at(-1)!['params'], {});
});

test('duplicate tool names across pages are kept once', T, async () => {
  const dup: SimTool = { name: 'self.audio_speaker.set_volume', description: 'a board tool that reuses a built-in name' };
  const w = wire({ extraTools: [...lamps(40), dup] });
  const tools = await w.client.listTools();
  assert.equal(tools.filter((t) => t.name === 'self.audio_speaker.set_volume').length, 1);
});

test('replies are matched by numeric id only; string ids and bad shapes are ignored and counted', T, async () => {
  const w = wire({ delayMs: Infinity });
  const p = w.client.callTool('self.get_device_status');
  await new Promise((r) => setImmediate(r));
  w.client.receive({ jsonrpc: '2.0', id: '1', result: { content: [{ type: 'text', text: 'wrong' }], isError: false } });
  w.client.receive('{"jsonrpc":"2.0"}');
  w.client.receive({ jsonrpc: '2.0', id: 1 });
  w.client.receive({ jsonrpc: '1.0', id: 1, result: {} });
  assert.equal(w.client.stats.invalid, 4);
  w.client.receive({ jsonrpc: '2.0', id: 99, result: {} });
  assert.equal(w.client.stats.late, 1);
  w.client.receive({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'right' }], isError: false } });
  assert.deepEqual(await p, { text: 'right', isError: false });
});

test('the simulator answers only numeric ids, ignores notifications and bad params, and names unknown methods', T, async () => {
  const w = wire();
  w.sim.handle({ jsonrpc: '2.0', id: 'a', method: 'initialize' });
  w.sim.handle({ jsonrpc: '2.0', method: 'notifications/cancelled', id: 3 });
  w.sim.handle({ jsonrpc: '2.0', id: 4, method: 'tools/list', params: [] });
  w.sim.handle({ jsonrpc: '1.0', id: 5, method: 'initialize' });
  w.sim.handle({ jsonrpc: '2.0', id: 6, method: 'ping' });
  w.sim.handle({ jsonrpc: '2.0', id: 7.9, method: 'tools/call' });
  assert.deepEqual(w.sim.ignored.map((i) => i.why), ['Invalid id for method: initialize', 'notification', 'Invalid params for method: tools/list', 'Invalid JSONRPC version']);
  assert.deepEqual(w.sim.replies, ['{"jsonrpc":"2.0","id":6,"error":{"message":"Method not implemented: ping"}}', '{"jsonrpc":"2.0","id":7,"error":{"message":"Missing params"}}']);
});

test('parseVersion reads firmware versions', T, () => {
  assert.deepEqual(parseVersion('2.4.2'), { major: 2, minor: 4 });
  assert.deepEqual(parseVersion('v1.9.0-rc1'), { major: 1, minor: 9 });
  assert.equal(parseVersion('custom'), undefined);
  assert.equal(parseVersion(undefined), undefined);
});
