// tools/call against the simulator: results, error replies without `code`, timeouts on a
// simulated clock, late replies, closed sockets (protocol.md §8.4).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from '../../runtime/clock.js';
import { E, hasCode } from '../../runtime/errors.js';
import { MCP } from '../../actors/mcp/errors.js';
import { TINY_JPEG, type SimTool } from '../helpers/mcp-device.js';
import { wire } from './helpers.js';

const T = { timeout: 30_000 };

function failsWith(code: string, message?: string | RegExp) {
  return (e: unknown) => {
    const err = e as Error & { code?: unknown };
    assert.ok(hasCode(e, code), `expected ${code}, got ${String(err.code)}: ${err.message}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    return true;
  };
}

test('a successful call returns the single text item; set_volume changes the device', T, async () => {
  const w = wire();
  assert.deepEqual(await w.client.callTool('self.audio_speaker.set_volume', { volume: 40 }), { text: 'true', isError: false });
  assert.equal(w.sim.status.volume, 40);
  assert.deepEqual(w.sent[0], { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'self.audio_speaker.set_volume', arguments: { volume: 40 } } });
  assert.equal(w.sim.replies[0], '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"true"}],"isError":false}}');
  const status = await w.client.callTool('self.get_device_status');
  assert.equal(status.text, '{"audio_speaker":{"volume":40},"screen":{"brightness":80,"theme":"light"},"battery":{"level":85,"charging":false},"network":{"type":"wifi","ssid":"HomeWiFi","signal":"strong"}}');
});

test('the status text is exactly the one in protocol.md §8.3', T, async () => {
  const w = wire();
  const r = await w.client.callTool('self.get_device_status', {});
  assert.equal(r.text, '{"audio_speaker":{"volume":70},"screen":{"brightness":80,"theme":"light"},"battery":{"level":85,"charging":false},"network":{"type":"wifi","ssid":"HomeWiFi","signal":"strong"}}');
});

test('error replies without code become XZ_ERR_MCP_TOOL_FAILED with the device message', T, async () => {
  const w = wire();
  await assert.rejects(w.client.callTool('self.audio_speaker.set_volume', { volume: 150 }), failsWith(MCP.XZ_ERR_MCP_TOOL_FAILED, "Property 'volume': value 150 exceeds maximum 100"));
  await assert.rejects(w.client.callTool('self.audio_speaker.set_volume', { volume: -1 }), failsWith(MCP.XZ_ERR_MCP_TOOL_FAILED, "Property 'volume': value -1 is below minimum 0"));
  await assert.rejects(w.client.callTool('self.audio_speaker.set_volume', {}), failsWith(MCP.XZ_ERR_MCP_TOOL_FAILED, 'Missing valid argument: volume'));
  // A wrong JSON type counts as missing.
  await assert.rejects(w.client.callTool('self.screen.set_brightness', { brightness: '50' }), failsWith(MCP.XZ_ERR_MCP_TOOL_FAILED, 'Missing valid argument: brightness'));
  await assert.rejects(w.client.callTool('self.foo'), failsWith(MCP.XZ_ERR_MCP_TOOL_FAILED, 'Unknown tool: self.foo'));
  assert.equal(w.sim.replies.at(-1), '{"jsonrpc":"2.0","id":5,"error":{"message":"Unknown tool: self.foo"}}');
  assert.equal(w.sim.status.volume, 70, 'nothing applied');
  const err = await w.client.callTool('self.foo').catch((e: unknown) => e);
  assert.equal((err as { retryable: boolean }).retryable, false);
});

test('tool results: false, integers truncated, defaults applied, image described', T, async () => {
  const photo: SimTool = { name: 'self.board.snap', description: 'returns an image', call: () => ({ image: { mimeType: 'image/jpeg', data: TINY_JPEG } }) };
  const w = wire({ extraTools: [photo] });
  assert.deepEqual(await w.client.callTool('self.screen.set_theme', { theme: 'sepia' }), { text: 'false', isError: false });
  assert.deepEqual(await w.client.callTool('self.screen.set_brightness', { brightness: 33.9 }), { text: 'true', isError: false });
  assert.equal(w.sim.status.brightness, 33);
  assert.deepEqual(await w.client.callTool('self.board.snap'), { text: `[image: image/jpeg, ${TINY_JPEG.length} bytes]`, isError: false });
});

test('take_photo fails on the device when no vision URL was given', T, async () => {
  const w = wire();
  await w.client.initialize();
  await assert.rejects(w.client.callTool('self.camera.take_photo', { question: 'what is this?' }), failsWith(MCP.XZ_ERR_MCP_TOOL_FAILED, 'Image explain URL or token is not set'));
});

test('take_photo returns what the vision endpoint answered', T, async () => {
  const w = wire({ explain: async (q, v) => JSON.stringify({ success: true, q, url: v.url, token: v.token }) }, { visionUrl: 'http://x/vision', visionToken: 't' });
  await w.client.initialize();
  const r = await w.client.callTool('self.camera.take_photo', { question: 'what is this?' });
  assert.deepEqual(JSON.parse(r.text), { success: true, q: 'what is this?', url: 'http://x/vision', token: 't' });
});

test('no reply in time: XZ_ERR_MCP_TIMEOUT (not retryable); the late reply is dropped', T, async () => {
  const clock = new SimClock();
  const w = wire({ clock, delayMs: (m) => (m === 'tools/call' ? 45_000 : 0) }, { clock, callTimeoutMs: 30_000 });
  const call = w.client.callTool('self.audio_speaker.set_volume', { volume: 10 });
  const outcome = call.then(
    () => 'resolved',
    (e: unknown) => e,
  );
  await clock.advance(29_999);
  assert.equal(w.client.stats.timeouts, 0);
  await clock.advance(1);
  const err = (await outcome) as { code?: string; retryable?: boolean };
  assert.equal(err.code, MCP.XZ_ERR_MCP_TIMEOUT);
  assert.equal(err.retryable, false);
  // The device acted anyway, and its reply comes later: it finds nobody waiting.
  assert.equal(w.sim.status.volume, 10);
  await clock.advance(20_000);
  assert.equal(w.client.stats.late, 1);
  assert.equal(w.client.stats.replies, 0);
  // The channel still works; the next id is 2.
  const next = w.client.callTool('self.get_device_status', {}, { timeoutMs: 60_000 });
  await clock.advance(45_000);
  assert.equal((await next).isError, false);
  assert.equal(w.sent.at(-1)!['id'], 2);
});

test('a per-call timeout overrides the default', T, async () => {
  const clock = new SimClock();
  const w = wire({ clock, delayMs: Infinity }, { clock });
  const outcome = w.client.callTool('self.reboot', {}, { timeoutMs: 500 }).catch((e: unknown) => e);
  await clock.advance(500);
  assert.ok(hasCode(await outcome, MCP.XZ_ERR_MCP_TIMEOUT));
});

test('abort: the call fails with XZ_ERR_ABORTED at once and its reply is dropped', T, async () => {
  const clock = new SimClock();
  const w = wire({ clock, delayMs: 1000 }, { clock });
  const ac = new AbortController();
  const outcome = w.client.callTool('self.get_device_status', {}, { signal: ac.signal }).catch((e: unknown) => e);
  await clock.advance(10);
  ac.abort();
  assert.ok(hasCode(await outcome, E.XZ_ERR_ABORTED));
  await clock.advance(1000);
  assert.equal(w.client.stats.late, 1);
});

test('socket closed: calls in flight and later calls fail with XZ_ERR_MCP_CLOSED', T, async () => {
  const clock = new SimClock();
  const w = wire({ clock, delayMs: 1000 }, { clock });
  const a = w.client.callTool('self.get_device_status').catch((e: unknown) => e);
  const b = w.client.listTools().catch((e: unknown) => e);
  await clock.advance(10);
  w.client.close('socket closed (1006)');
  assert.ok(hasCode(await a, MCP.XZ_ERR_MCP_CLOSED));
  assert.ok(hasCode(await b, MCP.XZ_ERR_MCP_CLOSED));
  await assert.rejects(w.client.callTool('self.get_device_status'), failsWith(MCP.XZ_ERR_MCP_CLOSED));
  assert.equal(clock.pending, 2, 'only the two simulator replies wait: the client cancelled its timers');
});

test('a send that finds the socket closed fails at once with XZ_ERR_MCP_CLOSED', T, async () => {
  const w = wire();
  w.sim.disconnect();
  await assert.rejects(w.client.callTool('self.get_device_status'), failsWith(MCP.XZ_ERR_MCP_CLOSED));
  assert.equal(w.client.stats.sent, 1);
});

test('an error message with a quote breaks the firmware JSON: the reply never parses and the call times out', T, async () => {
  const clock = new SimClock();
  const w = wire({ clock }, { clock, callTimeoutMs: 1000 });
  const outcome = w.client.callTool('self."quoted"').catch((e: unknown) => e);
  await clock.advance(0);
  assert.equal(w.sim.replies[0], '{"jsonrpc":"2.0","id":1,"error":{"message":"Unknown tool: self."quoted""}}');
  assert.equal(w.sim.badJson, 1);
  await clock.advance(1000);
  assert.ok(hasCode(await outcome, MCP.XZ_ERR_MCP_TIMEOUT));
});

test('a result without content is XZ_ERR_MCP_BAD_REPLY', T, async () => {
  const w = wire({ delayMs: Infinity });
  const p = w.client.callTool('self.get_device_status').catch((e: unknown) => e);
  await new Promise((r) => setImmediate(r));
  w.client.receive({ jsonrpc: '2.0', id: 1, result: { isError: false } });
  assert.ok(hasCode(await p, MCP.XZ_ERR_MCP_BAD_REPLY));
});
