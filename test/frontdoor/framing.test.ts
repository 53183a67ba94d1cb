import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeUplink,
  encodeDownlink,
  headerSize,
  selectVersion,
  writeDownlinkHeader,
  type Framing,
} from '../../actors/frontdoor/framing.js';
import { hasCode } from '../../runtime/errors.js';
import { fromHex, hex } from './helpers.js';

const T = { timeout: 10_000 };
const OPUS = fromHex('aa bb cc');

test('v2 downlink header is byte-exact: version 2, type 0, reserved 0, timestamp, payload_size', T, () => {
  const out = encodeDownlink(2, OPUS, 0x01020304);
  assert.equal(hex(out), '0002' + '0000' + '00000000' + '01020304' + '00000003' + 'aabbcc');
});

test('v3 downlink header is byte-exact: type 0, reserved 0, payload_size u16 BE', T, () => {
  assert.equal(hex(encodeDownlink(3, OPUS, 123)), '00000003aabbcc');
  const big = new Uint8Array(300).fill(7);
  assert.equal(hex(encodeDownlink(3, big, 0).subarray(0, 4)), '0000012c');
});

test('gateway downlink header mirrors the reference server: 01 00 len16 seq ts len32', T, () => {
  const out = encodeDownlink('gateway', OPUS, 0x0a0b0c0d, 7);
  assert.equal(hex(out), '01' + '00' + '0003' + '00000007' + '0a0b0c0d' + '00000003' + 'aabbcc');
  // What the gateway itself reads: timestamp at 8, Opus length at 12.
  const b = Buffer.from(out);
  assert.equal(b.readUInt32BE(8), 0x0a0b0c0d);
  assert.equal(b.readUInt32BE(12), 3);
  assert.equal(hex(b.subarray(16, 16 + b.readUInt32BE(12))), 'aabbcc');
});

test('v1 downlink is the Opus packet itself, no copy', T, () => {
  const out = encodeDownlink(1, OPUS, 99);
  assert.equal(out, OPUS);
});

test('timestamps wrap modulo 2^32 in the u32 field', T, () => {
  assert.equal(hex(encodeDownlink(2, OPUS, 2 ** 32 + 5).subarray(8, 12)), '00000005');
  assert.equal(hex(encodeDownlink(2, OPUS, 0xffffffff).subarray(8, 12)), 'ffffffff');
  assert.equal(hex(encodeDownlink(2, OPUS, 1234.9).subarray(8, 12)), '000004d2');
});

test('encodeDownlink allocates exactly header + payload bytes', T, () => {
  for (const f of [2, 3, 'gateway'] as Framing[]) {
    const out = encodeDownlink(f, OPUS, 0);
    assert.equal(out.byteLength, headerSize(f) + 3);
    assert.equal(out.buffer.byteLength, headerSize(f) + 3, `${String(f)}: one exact-size buffer`);
  }
});

test('writeDownlinkHeader frames in place in front of a reserved gap', T, () => {
  const buf = new Uint8Array(4 + 16 + 3);
  buf.set(OPUS, 4 + 16);
  writeDownlinkHeader(2, buf, 4, 3, 0x11223344);
  assert.equal(hex(buf), '00000000' + '0002' + '0000' + '00000000' + '11223344' + '00000003' + 'aabbcc');
  const r = decodeUplink(2, buf.subarray(4));
  assert.ok(r.ok);
  assert.equal(hex(r.opus), 'aabbcc');
  assert.equal(r.timestampMs, 0x11223344);
});

test('oversized packets are refused for u16 headers with a coded error', T, () => {
  const big = new Uint8Array(0x10000);
  assert.throws(() => encodeDownlink(3, big, 0), (e) => hasCode(e, 'XZ_ERR_PROTO_FRAME_TOO_LARGE'));
  assert.throws(() => encodeDownlink('gateway', big, 0), (e) => hasCode(e, 'XZ_ERR_PROTO_FRAME_TOO_LARGE'));
  assert.equal(encodeDownlink(2, big, 0).byteLength, 16 + 0x10000);
  assert.equal(encodeDownlink(3, big.subarray(1), 0).byteLength, 4 + 0xffff);
});

test('round trips for every framing return a view into the frame, not a copy', T, () => {
  const cases: [Framing, number, number][] = [
    [1, 0, 0],
    [2, 16, 987654],
    [3, 4, 0],
    ['gateway', 16, 42],
  ];
  for (const [f, h, ts] of cases) {
    // Put the frame at a non-zero offset in a larger buffer, as a socket layer might.
    const framed = encodeDownlink(f, OPUS, ts);
    const host = new Uint8Array(framed.length + 10);
    host.set(framed, 5);
    const frame = host.subarray(5, 5 + framed.length);
    const r = decodeUplink(f, frame);
    assert.ok(r.ok, String(f));
    assert.equal(hex(r.opus), 'aabbcc');
    assert.equal(r.timestampMs, f === 2 || f === 'gateway' ? ts : 0);
    assert.equal(r.opus.buffer, host.buffer, `${String(f)}: same memory`);
    assert.equal(r.opus.byteOffset, 5 + h);
  }
});

test('device v2 uplink from hand-written bytes', T, () => {
  const frame = fromHex('0002 0000 00000000 0000ea60 00000002 f8ff');
  const r = decodeUplink(2, frame);
  assert.deepEqual(r.ok && { opus: hex(r.opus), ts: r.timestampMs }, { opus: 'f8ff', ts: 60000 });
});

test('gateway uplink as the gateway writes it (zeros in bytes 0-7) decodes as gateway and as v2', T, () => {
  const frame = fromHex('0000 0000 00000000 00000064 00000003 010203');
  for (const f of ['gateway', 2] as Framing[]) {
    const r = decodeUplink(f, frame);
    assert.ok(r.ok, String(f));
    assert.equal(hex(r.opus), '010203');
    assert.equal(r.timestampMs, 100);
  }
});

test('empty DTX frames are accepted', T, () => {
  assert.deepEqual(decodeUplink(1, new Uint8Array(0)).ok, true);
  const r2 = decodeUplink(2, fromHex('0002 0000 00000000 00000000 00000000'));
  assert.ok(r2.ok && r2.opus.length === 0);
  const r3 = decodeUplink(3, fromHex('0000 0000'));
  assert.ok(r3.ok && r3.opus.length === 0);
});

test('truncated headers are refused with XZ_ERR_PROTO_TRUNCATED_FRAME', T, () => {
  const cases: [Framing, Uint8Array][] = [
    [2, new Uint8Array(15)],
    [2, new Uint8Array(0)],
    [3, new Uint8Array(3)],
    ['gateway', new Uint8Array(8)],
  ];
  for (const [f, frame] of cases) {
    const r = decodeUplink(f, frame);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.code, 'XZ_ERR_PROTO_TRUNCATED_FRAME', `${String(f)} ${frame.length}`);
  }
});

test('payload_size that disagrees with the frame length is refused either way', T, () => {
  const lies: [Framing, string][] = [
    [2, '0002 0000 00000000 00000000 00000004 aabbcc'], // claims more than follows
    [2, '0002 0000 00000000 00000000 00000002 aabbcc'], // claims less (trailing bytes)
    [2, '0002 0000 00000000 00000000 ffffffff aabbcc'],
    [3, '0000 0004 aabbcc'],
    [3, '0000 0002 aabbcc'],
    [3, '0000 ffff aabbcc'],
    ['gateway', '0000 0000 00000000 00000000 00000009 aabbcc'],
  ];
  for (const [f, bytes] of lies) {
    const r = decodeUplink(f, fromHex(bytes));
    assert.equal(r.ok, false, bytes);
    assert.equal(!r.ok && r.code, 'XZ_ERR_PROTO_BAD_PAYLOAD_SIZE', bytes);
    assert.match(!r.ok ? r.reason : '', /payload_size/);
  }
});

test('non-Opus frame types are refused with XZ_ERR_PROTO_BAD_FRAME_TYPE', T, () => {
  const v2 = decodeUplink(2, fromHex('0002 0001 00000000 00000000 00000001 7b'));
  assert.equal(!v2.ok && v2.code, 'XZ_ERR_PROTO_BAD_FRAME_TYPE');
  const v3 = decodeUplink(3, fromHex('01 00 0001 7b'));
  assert.equal(!v3.ok && v3.code, 'XZ_ERR_PROTO_BAD_FRAME_TYPE');
});

test('decodeUplink never throws on random bytes or an unknown framing', T, () => {
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 2000; i++) {
    const frame = new Uint8Array(Math.floor(rnd() * 40));
    for (let j = 0; j < frame.length; j++) frame[j] = Math.floor(rnd() * 256);
    for (const f of [1, 2, 3, 'gateway'] as Framing[]) decodeUplink(f, frame);
  }
  const r = decodeUplink(7 as unknown as Framing, new Uint8Array(20));
  assert.equal(!r.ok && r.code, 'XZ_ERR_PROTO_BAD_VERSION');
});

test('selectVersion: header, else query, else hello, else 1', T, () => {
  const pick = (i: Parameters<typeof selectVersion>[0]) => {
    const r = selectVersion(i);
    return r.ok ? `${r.version}/${String(r.framing)}/${r.source}` : r.code;
  };
  assert.equal(pick({ header: '3', query: '2', hello: 1 }), '3/3/header');
  assert.equal(pick({ header: undefined, query: '2', hello: 3 }), '2/2/query');
  assert.equal(pick({ header: '', query: ' 2 ', hello: 3 }), '2/2/query'); // uWS gives "" for a missing header
  assert.equal(pick({ hello: 2 }), '2/2/hello');
  assert.equal(pick({ hello: '3' }), '3/3/hello');
  assert.equal(pick({ hello: null }), '1/1/default');
  assert.equal(pick({}), '1/1/default');
  assert.equal(pick({ header: '2', fromGateway: true }), '2/gateway/header');
  assert.equal(pick({ fromGateway: true }), '1/gateway/default');
});

test('selectVersion refuses unsupported values instead of falling through', T, () => {
  for (const bad of [{ header: '4', query: '2' }, { header: '0' }, { query: '2.0' }, { hello: 7 }, { hello: 'abc' }, { hello: true }, { hello: 1.5 }]) {
    const r = selectVersion(bad);
    assert.equal(r.ok, false, JSON.stringify(bad));
    assert.equal(!r.ok && r.code, 'XZ_ERR_PROTO_BAD_VERSION');
  }
});
