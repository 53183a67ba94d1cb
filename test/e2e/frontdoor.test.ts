// Through the real uWebSockets.js front door on 127.0.0.1: OTA hands out a token, the device
// connects with it (headers or browser query string), the hello exchange follows protocol.md §4,
// framing is chosen by the header → query → hello → 1 rule, and every kind of bad input gets a
// clear outcome while other sessions keep working.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { encodeDownlink } from '../../actors/frontdoor/framing.js';
import { issueToken } from '../../actors/frontdoor/token.js';
import { DEVICE, TestDevice, deviceHeaders } from '../helpers/device.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { OTA_BODY, OTA_HEADERS, firmwareRuleViolations } from '../frontdoor/helpers.js';

const T = { timeout: 30_000 };
const agent = new Agent({ keepAliveTimeout: 1000 });
after(() => agent.close());

async function ota(server: TestServer, body = OTA_BODY, headers = OTA_HEADERS, path = '/xiaozhi/ota/') {
  const { Host: _host, ...rest } = headers;
  const res = await request(`${server.httpUrl}${path}`, { method: 'POST', headers: rest, body, dispatcher: agent });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, any>) : undefined };
}

async function sessionsOf(server: TestServer): Promise<Record<string, any>[]> {
  const res = await request(`${server.httpUrl}/status/sessions`, { dispatcher: agent });
  return ((await res.body.json()) as { sessions: Record<string, any>[] }).sessions;
}

/** A fresh device that completed hello, to prove the server is still fine after something bad. */
async function healthyDevice(server: TestServer, id = '11:22:33:44:55:66'): Promise<void> {
  const r = await ota(server, OTA_BODY.replaceAll(DEVICE.id, id), { ...OTA_HEADERS, 'Device-Id': id });
  const dev = await TestDevice.connect(r.json!.websocket.url, { headers: { ...deviceHeaders(r.json!.websocket.token), 'Device-Id': id } });
  const hello = await dev.hello();
  assert.equal(hello['transport'], 'websocket');
  dev.sendJson({ type: 'ping' });
  await dev.nextJson('pong');
  dev.close();
}

test('OTA → token → hello with headers; the reply passes the firmware rules', T, async (t) => {
  const server = await startTestServer(t);
  const r = await ota(server);
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], '*');
  assert.deepEqual(firmwareRuleViolations(r.json), []);
  assert.equal(r.json!.firmware.version, '2.4.2');
  assert.equal(r.json!.firmware.url, '');
  assert.equal(r.json!.websocket.url, `ws://127.0.0.1:${server.wsPort}/xiaozhi/v1/`);
  assert.equal(r.json!.websocket.version, 1);
  assert.match(r.json!.websocket.token, /^[A-Za-z0-9_-]{43}\.\d+$/);
  assert.equal(r.json!.activation, undefined, 'activation is off by default');
  assert.ok(Math.abs(r.json!.server_time.timestamp - Date.now()) < 5000);

  const dev = await TestDevice.connect(r.json!.websocket.url, { headers: deviceHeaders(r.json!.websocket.token) });
  const hello = await dev.hello();
  assert.equal(hello['type'], 'hello');
  assert.equal(hello['transport'], 'websocket');
  assert.match(String(hello['session_id']), /^[0-9a-f-]{36}$/);
  assert.deepEqual(hello['audio_params'], { format: 'opus', sample_rate: 24000, channels: 1, frame_duration: 60 });
  const [s] = await sessionsOf(server);
  assert.equal(s!.deviceId, DEVICE.id);
  assert.equal(s!.sessionId, hello['session_id']);
  assert.equal(s!.framing, '1');
  dev.close();
  await dev.closed;

  // a registry entry was written by the OTA check
  const rec = await server.devices.get(DEVICE.id);
  assert.equal(rec?.boardType, 'bread-compact-wifi');
});

test('browser clients: identity and token in the query string; a minimal hello gets defaults', T, async (t) => {
  const server = await startTestServer(t);
  const token = (await ota(server)).json!.websocket.token as string;
  const dev = await TestDevice.connect(server.wsUrl, { query: { 'device-id': DEVICE.id.toUpperCase(), 'client-id': DEVICE.client, authorization: `Bearer ${token}` } });
  dev.sendJson({ type: 'hello' });
  const hello = await dev.nextJson('hello');
  assert.equal(hello['transport'], 'websocket');
  assert.deepEqual(hello['audio_params'], { format: 'opus', sample_rate: 24000, channels: 1, frame_duration: 60 });
  dev.close();
});

test('wrong, tampered, expired and missing tokens are refused at the upgrade with 401', T, async (t) => {
  const server = await startTestServer(t, { auth: { token_ttl_s: 60, allow_devices: ['de:ad:be:ef:00:01'] } });
  const good = (await ota(server)).json!.websocket.token as string;
  const secret = await server.devices.getOrCreateSecret();
  const expired = issueToken({ secret, deviceId: DEVICE.id, clientId: DEVICE.client, nowMs: Date.now() - 3600_000 });
  const otherDevice = issueToken({ secret, deviceId: '00:00:00:00:00:01', clientId: DEVICE.client, nowMs: Date.now() });
  for (const [why, token] of [
    ['tampered', good.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))],
    ['expired', expired],
    ['another device', otherDevice],
    ['missing', undefined],
  ] as const) {
    const err = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders(token) }).then(
      () => null,
      (e: { status?: number; body?: string }) => e,
    );
    assert.equal(err?.status, 401, why);
    assert.match(err!.body ?? '', /XZ_ERR_AUTH_TOKEN/, why);
  }
  // no device id at all: a clear 400
  const noId = await TestDevice.connect(server.wsUrl).then(() => null, (e: { status?: number; body?: string }) => e);
  assert.equal(noId?.status, 400);
  assert.match(noId!.body ?? '', /XZ_ERR_PROTO_NO_DEVICE_ID/);
  // the allow-list needs no token
  const allowed = await TestDevice.connect(server.wsUrl, { headers: { 'Device-Id': 'DE:AD:BE:EF:00:01', 'Client-Id': DEVICE.client } });
  await allowed.hello();
  allowed.close();
  await healthyDevice(server);
});

test('framing is chosen by header, then query, then hello.version, else 1; audio frames in it are accepted', T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' } });
  const cases: { name: string; opts: Parameters<typeof TestDevice.connect>[1]; helloVersion?: number; expect: string }[] = [
    { name: 'header 3 beats query 2 and hello 2', opts: { headers: { ...deviceHeaders(), 'Protocol-Version': '3' }, query: { 'protocol-version': '2' } }, helloVersion: 2, expect: '3' },
    { name: 'query 2 when no header', opts: { headers: { 'Device-Id': DEVICE.id, 'Client-Id': DEVICE.client }, query: { 'protocol-version': '2' } }, helloVersion: 3, expect: '2' },
    { name: 'hello 3 when neither', opts: { headers: { 'Device-Id': DEVICE.id, 'Client-Id': DEVICE.client } }, helloVersion: 3, expect: '3' },
    { name: 'default 1', opts: { headers: { 'Device-Id': DEVICE.id, 'Client-Id': DEVICE.client } }, expect: '1' },
  ];
  for (const c of cases) {
    const dev = await TestDevice.connect(server.wsUrl, c.opts);
    const hello = await dev.hello(c.helloVersion === undefined ? { version: undefined } : { version: c.helloVersion });
    const opus = new Uint8Array([0xf8, 0xff, 0xfe, 1, 2, 3, 4, 5]);
    const version = Number(c.expect) as 1 | 2 | 3;
    for (let i = 0; i < 5; i++) dev.sendBinary(encodeDownlink(version, opus, i * 60));
    dev.sendJson({ session_id: hello['session_id'], type: 'ping' });
    await dev.nextJson('pong');
    const s = (await sessionsOf(server)).find((x) => x.sessionId === hello['session_id'])!;
    assert.equal(s.framing, c.expect, c.name);
    assert.equal(s.audioIn, 5, `${c.name}: frames decoded in that framing`);
    assert.equal(s.badFrames, 0, c.name);
    dev.close();
    await dev.closed;
  }
  // an unsupported version is refused at the upgrade
  const bad = await TestDevice.connect(server.wsUrl, { headers: { ...deviceHeaders(), 'Protocol-Version': '4' } }).then(() => null, (e: { status?: number }) => e);
  assert.equal(bad?.status, 400);
});

test('a gateway-style connection uses the 16-byte bridge header', T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' } });
  const dev = await TestDevice.connect(`${server.wsUrl}?from=mqtt_gateway`, { headers: { 'device-id': DEVICE.id, 'client-id': DEVICE.client, 'protocol-version': '2' } });
  const hello = await dev.hello({ version: 2 });
  const opus = new Uint8Array([0xf8, 1, 2, 3]);
  const frame = new Uint8Array(16 + opus.length);
  new DataView(frame.buffer).setUint32(8, 1234);
  new DataView(frame.buffer).setUint32(12, opus.length);
  frame.set(opus, 16);
  for (let i = 0; i < 3; i++) dev.sendBinary(frame);
  dev.sendJson({ type: 'ping' });
  await dev.nextJson('pong');
  const s = (await sessionsOf(server)).find((x) => x.sessionId === hello['session_id'])!;
  assert.equal(s.framing, 'gateway');
  assert.equal(s.audioIn, 3);
  dev.close();
});

test('bad input: each has a clear outcome and other sessions keep working', T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, server: { max_payload_bytes: 4096, hello_timeout_ms: 400 } });
  const bystander = await TestDevice.connect(server.wsUrl, { headers: { ...deviceHeaders(), 'Device-Id': '01:01:01:01:01:01' } });
  await bystander.hello();

  // binary before hello (framing unknown): dropped, connection stays
  const early = await TestDevice.connect(server.wsUrl, { headers: { 'Device-Id': DEVICE.id, 'Client-Id': DEVICE.client } });
  early.sendBinary(new Uint8Array([1, 2, 3]));
  // malformed JSON, a JSON non-object, a message without type, an unknown type: ignored
  early.sendText('{not json');
  early.sendText('[1,2,3]');
  early.sendJson({ hello: 'no type' });
  const hello = await early.hello();
  early.sendJson({ session_id: hello['session_id'], type: 'teleport', to: 'mars' });
  early.sendBinary(new Uint8Array([0, 0, 0])); // garbage in v1 framing is still "an Opus packet" here; the codec judges it later
  early.sendJson({ type: 'ping' });
  await early.nextJson('pong');
  const s = (await sessionsOf(server)).find((x) => x.sessionId === hello['session_id'])!;
  assert.equal(s.badFrames, 1, 'binary before hello counted');
  assert.equal(s.badJson, 3, 'malformed JSON, non-object and type-less counted');
  assert.equal(s.unknownTypes, 1);
  const codes = server.logs().map((l) => l['code']);
  for (const c of ['XZ_ERR_PROTO_BINARY_BEFORE_HELLO', 'XZ_ERR_PROTO_BAD_JSON', 'XZ_ERR_PROTO_UNKNOWN_TYPE']) assert.ok(codes.includes(c), `${c} logged`);
  assert.equal(early.closeCode, undefined, 'still connected');

  // an oversized frame closes that connection only (1009)
  const big = await TestDevice.connect(server.wsUrl, { headers: { ...deviceHeaders(), 'Device-Id': '02:02:02:02:02:02' } });
  await big.hello();
  big.sendBinary(new Uint8Array(8192));
  assert.equal(await big.closed, 1009);

  // a device that never says hello is closed after hello_timeout_ms
  const silent = await TestDevice.connect(server.wsUrl, { headers: { ...deviceHeaders(), 'Device-Id': '03:03:03:03:03:03' } });
  const started = Date.now();
  assert.equal(await silent.closed, 4000);
  assert.ok(Date.now() - started >= 350);
  assert.match(silent.closeReason, /hello timeout/);

  // a device that vanishes without a close frame ends its session
  const vanisher = await TestDevice.connect(server.wsUrl, { headers: { ...deviceHeaders(), 'Device-Id': '04:04:04:04:04:04' } });
  await vanisher.hello();
  vanisher.drop();

  // the bystander never noticed
  bystander.sendJson({ type: 'ping' });
  await bystander.nextJson('pong');
  assert.equal(bystander.closeCode, undefined);
  for (let i = 0; i < 50 && (await sessionsOf(server)).length > 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual((await sessionsOf(server)).map((x) => x.deviceId).sort(), ['01:01:01:01:01:01', DEVICE.id]);
  await healthyDevice(server);
  early.close();
  bystander.close();
});

test('abort is always answered with tts stop; ping with pong', T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' } });
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello();
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
  dev.sendJson({ session_id: hello['session_id'], type: 'abort', reason: 'wake_word_detected' });
  const stop = await dev.nextJson('tts');
  assert.deepEqual(stop, { session_id: hello['session_id'], type: 'tts', state: 'stop' });
  dev.sendJson({ type: 'ping' });
  const pong = await dev.nextJson('pong');
  assert.equal(typeof pong['timestamp'], 'number');
  const [s] = await sessionsOf(server);
  assert.equal(s!.state, 'listening');
  dev.close();
});

test('firmware: a newer image for the board is offered and downloads with its length', T, async (t) => {
  const server = await startTestServer(t);
  const dir = server.config.server.firmware_dir;
  mkdirSync(dir, { recursive: true });
  const image = Buffer.alloc(300_000, 7);
  writeFileSync(join(dir, 'bread-compact-wifi_2.10.0.bin'), image);
  writeFileSync(join(dir, 'bread-compact-wifi_2.4.1.bin'), Buffer.alloc(10, 1));
  const r = await ota(server);
  assert.equal(r.json!.firmware.version, '2.10.0');
  assert.equal(r.json!.firmware.url, `http://127.0.0.1:${server.httpPort}/xiaozhi/ota/download/bread-compact-wifi_2.10.0.bin`);
  const dl = await request(r.json!.firmware.url, { dispatcher: agent });
  assert.equal(dl.statusCode, 200);
  assert.equal(dl.headers['content-length'], String(image.length));
  const got = Buffer.from(await dl.body.arrayBuffer());
  assert.ok(got.equals(image));
  const missing = await request(`${server.httpUrl}/xiaozhi/ota/download/..%2F..%2Fetc%2Fpasswd`, { dispatcher: agent });
  assert.equal(missing.statusCode, 404);
  await missing.body.dump();
  // CORS preflight for browser clients
  const pre = await request(`${server.httpUrl}/xiaozhi/ota/`, { method: 'OPTIONS', dispatcher: agent });
  assert.equal(pre.statusCode, 204);
  assert.match(String(pre.headers['access-control-allow-headers']), /device-id/);
  await pre.body.dump();
  // GET works too, and garbage bodies get a coded 400
  const bad = await ota(server, '{"application": 5');
  assert.equal(bad.status, 400);
  assert.match(bad.text, /XZ_ERR_OTA_BAD_REQUEST/);
});

test('health, readiness and status routes', T, async (t) => {
  const server = await startTestServer(t);
  const get = async (p: string) => {
    const res = await request(`${server.httpUrl}${p}`, { dispatcher: agent });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, any> };
  };
  assert.deepEqual(await get('/health'), { status: 200, json: { status: 'ok' } });
  assert.equal((await get('/ready')).status, 200);
  const st = await get('/status');
  assert.equal(st.json.accepting, true);
  assert.equal(typeof st.json.event_loop_ms.current.p99, 'number');
  const nf = await get('/nope');
  assert.equal(nf.status, 404);
  assert.equal(nf.json.error.code, 'XZ_ERR_HTTP_NOT_FOUND');
});
