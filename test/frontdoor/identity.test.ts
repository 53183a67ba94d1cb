import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  extractIdentity,
  headersFrom,
  normalizeDeviceId,
  parseAuthorization,
  presentedToken,
  type HeaderGetter,
} from '../../actors/frontdoor/identity.js';
import { CLIENT_UUID, DEVICE_MAC } from './helpers.js';

const T = { timeout: 10_000 };

/** Behaves like uWS `req.getHeader`: lower-case names only, "" when absent. */
function uwsHeaders(record: Record<string, string>): HeaderGetter {
  return (name) => {
    assert.equal(name, name.toLowerCase(), 'uWS needs lower-case header names');
    return record[name] ?? '';
  };
}

function identityOf(get: HeaderGetter, query: string) {
  const r = extractIdentity(get, query);
  assert.ok(r.ok, !r.ok ? `${r.code}: ${r.reason}` : '');
  return r.identity;
}

test('device handshake headers in any casing (§3.3)', T, () => {
  const id = identityOf(
    headersFrom({
      'Device-Id': 'AA:BB:CC:DD:EE:FF',
      'CLIENT-ID': CLIENT_UUID,
      authorization: 'Bearer tok123',
      'Protocol-Version': '2',
    }),
    '',
  );
  assert.equal(id.deviceId, DEVICE_MAC);
  assert.equal(id.deviceIdRaw, 'AA:BB:CC:DD:EE:FF');
  assert.equal(id.deviceIdIsMac, true);
  assert.equal(id.clientId, CLIENT_UUID);
  assert.deepEqual(id.authorization, { kind: 'bearer', token: 'tok123' });
  assert.equal(id.protocolVersionHeader, '2');
  assert.equal(id.protocolVersionQuery, undefined);
  assert.equal(id.fromGateway, false);
  assert.deepEqual(id.sources, { deviceId: 'header', clientId: 'header', authorization: 'header' });
});

test('browser identity from the query string: case-insensitive names, URL-decoded (§3.4)', T, () => {
  const id = identityOf(
    uwsHeaders({}),
    `Device-Id=aa%3Abb%3Acc%3Add%3Aee%3Aff&CLIENT-ID=${CLIENT_UUID}&Authorization=Bearer%20q%2Btok&protocol-version=3`,
  );
  assert.equal(id.deviceId, DEVICE_MAC);
  assert.equal(id.clientId, CLIENT_UUID);
  assert.deepEqual(id.authorization, { kind: 'bearer', token: 'q+tok' });
  assert.equal(id.protocolVersionQuery, '3');
  assert.equal(id.protocolVersionHeader, undefined);
  assert.deepEqual(id.sources, { deviceId: 'query', clientId: 'query', authorization: 'query' });
});

test('a leading ? and form-style + are understood', T, () => {
  const id = identityOf(uwsHeaders({}), '?device-id=web-client-1&authorization=Bearer+abc');
  assert.equal(id.deviceId, 'web-client-1');
  assert.equal(id.deviceIdIsMac, false);
  assert.deepEqual(id.authorization, { kind: 'bearer', token: 'abc' });
});

test('headers win over the query string, field by field', T, () => {
  const id = identityOf(uwsHeaders({ 'device-id': '11:22:33:44:55:66' }), `device-id=${DEVICE_MAC}&client-id=from-query`);
  assert.equal(id.deviceId, '11:22:33:44:55:66');
  assert.equal(id.clientId, 'from-query');
  assert.deepEqual(id.sources, { deviceId: 'header', clientId: 'query', authorization: undefined });
  assert.deepEqual(id.authorization, { kind: 'none' });
});

test('FW <= 1.6.0 "Bearer " with nothing after it is no token, and the query cannot override it', T, () => {
  for (const v of ['Bearer ', 'Bearer', 'bearer   ']) {
    const id = identityOf(uwsHeaders({ 'device-id': DEVICE_MAC, authorization: v }), 'authorization=Bearer%20qtok');
    assert.deepEqual(id.authorization, { kind: 'none' }, JSON.stringify(v));
    assert.equal(id.sources.authorization, 'header');
    assert.equal(presentedToken(id.authorization), undefined);
  }
});

test('parseAuthorization variants', T, () => {
  assert.deepEqual(parseAuthorization('Bearer abc.123'), { kind: 'bearer', token: 'abc.123' });
  assert.deepEqual(parseAuthorization('bearer abc'), { kind: 'bearer', token: 'abc' });
  assert.deepEqual(parseAuthorization('Token abc'), { kind: 'token', token: 'abc' });
  assert.deepEqual(parseAuthorization('TOKEN  abc def '), { kind: 'token', token: 'abc def' });
  assert.deepEqual(parseAuthorization('rawtoken'), { kind: 'raw', token: 'rawtoken' });
  assert.deepEqual(parseAuthorization('Basic dXNlcg=='), { kind: 'other', scheme: 'Basic', token: 'dXNlcg==' });
  for (const none of ['', '   ', undefined, 'Bearer', 'Bearer ', 'Token', 'Token ']) {
    assert.deepEqual(parseAuthorization(none), { kind: 'none' }, JSON.stringify(none));
  }
  assert.equal(presentedToken(parseAuthorization('Token abc')), 'abc');
});

test('device ids normalise to lower-case colon MAC', T, () => {
  for (const raw of ['AA:BB:CC:DD:EE:FF', 'aa-bb-cc-dd-ee-ff', 'AABBCCDDEEFF', ' aA:Bb:cc:dd:ee:ff ']) {
    const r = normalizeDeviceId(raw);
    assert.deepEqual(r, { ok: true, id: DEVICE_MAC, isMac: true }, raw);
  }
  // Mixed separators are not a MAC spelling; kept as a generic id.
  assert.deepEqual(normalizeDeviceId('aa:bb-cc:dd:ee:ff'), { ok: true, id: 'aa:bb-cc:dd:ee:ff', isMac: false });
  assert.deepEqual(normalizeDeviceId('Web_Test_1'), { ok: true, id: 'web_test_1', isMac: false });
});

test('unusable ids are refused with codes, never thrown', T, () => {
  const bad = ['a|b', 'has space', 'quote"d', 'back\\slash', 'x'.repeat(129), 'ctl\u0001', 'ünïcode'];
  for (const raw of bad) {
    const r = extractIdentity(uwsHeaders({ 'device-id': raw }), '');
    assert.equal(!r.ok && r.code, 'XZ_ERR_PROTO_BAD_DEVICE_ID', JSON.stringify(raw));
  }
  const c = extractIdentity(uwsHeaders({ 'device-id': DEVICE_MAC, 'client-id': 'a|b' }), '');
  assert.equal(!c.ok && c.code, 'XZ_ERR_PROTO_BAD_CLIENT_ID');
});

test('no device id anywhere is its own code (health-check case)', T, () => {
  for (const q of ['', '?', 'client-id=x', 'device-id=', 'device-id=%20']) {
    const r = extractIdentity(uwsHeaders({ 'device-id': '  ' }), q);
    assert.equal(!r.ok && r.code, 'XZ_ERR_PROTO_NO_DEVICE_ID', q);
  }
});

test('malformed percent escapes do not throw', T, () => {
  const ok = extractIdentity(uwsHeaders({}), 'device-id=abc&client-id=%zz%');
  assert.equal(ok.ok && ok.identity.clientId, '%zz%');
  // A broken UTF-8 escape decodes to U+FFFD, which is not a usable id: refused, not thrown.
  const bad = extractIdentity(uwsHeaders({}), 'device-id=abc%E0%A4%A');
  assert.equal(!bad.ok && bad.code, 'XZ_ERR_PROTO_BAD_DEVICE_ID');
});

test('?from=mqtt_gateway marks the gateway bridge (§10.8)', T, () => {
  const gw = identityOf(
    headersFrom({ 'device-id': DEVICE_MAC, 'client-id': CLIENT_UUID, authorization: 'Bearer t', 'protocol-version': '2', 'x-forwarded-for': '1.2.3.4' }),
    'from=mqtt_gateway',
  );
  assert.equal(gw.fromGateway, true);
  assert.equal(gw.protocolVersionHeader, '2');
  assert.equal(identityOf(uwsHeaders({ 'device-id': DEVICE_MAC }), 'from=browser').fromGateway, false);
  assert.equal(identityOf(uwsHeaders({ 'device-id': DEVICE_MAC }), '').fromGateway, false);
});
