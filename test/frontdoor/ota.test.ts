import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headersFrom } from '../../actors/frontdoor/identity.js';
import { buildOtaReply, checkPublicWsUrl, parseOtaRequest, type OtaReplyInputs, type OtaRequest } from '../../actors/frontdoor/ota.js';
import { indexImages, type FirmwareImage } from '../../actors/frontdoor/firmware.js';
import { compileTrustedProxies } from '../../actors/frontdoor/trusted-proxies.js';
import { issueToken, verifyToken } from '../../actors/frontdoor/token.js';
import { CLIENT_UUID, DEVICE_MAC, OTA_BODY, OTA_HEADERS, firmwareRuleViolations } from './helpers.js';

const T = { timeout: 10_000 };
const NOW = 1754640000123;

function deviceRequest(): OtaRequest {
  const r = parseOtaRequest(headersFrom(OTA_HEADERS), OTA_BODY);
  assert.ok(r.ok, !r.ok ? r.reason : '');
  return r.request;
}

function inputs(over: Partial<OtaReplyInputs> = {}): OtaReplyInputs {
  return {
    request: deviceRequest(),
    nowMs: NOW,
    timezoneOffsetMinutes: 480,
    origin: { host: '192.168.1.10', peerAddress: '192.168.1.23' },
    originOptions: { tls: false },
    websocket: { publicUrl: null, port: 8765, path: '/xiaozhi/v1/', token: 'tok', version: 1 },
    http: { publicUrl: null, port: 8080, downloadPath: '/xiaozhi/ota/download/' },
    bound: true,
    ...over,
  };
}

function reply(over: Partial<OtaReplyInputs> = {}) {
  const r = buildOtaReply(inputs(over));
  assert.ok(r.ok, !r.ok ? `${r.code}: ${r.reason}` : '');
  assert.deepEqual(firmwareRuleViolations(r.reply), []);
  return r.reply;
}

function image(board: string, version: string): FirmwareImage {
  return { board, version, file: `${board}_${version}.bin`, path: `/fw/${board}_${version}.bin`, size: 1234 };
}

test('parses the device request of §2.2', T, () => {
  assert.deepEqual(deviceRequest(), {
    deviceId: DEVICE_MAC,
    deviceIdIsMac: true,
    clientId: CLIENT_UUID,
    boardType: 'bread-compact-wifi',
    boardName: 'bread-compact-wifi',
    appVersion: '2.4.2',
    appName: 'xiaozhi',
    language: 'zh-CN',
    chipModel: 'esp32s3',
    elfSha256: 'ab'.repeat(32),
    flashSize: 16777216,
    minimumFreeHeap: 8318916,
    activationVersion: 1,
    serialNumber: undefined,
  });
});

test('request fields fall back to body, then User-Agent; bytes bodies decode', T, () => {
  const body = JSON.parse(OTA_BODY) as Record<string, unknown>;
  delete body.application;
  delete body.board;
  const r = parseOtaRequest(
    headersFrom({ 'User-Agent': 'esp-box-3/1.9.2', 'Activation-Version': '2', 'Serial-Number': 'S'.repeat(32) }),
    new TextEncoder().encode(JSON.stringify(body)),
  );
  assert.ok(r.ok);
  assert.equal(r.request.deviceId, DEVICE_MAC, 'from mac_address');
  assert.equal(r.request.clientId, CLIENT_UUID, 'from uuid');
  assert.equal(r.request.appVersion, '1.9.2');
  assert.equal(r.request.boardType, 'esp-box-3');
  assert.equal(r.request.activationVersion, 2);
  assert.equal(r.request.serialNumber, 'S'.repeat(32));
  const upper = parseOtaRequest(headersFrom({ 'Device-Id': 'AA-BB-CC-DD-EE-FF' }), '{"application":{"version":"1.0.0"}}');
  assert.equal(upper.ok && upper.request.deviceId, DEVICE_MAC);
});

test('garbage or incomplete requests are refused with XZ_ERR_OTA_BAD_REQUEST', T, () => {
  const h = headersFrom({ 'Device-Id': DEVICE_MAC });
  const cases: [ReturnType<typeof headersFrom>, string | Uint8Array | undefined][] = [
    [h, undefined],
    [h, ''],
    [h, 'not json'],
    [h, '[1,2]'],
    [h, 'null'],
    [h, '"str"'],
    [h, '{}'], // no version anywhere
    [h, '{"application":{"version":null}}'],
    [headersFrom({}), '{"application":{"version":"1.0.0"}}'], // no device anywhere
    [headersFrom({ 'Device-Id': 'bad|id' }), '{"application":{"version":"1.0.0"}}'],
    [h, new Uint8Array([0xff, 0xfe, 0x00])],
    [h, `{"application":{"version":"1"},"pad":"${'x'.repeat(70000)}"}`],
  ];
  for (const [get, body] of cases) {
    const r = parseOtaRequest(get, body);
    assert.equal(r.ok, false, String(body).slice(0, 50));
    assert.equal(!r.ok && r.code, 'XZ_ERR_OTA_BAD_REQUEST');
  }
});

test('reply for the §2.2 device: exact sections, no nulls, firmware rules hold', T, () => {
  assert.deepEqual(reply(), {
    server_time: { timestamp: NOW, timezone_offset: 480 },
    firmware: { version: '2.4.2', url: '' },
    websocket: { url: 'ws://192.168.1.10:8765/xiaozhi/v1/', token: 'tok', version: 1 },
  });
});

test('an OTA-issued token is accepted for the same device on the WebSocket', T, () => {
  const req = deviceRequest();
  const token = issueToken({ secret: 's3cret', deviceId: req.deviceId, clientId: req.clientId, nowMs: NOW });
  const r = reply({ websocket: { port: 8765, path: '/xiaozhi/v1/', token, version: 2 } });
  assert.equal(r.websocket.version, 2);
  const check = verifyToken(r.websocket.token, { secret: 's3cret', deviceId: DEVICE_MAC, clientId: CLIENT_UUID, nowMs: NOW + 5000, ttlSeconds: 60 });
  assert.equal(check.ok, true);
});

test('a configured public WebSocket URL is used verbatim', T, () => {
  const r = reply({ websocket: { publicUrl: 'wss://voice.example.com:443/xiaozhi/v1/?x=1', port: 8765, path: '/ignored', token: '', version: 3 } });
  assert.deepEqual(r.websocket, { url: 'wss://voice.example.com:443/xiaozhi/v1/?x=1', token: '', version: 3 });
});

test('public WebSocket URLs the firmware parser would misread are refused', T, () => {
  assert.equal(checkPublicWsUrl('wss://voice.example.com/xiaozhi/v1/'), undefined);
  assert.equal(checkPublicWsUrl('ws://10.0.0.2:8765/xiaozhi/v1/?a=b:c'), undefined);
  for (const bad of ['http://x.com/', 'ws://x.com', 'ws://x.com?a=1', 'ws://x.com/p?t=a:b', 'ws://x.com/ path', 'ws://user@x.com:80/', 'ws:///p', 'wss://[::1]/p']) {
    assert.equal(checkPublicWsUrl(bad)?.code, 'XZ_ERR_OTA_BAD_PUBLIC_URL', bad);
  }
  const r = buildOtaReply(inputs({ websocket: { publicUrl: 'ws://x.com', port: 1, path: '/', token: '', version: 1 } }));
  assert.equal(!r.ok && r.code, 'XZ_ERR_OTA_BAD_PUBLIC_URL');
});

test('a newer image for the board is offered with a download URL', T, () => {
  const index = indexImages([image('bread-compact-wifi', '2.4.10'), image('bread-compact-wifi', '2.4.3'), image('esp-box-3', '9.0.0')]);
  const r = reply({ firmware: index });
  assert.deepEqual(r.firmware, { version: '2.4.10', url: 'http://192.168.1.10:8080/xiaozhi/ota/download/bread-compact-wifi_2.4.10.bin' });
  const pub = reply({ firmware: index, http: { publicUrl: 'https://ota.example.com/base/', port: 8080, downloadPath: 'dl' } });
  assert.equal(pub.firmware.url, 'https://ota.example.com/base/dl/bread-compact-wifi_2.4.10.bin');
});

test('no newer image: the device version is echoed with an empty url', T, () => {
  for (const imgs of [[image('bread-compact-wifi', '2.4.2')], [image('bread-compact-wifi', '2.4.1')], [image('esp-box-3', '9.9.9')], []]) {
    assert.deepEqual(reply({ firmware: indexImages(imgs) }).firmware, { version: '2.4.2', url: '' });
  }
});

test('activation is sent only while unbound, with firmware-safe defaults', T, () => {
  const offer = { code: '482913', message: 'voice.example.com\n482913' };
  assert.deepEqual(reply({ bound: false, activation: offer }).activation, {
    code: '482913',
    message: 'voice.example.com\n482913',
    challenge: DEVICE_MAC,
    timeout_ms: 30000,
  });
  assert.equal('activation' in reply({ bound: true, activation: offer }), false);
  assert.deepEqual(reply({ bound: false, activation: { code: '000123' } }).activation, {
    code: '000123',
    message: '000123',
    challenge: DEVICE_MAC,
    timeout_ms: 30000,
  });
  for (const code of ['12a4', '', 123456 as unknown as string]) {
    const r = buildOtaReply(inputs({ bound: false, activation: { code } }));
    assert.equal(!r.ok && r.code, 'XZ_ERR_OTA_BAD_ACTIVATION', String(code));
  }
});

test('forwarded host/proto are honoured only from trusted proxies', T, () => {
  const proxies = compileTrustedProxies(['10.0.0.0/8', '::1']);
  assert.ok(proxies.ok);
  const opts = { tls: false, trustedProxies: proxies.matcher };
  const fwd = { host: '10.0.0.2:8080', forwardedHost: 'voice.example.com', forwardedProto: 'https' };
  const url = (origin: OtaReplyInputs['origin']) => reply({ origin, originOptions: opts }).websocket.url;

  assert.equal(url({ ...fwd, peerAddress: '10.1.2.3' }), 'wss://voice.example.com:443/xiaozhi/v1/');
  assert.equal(url({ ...fwd, peerAddress: '::ffff:10.1.2.3' }), 'wss://voice.example.com:443/xiaozhi/v1/');
  assert.equal(url({ ...fwd, peerAddress: '::1' }), 'wss://voice.example.com:443/xiaozhi/v1/');
  // Untrusted peers: headers ignored, Host and our own port used.
  assert.equal(url({ ...fwd, peerAddress: '203.0.113.9' }), 'ws://10.0.0.2:8765/xiaozhi/v1/');
  assert.equal(reply({ origin: { ...fwd, peerAddress: '10.1.2.3' } }).websocket.url, 'ws://10.0.0.2:8765/xiaozhi/v1/', 'no trusted list');

  assert.equal(url({ ...fwd, forwardedHost: 'voice.example.com:8443', peerAddress: '10.0.0.1' }), 'wss://voice.example.com:8443/xiaozhi/v1/');
  assert.equal(url({ ...fwd, forwardedPort: '9443', peerAddress: '10.0.0.1' }), 'wss://voice.example.com:9443/xiaozhi/v1/');
  assert.equal(url({ ...fwd, forwardedHost: 'a.example.com, proxy.internal', forwardedProto: 'https, http', peerAddress: '10.0.0.1' }), 'wss://a.example.com:443/xiaozhi/v1/');
  assert.equal(url({ host: 'voice.example.com', forwardedProto: 'http', peerAddress: '10.0.0.1' }), 'ws://voice.example.com:80/xiaozhi/v1/');
  // A forwarded host we would not hand to a device falls back to Host.
  assert.equal(url({ ...fwd, forwardedHost: 'evil.com/path', peerAddress: '10.0.0.1' }), 'wss://10.0.0.2:8080/xiaozhi/v1/');
});

test('forwarded origin also shapes the firmware download URL', T, () => {
  const proxies = compileTrustedProxies(['127.0.0.1']);
  assert.ok(proxies.ok);
  const r = reply({
    firmware: indexImages([image('bread-compact-wifi', '3.0.0')]),
    origin: { host: 'localhost:8080', peerAddress: '127.0.0.1', forwardedHost: 'ota.example.com', forwardedProto: 'https' },
    originOptions: { tls: false, trustedProxies: proxies.matcher },
  });
  assert.equal(r.firmware.url, 'https://ota.example.com:443/xiaozhi/ota/download/bread-compact-wifi_3.0.0.bin');
  assert.equal(r.websocket.url, 'wss://ota.example.com:443/xiaozhi/v1/');
});

test('TLS, Host with a port, and the fallback host', T, () => {
  assert.equal(reply({ originOptions: { tls: true } }).websocket.url, 'wss://192.168.1.10:8765/xiaozhi/v1/');
  assert.equal(reply({ origin: { host: 'Voice.Example.com:8080', peerAddress: '1.2.3.4' } }).websocket.url, 'ws://voice.example.com:8765/xiaozhi/v1/');
  assert.equal(
    reply({ origin: { host: undefined, peerAddress: '1.2.3.4' }, originOptions: { tls: false, fallbackHost: '10.9.8.7' } }).websocket.url,
    'ws://10.9.8.7:8765/xiaozhi/v1/',
  );
  assert.equal(reply({ origin: { host: 'bad host', peerAddress: '1.2.3.4' }, originOptions: { tls: false, fallbackHost: 'lan.box' } }).websocket.url, 'ws://lan.box:8765/xiaozhi/v1/');
  for (const host of [undefined, '', 'a b', 'x.com/evil', 'x.com:99999', '[::1']) {
    const r = buildOtaReply(inputs({ origin: { host, peerAddress: '1.2.3.4' } }));
    assert.equal(!r.ok && r.code, 'XZ_ERR_OTA_NO_HOST', String(host));
  }
});

test('the firmware rules checker itself catches what breaks devices', T, () => {
  const good = reply();
  const bad = (mut: (r: Record<string, any>) => void) => {
    const r = JSON.parse(JSON.stringify(good)) as Record<string, any>;
    mut(r);
    return firmwareRuleViolations(r);
  };
  assert.notDeepEqual(bad((r) => (r.websocket.token = null)), []);
  assert.notDeepEqual(bad((r) => (r.firmware.url = null)), []);
  assert.notDeepEqual(bad((r) => delete r.firmware), []);
  assert.notDeepEqual(bad((r) => (r.firmware.version = '2.4.2-beta')), []);
  assert.notDeepEqual(bad((r) => (r.websocket.url = 'ws://host/xiaozhi/v1/')), []);
  assert.notDeepEqual(bad((r) => (r.websocket.version = '1')), []);
  assert.notDeepEqual(bad((r) => (r.mqtt = { endpoint: 'x' })), []);
  assert.notDeepEqual(bad((r) => (r.activation = { code: 123456, message: 'm', challenge: 'c', timeout_ms: 1 })), []);
});
