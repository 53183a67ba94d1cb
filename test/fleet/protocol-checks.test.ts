// What the simulated device demands of server messages (protocol.md §1, §4.2, §6.2) and how its
// MCP server answers like the firmware (§8): paging by reply size, errors without codes, and
// requests the firmware silently drops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServerText, helloAudio } from '../../bench/fleet/checks.js';
import { handleMcp, initialToolState, toolCatalog, BOARD } from '../../bench/fleet/mcp-device.js';
import { deviceMac, deviceUuid } from '../../bench/fleet/ids.js';
import { parseOptions, UsageError } from '../../bench/fleet/options.js';

const T = { timeout: 10_000 };
const kinds = (text: string) => parseServerText(text).problems.map((p) => p.kind);

test('server hello: transport must be the string "websocket", session_id present, no nulls', T, () => {
  assert.deepEqual(kinds('{"type":"hello","transport":"websocket","session_id":"s","audio_params":{"sample_rate":24000,"frame_duration":60}}'), []);
  assert.deepEqual(kinds('{"type":"hello","session_id":"s"}'), ['hello-missing-transport']);
  assert.deepEqual(kinds('{"type":"hello","transport":null,"session_id":"s"}'), ['hello-missing-transport']);
  assert.deepEqual(kinds('{"type":"hello","transport":"mqtt","session_id":"s"}'), ['hello-wrong-transport']);
  assert.deepEqual(kinds('{"type":"hello","transport":"websocket"}'), ['hello-missing-session-id']);
  assert.deepEqual(kinds('{"type":"hello","transport":"websocket","session_id":null}'), ['json-null']);
  assert.deepEqual(kinds('{"type":"hello","transport":"websocket","session_id":"s","audio_params":{"sample_rate":null}}'), ['json-null']);
  assert.deepEqual(kinds('{"type":"hello","transport":"websocket","session_id":"s","audio_params":{"frame_duration":"60"}}'), ['hello-bad-audio-params']);
  assert.deepEqual(helloAudio({ audio_params: { sample_rate: 16000 } }), { sampleRate: 16000, frameMs: 60 });
  assert.deepEqual(helloAudio({}), { sampleRate: 24000, frameMs: 60 }, 'the firmware keeps its defaults');
});

test('text frames: JSON objects with a string type; required strings present and never null', T, () => {
  assert.deepEqual(kinds('hello there'), ['non-json-text']);
  assert.deepEqual(kinds('[1,2]'), ['non-json-text']);
  assert.deepEqual(kinds('{"text":"x"}'), ['missing-type']);
  assert.deepEqual(kinds('{"type":null}'), ['json-null']);
  assert.deepEqual(kinds('{"type":"stt","text":"hi"}'), []);
  assert.deepEqual(kinds('{"type":"stt","text":null}'), ['json-null']);
  assert.deepEqual(kinds('{"type":"tts"}'), ['missing-field']);
  assert.deepEqual(kinds('{"type":"tts","state":"sentence_start"}'), ['missing-field']);
  assert.deepEqual(kinds('{"type":"tts","state":"sentence_start","text":null}'), ['json-null']);
  assert.deepEqual(kinds('{"type":"tts","state":"sentence_end"}'), [], 'unknown states are ignored by the device');
  assert.deepEqual(kinds('{"type":"llm","emotion":null}'), ['json-null']);
  assert.deepEqual(kinds('{"type":"alert","status":"a","message":"b"}'), ['missing-field']);
  assert.deepEqual(kinds('{"type":"mcp","payload":"{}"}'), ['missing-field']);
  assert.deepEqual(kinds('{"type":"tts","state":"start","session_id":null}'), ['json-null']);
  const unknown = parseServerText('{"type":"weather_push","anything":null}');
  assert.ok(unknown.ok && unknown.type === 'weather_push' && unknown.problems.length === 0, 'unknown types are legal');
});

test('MCP initialize and tools/call answer like the firmware', T, () => {
  const s = initialToolState();
  const tools = toolCatalog();
  const init = handleMcp({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { capabilities: {} } }, s, tools);
  assert.deepEqual(init, {
    kind: 'reply',
    method: 'initialize',
    payload: { jsonrpc: '2.0', id: 1, result: { protocolVersion: '2024-11-05', capabilities: { tools: {} }, serverInfo: { name: BOARD.name, version: BOARD.version } } },
  });
  const call = (name: string, args?: unknown) => handleMcp({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, ...(args === undefined ? {} : { arguments: args }) } }, s, tools);
  assert.deepEqual((call('self.audio_speaker.set_volume', { volume: 40 }) as any).payload.result, { content: [{ type: 'text', text: 'true' }], isError: false });
  const status = JSON.parse((call('self.get_device_status') as any).payload.result.content[0].text);
  assert.equal(status.audio_speaker.volume, 40);
  assert.deepEqual((call('self.audio_speaker.set_volume', { volume: 140 }) as any).payload.error, { message: 'Invalid value for argument: volume' });
  assert.deepEqual((call('self.audio_speaker.set_volume', { volume: '40' }) as any).payload.error, { message: 'Missing valid argument: volume' });
  assert.deepEqual((call('self.foo') as any).payload.error, { message: 'Unknown tool: self.foo' });
  assert.deepEqual((handleMcp({ jsonrpc: '2.0', id: 3, method: 'ping' }, s, tools) as any).payload.error, { message: 'Method not implemented: ping' });
});

test('MCP requests the firmware drops without a reply', T, () => {
  const s = initialToolState();
  const tools = toolCatalog();
  assert.deepEqual(handleMcp({ jsonrpc: '2.0', method: 'notifications/initialized' }, s, tools), { kind: 'notification' });
  assert.equal(handleMcp({ jsonrpc: '2.0', id: '1', method: 'initialize' }, s, tools).kind, 'ignored');
  assert.equal(handleMcp({ jsonrpc: '2.0', id: 1, method: 'initialize', params: [] }, s, tools).kind, 'ignored');
  assert.equal(handleMcp({ jsonrpc: '1.0', id: 1, method: 'initialize' }, s, tools).kind, 'ignored');
  assert.equal(handleMcp('{"jsonrpc":"2.0"}', s, tools).kind, 'ignored');
});

test('tools/list pages by reply size with the next tool name as cursor; user-only tools on request', T, () => {
  const s = initialToolState();
  const tools = toolCatalog(60);
  const names: string[] = [];
  let cursor = '';
  let pages = 0;
  for (;;) {
    const out = handleMcp({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { cursor } }, s, tools) as any;
    const result = out.payload.result;
    assert.ok(JSON.stringify(result).length <= 8000, 'a page fits the firmware buffer');
    names.push(...result.tools.map((t: { name: string }) => t.name));
    pages++;
    if (result.nextCursor === undefined) break;
    assert.equal(typeof result.nextCursor, 'string');
    cursor = result.nextCursor;
  }
  assert.ok(pages >= 2, `${pages} pages`);
  assert.equal(names.length, tools.filter((t) => !t.userOnly).length);
  assert.equal(new Set(names).size, names.length, 'no tool twice');
  assert.ok(!names.includes('self.reboot'));
  const withUser = handleMcp({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { withUserTools: true } }, s, toolCatalog()) as any;
  const reboot = withUser.payload.result.tools.find((t: { name: string }) => t.name === 'self.reboot');
  assert.deepEqual(reboot.annotations, { audience: ['user'] });
  const vol = withUser.payload.result.tools.find((t: { name: string }) => t.name === 'self.audio_speaker.set_volume');
  assert.deepEqual(vol.inputSchema, { type: 'object', properties: { volume: { type: 'integer', minimum: 0, maximum: 100 } }, required: ['volume'] });
  const bad = handleMcp({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { cursor: 'self.nope' } }, s, tools) as any;
  assert.ok(bad.payload.error.message.length > 0);
});

test('device identities: MAC and UUID formats, unique per index, stable per seed', T, () => {
  const macs = new Set<string>();
  const uuids = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const mac = deviceMac(1, i);
    const uuid = deviceUuid(1, i);
    assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(parseInt(mac.slice(0, 2), 16) & 3, 2, 'locally administered, unicast');
    assert.match(uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    macs.add(mac);
    uuids.add(uuid);
  }
  assert.equal(macs.size, 5000);
  assert.equal(uuids.size, 5000);
  assert.equal(deviceMac(1, 7), deviceMac(1, 7));
  assert.notEqual(deviceMac(1, 7), deviceMac(2, 7));
});

test('options: defaults per mode, strict validation', T, () => {
  const o = parseOptions(['--url', 'ws://h:1/x/', '--mode', 'ramp']);
  assert.ok(o !== 'help');
  assert.equal(o.devices, 2000);
  assert.equal(o.rampPerS, 2);
  assert.equal(o.durationS, 600);
  assert.equal(parseOptions(['-h']), 'help');
  assert.throws(() => parseOptions([]), UsageError);
  assert.throws(() => parseOptions(['--url', 'http://h/']), /expected ws: or wss:/);
  assert.throws(() => parseOptions(['--url', 'ws://h/', '--mode', 'chat']), /--mode chat/);
  assert.throws(() => parseOptions(['--url', 'ws://h/', '--protocol-version', '4']), /1, 2 or 3/);
  assert.throws(() => parseOptions(['--url', 'ws://h/', '--devices', '0']), /--devices 0/);
  assert.throws(() => parseOptions(['--url', 'ws://h/', '--bogus']), UsageError);
  assert.throws(() => parseOptions(['--url', 'ws://h/', '--token', 't', '--auth-off']), /contradict/);
});
