import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildServerHello,
  encodeServerHello,
  newSessionId,
  parseClientHello,
  type ClientHello,
} from '../../actors/frontdoor/hello.js';
import { selectVersion } from '../../actors/frontdoor/framing.js';
import { hasCode } from '../../runtime/errors.js';
import { nullPaths } from './helpers.js';

const T = { timeout: 10_000 };

function hello(text: unknown): ClientHello {
  const r = parseClientHello(text);
  assert.ok(r.ok, !r.ok ? `${r.code}: ${r.reason}` : '');
  return r.hello;
}

const UPLINK = { format: 'opus', sampleRate: 16000, channels: 1, frameDurationMs: 60 };

test('FW 1.6.0 hello: no features object', T, () => {
  const h = hello(
    '{"type":"hello","version":1,"transport":"websocket","audio_params":{"format":"opus","sample_rate":16000,"channels":1,"frame_duration":60}}',
  );
  assert.deepEqual(h, {
    version: 1,
    transport: 'websocket',
    hasFeatures: false,
    features: { mcp: false, aec: false, glyphPush: false },
    textFont: undefined,
    audioParams: UPLINK,
  });
});

test('current hello with features and text_font (§4.1 example)', T, () => {
  const h = hello(`{
    "type": "hello",
    "version": 1,
    "features": { "aec": true, "mcp": true, "glyph_push": true },
    "text_font": { "bundle": "noto-v1", "charset": "common", "size": 20, "bpp": 4 },
    "transport": "websocket",
    "audio_params": { "format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 60 }
  }`);
  assert.deepEqual(h, {
    version: 1,
    transport: 'websocket',
    hasFeatures: true,
    features: { mcp: true, aec: true, glyphPush: true },
    textFont: { bundle: 'noto-v1', charset: 'common', size: 20, bpp: 4 },
    audioParams: UPLINK,
  });
});

test('gateway bridge hello: version 2 and features forwarded (§10.8)', T, () => {
  const h = hello({
    type: 'hello',
    version: 2,
    transport: 'websocket',
    audio_params: { format: 'opus', sample_rate: 16000, channels: 1, frame_duration: 60 },
    features: { mcp: true },
  });
  assert.equal(h.version, 2);
  assert.deepEqual(h.features, { mcp: true, aec: false, glyphPush: false });
  const v = selectVersion({ hello: h.version, fromGateway: true });
  assert.deepEqual(v, { ok: true, version: 2, framing: 'gateway', source: 'hello' });
});

test('minimal browser hello gets the firmware defaults', T, () => {
  const h = hello('{"type":"hello"}');
  assert.deepEqual(h, {
    version: undefined,
    transport: 'websocket',
    hasFeatures: false,
    features: { mcp: false, aec: false, glyphPush: false },
    textFont: undefined,
    audioParams: UPLINK,
  });
  assert.deepEqual(selectVersion({ hello: h.version }), { ok: true, version: 1, framing: 1, source: 'default' });
});

test('sloppy fields fall back field by field', T, () => {
  const h = hello({
    type: 'hello',
    version: '3',
    transport: 42,
    features: { mcp: 1, aec: 'true', glyph_push: false },
    text_font: { bundle: 'x', charset: 'basic', size: 20, bpp: 4 },
    audio_params: { format: 'OPUS', sample_rate: 44100, channels: 3, frame_duration: 7 },
  });
  assert.equal(h.version, 3);
  assert.equal(h.transport, 'websocket');
  assert.deepEqual(h.features, { mcp: true, aec: true, glyphPush: false });
  assert.equal(h.textFont, undefined, 'no glyph push, no font');
  assert.deepEqual(h.audioParams, UPLINK);
  const partialFont = hello({ type: 'hello', features: { glyph_push: true }, text_font: { bundle: 'x' } });
  assert.equal(partialFont.textFont, undefined);
  const stereo = hello({ type: 'hello', audio_params: { sample_rate: 24000, channels: 2, frame_duration: 20 } });
  assert.deepEqual(stereo.audioParams, { format: 'opus', sampleRate: 24000, channels: 2, frameDurationMs: 20 });
});

test('an unsupported numeric version is kept for selectVersion to refuse', T, () => {
  const h = hello('{"type":"hello","version":9}');
  assert.equal(h.version, 9);
  const v = selectVersion({ hello: h.version });
  assert.equal(!v.ok && v.code, 'XZ_ERR_PROTO_BAD_VERSION');
});

test('garbage hellos are refused with XZ_ERR_PROTO_BAD_HELLO', T, () => {
  const garbage: unknown[] = [
    'not json',
    '',
    '[]',
    'null',
    '42',
    '"hello"',
    '{"type":"listen","state":"start"}',
    '{"version":1}',
    '{"type":"HELLO"}',
    '{"type":"hello","version":"abc"}',
    '{"type":"hello","version":[1]}',
    `{"type":"hello","pad":"${'x'.repeat(20000)}"}`,
    null,
    undefined,
    [],
  ];
  for (const g of garbage) {
    const r = parseClientHello(g);
    assert.equal(r.ok, false, String(g).slice(0, 60));
    assert.equal(!r.ok && r.code, 'XZ_ERR_PROTO_BAD_HELLO');
  }
});

test('server hello has the exact shape of §4.2 and the real downlink settings', T, () => {
  const sid = '0b5e4f3a-8a51-4c1e-9d7e-2f6c1a9b7d10';
  assert.equal(
    encodeServerHello({ sessionId: sid, sampleRate: 24000, frameDurationMs: 60 }),
    '{"type":"hello","transport":"websocket","session_id":"0b5e4f3a-8a51-4c1e-9d7e-2f6c1a9b7d10","audio_params":{"format":"opus","sample_rate":24000,"channels":1,"frame_duration":60}}',
  );
  const h = buildServerHello({ sessionId: sid, sampleRate: 16000, frameDurationMs: 60, version: 2 });
  assert.deepEqual(JSON.parse(JSON.stringify(h)), {
    type: 'hello',
    transport: 'websocket',
    session_id: sid,
    version: 2,
    audio_params: { format: 'opus', sample_rate: 16000, channels: 1, frame_duration: 60 },
  });
  assert.equal(typeof h.transport, 'string');
  assert.deepEqual(nullPaths(h), []);
});

test('session ids are plain lower-case UUIDs the device can concatenate unescaped', T, () => {
  const ids = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const id = newSessionId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    ids.add(id);
  }
  assert.equal(ids.size, 50);
});

test('bad server hello options throw (our own input)', T, () => {
  const isInternal = (e: unknown) => hasCode(e, 'XZ_ERR_INTERNAL');
  assert.throws(() => buildServerHello({ sessionId: 'a"b', sampleRate: 24000, frameDurationMs: 60 }), isInternal);
  assert.throws(() => buildServerHello({ sessionId: '', sampleRate: 24000, frameDurationMs: 60 }), isInternal);
  assert.throws(() => buildServerHello({ sessionId: 's', sampleRate: 22050, frameDurationMs: 60 }), isInternal);
  assert.throws(() => buildServerHello({ sessionId: 's', sampleRate: 24000, frameDurationMs: 0 }), isInternal);
});
