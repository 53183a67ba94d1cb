// The Volcengine frame codec against the byte sequences of vendors.md §6.6, §6.7 and §7.3.4,
// written out by hand here; the error mapping; the handshake headers. The fakes' own codec
// (test/doubles/volc-wire.ts) is checked against the client's both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { VOLC, upgradeError, volcError } from '../../providers/volc/errors.js';
import { decodeFrame, encodeFrame, Ev, frameJson, isLast, MsgType } from '../../providers/volc/frame.js';
import { bearerHeaders, v3Headers } from '../../providers/volc/socket.js';
import { errorFrame, parseClientFrame, serverFrame } from '../doubles/volc-wire.js';

const T = { timeout: 30_000 };
const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');
const u32 = (n: number): string => n.toString(16).padStart(8, '0');
const ascii = (s: string): string => Buffer.from(s).toString('hex');
const block = (s: string): string => u32(Buffer.byteLength(s)) + Buffer.from(s).toString('hex');
const SESS = 'sess-0000001';

test('v3 TTS client frames match §7.3.4 byte for byte', T, () => {
  assert.deepEqual(encodeFrame({ type: MsgType.FullClientRequest, event: Ev.StartConnection, payload: {} }), hex('11 14 10 00 | 00 00 00 01 | 00 00 00 02 | 7b 7d'));
  const start = { user: { uid: 'device-01' }, event: 100, namespace: 'BidirectionalTTS', req_params: { speaker: 'v', audio_params: { format: 'pcm', sample_rate: 16000 } } };
  assert.deepEqual(
    encodeFrame({ type: MsgType.FullClientRequest, event: Ev.StartSession, sessionId: SESS, payload: start }),
    hex(`11 14 10 00 | 00 00 00 64 | 00 00 00 0c | ${ascii(SESS)} | ${block(JSON.stringify(start))}`),
  );
  const task = { event: 200, req_params: { text: '你好，' } };
  assert.deepEqual(
    encodeFrame({ type: MsgType.FullClientRequest, event: Ev.TaskRequest, sessionId: SESS, payload: task }),
    hex(`11 14 10 00 | 00 00 00 c8 | 00 00 00 0c | ${ascii(SESS)} | ${block(JSON.stringify(task))}`),
  );
  assert.deepEqual(encodeFrame({ type: 1, event: Ev.FinishSession, sessionId: SESS, payload: {} }), hex(`11 14 10 00 | 00 00 00 66 | 00 00 00 0c | ${ascii(SESS)} | 00 00 00 02 | 7b 7d`));
  assert.deepEqual(encodeFrame({ type: 1, event: Ev.CancelSession, sessionId: SESS, payload: {} }), hex(`11 14 10 00 | 00 00 00 65 | 00 00 00 0c | ${ascii(SESS)} | 00 00 00 02 | 7b 7d`));
  assert.deepEqual(encodeFrame({ type: 1, event: Ev.FinishConnection, payload: {} }), hex('11 14 10 00 | 00 00 00 02 | 00 00 00 02 | 7b 7d'));
});

test('v3 TTS server frames of §7.3.4 decode, and re-encode to the same bytes', T, () => {
  const started = hex(`11 94 10 00 | 00 00 00 32 | 00 00 00 07 | ${ascii('conn-01')} | 00 00 00 02 | 7b 7d`);
  const f = decodeFrame(started);
  assert.equal(f.type, MsgType.FullServerResponse);
  assert.equal(f.flags, 0b0100);
  assert.equal(f.event, Ev.ConnectionStarted);
  assert.equal(f.connectId, 'conn-01');
  assert.equal(f.sessionId, undefined);
  assert.deepEqual(frameJson(f), {});
  assert.deepEqual(encodeFrame({ type: f.type, event: f.event, connectId: f.connectId, payload: {} }), started);

  const sessStarted = decodeFrame(hex(`11 94 10 00 | 00 00 00 96 | 00 00 00 0c | ${ascii(SESS)} | 00 00 00 02 | 7b 7d`));
  assert.equal(sessStarted.event, Ev.SessionStarted);
  assert.equal(sessStarted.sessionId, SESS);

  const pcm = '01 00 ff 7f 00 80 05';
  const audio = hex(`11 b4 00 00 | 00 00 01 60 | 00 00 00 0c | ${ascii(SESS)} | 00 00 00 07 | ${pcm}`);
  const a = decodeFrame(audio);
  assert.equal(a.type, MsgType.AudioOnlyResponse);
  assert.equal(a.event, Ev.TTSResponse);
  assert.equal(a.serialization, 0);
  assert.deepEqual(Buffer.from(a.payload), hex(pcm));
  assert.deepEqual(encodeFrame({ type: MsgType.AudioOnlyResponse, event: Ev.TTSResponse, sessionId: SESS, payload: hex(pcm) }), audio);

  const fin = decodeFrame(hex(`11 94 10 00 | 00 00 00 98 | 00 00 00 0c | ${ascii(SESS)} | ${block('{"status_code":20000000,"message":"ok"}')}`));
  assert.equal(fin.event, Ev.SessionFinished);
  assert.deepEqual(frameJson(fin), { status_code: 20_000_000, message: 'ok' });
  const connFin = decodeFrame(hex(`11 94 10 00 | 00 00 00 34 | 00 00 00 07 | ${ascii('conn-01')} | 00 00 00 02 | 7b 7d`));
  assert.equal(connFin.event, Ev.ConnectionFinished);
  assert.equal(connFin.connectId, 'conn-01');
});

test('ConnectionFailed is read with or without the connect id (§7.3.2)', T, () => {
  const body = '{"status_code":45000000,"message":"unauthorized"}';
  const withId = decodeFrame(hex(`11 94 10 00 | 00 00 00 33 | ${block('conn-9')} | ${block(body)}`));
  assert.equal(withId.connectId, 'conn-9');
  assert.deepEqual(frameJson(withId), JSON.parse(body));
  const without = decodeFrame(hex(`11 94 10 00 | 00 00 00 33 | ${block(body)}`));
  assert.equal(without.connectId, undefined);
  assert.deepEqual(frameJson(without), JSON.parse(body));
});

test('ASR frames of §6.6: both numbering styles, last flag by bit, gzip by nibble', T, () => {
  const req = { audio: { format: 'pcm', rate: 16000 } };
  const full = encodeFrame({ type: MsgType.FullClientRequest, serialization: 1, compression: 1, payload: req });
  assert.deepEqual(full.subarray(0, 4), hex('11 10 11 00'));
  assert.equal(full.readUInt32BE(4), full.length - 8);
  assert.deepEqual(full.subarray(8, 10), hex('1f 8b'));
  assert.deepEqual(JSON.parse(gunzipSync(full.subarray(8)).toString()), req);
  assert.deepEqual(frameJson(decodeFrame(full)), req);

  const pcm = Buffer.alloc(6400, 3);
  const a1 = encodeFrame({ type: MsgType.AudioOnlyRequest, serialization: 0, compression: 1, payload: pcm });
  assert.deepEqual(a1.subarray(0, 4), hex('11 20 01 00'));
  assert.deepEqual(Buffer.from(decodeFrame(a1).payload), pcm);
  const last = encodeFrame({ type: MsgType.AudioOnlyRequest, flags: 0b0010, serialization: 0, compression: 1, payload: Buffer.alloc(0) });
  assert.deepEqual(last.subarray(0, 4), hex('11 22 01 00'));
  assert.equal(last.readUInt32BE(4), 20, 'gzip of nothing is a 20-byte member');

  // Explicit sequence variant: 11 11 11 00 | 1, 11 21 01 00 | 2, 11 23 01 00 | -3.
  assert.deepEqual(encodeFrame({ type: 1, sequence: 1, serialization: 1, compression: 1, payload: req }).subarray(0, 8), hex('11 11 11 00 00 00 00 01'));
  assert.deepEqual(encodeFrame({ type: 2, sequence: 2, serialization: 0, compression: 1, payload: pcm }).subarray(0, 8), hex('11 21 01 00 00 00 00 02'));
  const neg = encodeFrame({ type: 2, flags: 0b0010, sequence: -3, serialization: 0, compression: 1, payload: pcm });
  assert.deepEqual(neg.subarray(0, 8), hex('11 23 01 00 ff ff ff fd'));
  assert.equal(decodeFrame(neg).sequence, -3);
  assert.ok(isLast(decodeFrame(neg)));

  const resp = '{"audio_info":{"duration":200},"result":{"text":""}}';
  const r = decodeFrame(hex(`11 91 10 00 | 00 00 00 01 | ${block(resp)}`));
  assert.equal(r.type, MsgType.FullServerResponse);
  assert.equal(r.sequence, 1);
  assert.ok(!isLast(r));
  const finalResp = '{"result":{"text":"你好","utterances":[{"text":"你好","definite":true}]}}';
  const fr = decodeFrame(hex(`11 93 10 00 | ff ff ff fd | ${block(finalResp)}`));
  assert.equal(fr.sequence, -3);
  assert.ok(isLast(fr));
  assert.deepEqual(frameJson(fr), JSON.parse(finalResp));
  // A positive sequence with the last bit is still the last (the vendor's worked example).
  assert.ok(isLast(decodeFrame(hex(`11 93 10 00 | 00 00 00 05 | ${block(finalResp)}`))));
  // gzip nibble with a plain JSON body (seen in the wild) is tolerated.
  assert.deepEqual(frameJson(decodeFrame(hex(`11 91 11 00 | 00 00 00 01 | ${block(resp)}`))), JSON.parse(resp));
});

test('error frames of §6.7 carry the code; codes map to categories', T, () => {
  assert.equal(hex('01 31 2D 00').readUInt32BE(0), 20_000_000);
  const e = decodeFrame(hex(`11 F0 10 00 | 02 AE A5 41 | ${block('{"error":"invalid request"}')}`));
  assert.equal(e.type, MsgType.Error);
  assert.equal(e.errorCode, 45_000_001);
  assert.equal(decodeFrame(hex(`11 F0 10 00 | 03 47 3B DF | ${block('{}')}`)).errorCode, 55_000_031);
  assert.equal(decodeFrame(hex(`11 F0 10 00 | 02 AE A5 91 | ${block('{}')}`)).errorCode, 45_000_081);

  const cases: [number | undefined, string, string, string, boolean][] = [
    [45_000_001, 'invalid request parameters', VOLC.XZ_ERR_VOLC_BAD_REQUEST, 'invalid-request', false],
    [45_000_081, 'timeout waiting next packet', VOLC.XZ_ERR_VOLC_TIMEOUT, 'timeout', true],
    [55_000_031, 'server busy', VOLC.XZ_ERR_VOLC_BUSY, 'upstream', true],
    [55_000_000, 'internal', VOLC.XZ_ERR_VOLC_BUSY, 'upstream', true],
    [45_000_292, 'quota exceeded for types: concurrency', VOLC.XZ_ERR_VOLC_RATE_LIMIT, 'rate-limit', true],
    [3003, 'concurrency limit exceeded', VOLC.XZ_ERR_VOLC_RATE_LIMIT, 'rate-limit', true],
    [45_000_000, 'unauthorized', VOLC.XZ_ERR_VOLC_AUTH, 'auth', false],
    [3050, 'voice not found', VOLC.XZ_ERR_VOLC_BAD_REQUEST, 'invalid-request', false],
  ];
  for (const [code, msg, want, category, retryable] of cases) {
    const err = volcError(code, msg, { where: 'test', logId: 'L1' });
    assert.equal(err.code, want, `${code} ${msg}`);
    assert.equal(err.category, category);
    assert.equal(err.retryable, retryable);
    assert.equal(err.details?.vendorCode, code);
    assert.equal(err.details?.logId, 'L1');
  }
  assert.equal(upgradeError(401, 'bad key', { where: 't' }).code, VOLC.XZ_ERR_VOLC_AUTH);
  assert.equal(upgradeError(403, 'requested resource not granted', { where: 't' }).code, VOLC.XZ_ERR_VOLC_AUTH);
  assert.equal(upgradeError(429, '', { where: 't' }).code, VOLC.XZ_ERR_VOLC_RATE_LIMIT);
  assert.equal(upgradeError(503, 'busy', { where: 't' }).code, VOLC.XZ_ERR_VOLC_BUSY);
  assert.equal(upgradeError(400, 'bad', { where: 't' }).category, 'invalid-request');
});

test('malformed frames fail with XZ_ERR_VOLC_PROTOCOL; header extensions are skipped', T, () => {
  const bad = ['11 94', '21 91 10 00 00 00 00 01 00 00 00 00', `11 91 10 00 | 00 00 00 01 | 00 00 00 09 | 7b 7d`, `11 90 10 00 | 00 00 00 02 | 7b 7d ff`, `11 91 11 00 | 00 00 00 01 | 00 00 00 04 | 1f 8b 00 00`, '13 90 10 00 00 00 00 00'];
  for (const b of bad) assert.throws(() => decodeFrame(hex(b)), { code: VOLC.XZ_ERR_VOLC_PROTOCOL }, b);
  // Header size 2 words: 4 extension bytes follow the fixed header.
  const ext = decodeFrame(hex('12 91 10 00 | aa bb cc dd | 00 00 00 07 | 00 00 00 02 | 7b 7d'));
  assert.equal(ext.sequence, 7);
  assert.deepEqual(frameJson(ext), {});
});

test('the fakes\' independent codec agrees with the client codec both ways', T, () => {
  const c = parseClientFrame(encodeFrame({ type: 1, event: Ev.TaskRequest, sessionId: SESS, payload: { text: 'x' } }));
  assert.equal(c.event, 200);
  assert.equal(c.sessionId, SESS);
  assert.equal(c.payload.toString(), '{"text":"x"}');
  const s = decodeFrame(serverFrame({ type: 0b1001, flags: 0b0011, sequence: -4, gzip: true, payload: { result: { text: 'ok' } } }));
  assert.equal(s.sequence, -4);
  assert.ok(isLast(s));
  assert.deepEqual(frameJson(s), { result: { text: 'ok' } });
  const err = decodeFrame(errorFrame(55_000_031, 'busy', true));
  assert.equal(err.errorCode, 55_000_031);
  assert.deepEqual(frameJson(err), { error: 'busy' });
});

test('handshake headers: v3 X-Api-* and the v1 Bearer form', T, () => {
  assert.deepEqual(v3Headers({ appId: '123', accessKey: 'tok', resourceId: 'volc.bigasr.sauc.duration' }, 'cid'), {
    'X-Api-App-Key': '123',
    'X-Api-Access-Key': 'tok',
    'X-Api-Resource-Id': 'volc.bigasr.sauc.duration',
    'X-Api-Connect-Id': 'cid',
  });
  const tts = v3Headers({ appId: '123', accessKey: 'tok', resourceId: 'seed-tts-1.0' }, 'c2', ['X-Api-App-Key', 'X-Api-App-Id']);
  assert.equal(tts['X-Api-App-Id'], '123');
  assert.equal(tts['X-Api-App-Key'], '123');
  assert.deepEqual(v3Headers({ apiKey: 'k', resourceId: 'seed-tts-2.0' }, 'c3'), { 'X-Api-Key': 'k', 'X-Api-Resource-Id': 'seed-tts-2.0', 'X-Api-Connect-Id': 'c3' });
  assert.match(v3Headers({ apiKey: 'k', resourceId: 'r' })['X-Api-Connect-Id']!, /^[0-9a-f-]{36}$/);
  assert.deepEqual(bearerHeaders('tok'), { Authorization: 'Bearer; tok' });
});
