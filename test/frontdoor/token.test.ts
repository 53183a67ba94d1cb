import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSecret, issueToken, verifyToken } from '../../actors/frontdoor/token.js';
import { hasCode } from '../../runtime/errors.js';
import { CLIENT_UUID, DEVICE_MAC } from './helpers.js';

const T = { timeout: 10_000 };
const SECRET = 'test-secret';
const NOW = 1754640000_000;
const TTL = 30 * 24 * 3600;
const bind = { secret: SECRET, clientId: CLIENT_UUID, deviceId: DEVICE_MAC };

test('token matches the reference servers byte for byte (§3.5)', T, () => {
  // Computed independently with Python's hmac + urlsafe_b64encode(...).rstrip("=").
  assert.equal(issueToken({ ...bind, nowMs: NOW }), '7UpQ06QRxPGSEZp-uuQRiae59sP4GEL5s_7ou4IO7aw.1754640000');
  assert.equal(issueToken({ ...bind, nowMs: NOW + 999 }), '7UpQ06QRxPGSEZp-uuQRiae59sP4GEL5s_7ou4IO7aw.1754640000');
  // A device without Client-Id binds the empty string.
  assert.equal(issueToken({ ...bind, clientId: undefined, nowMs: NOW }), 'VGnp_TC3nONJWn1Eiq7cj8CeVKFWtZgmSYIfo_6sRZU.1754640000');
});

test('an issued token verifies for its device and client until ttl has passed', T, () => {
  const token = issueToken({ ...bind, nowMs: NOW });
  assert.deepEqual(verifyToken(token, { ...bind, nowMs: NOW, ttlSeconds: TTL }), {
    ok: true,
    issuedAtS: 1754640000,
    expiresAtS: 1754640000 + TTL,
  });
  // Exactly ttl old is still valid (reference: now - ts > ttl means expired).
  assert.equal(verifyToken(token, { ...bind, nowMs: NOW + TTL * 1000, ttlSeconds: TTL }).ok, true);
  const late = verifyToken(token, { ...bind, nowMs: NOW + (TTL + 1) * 1000, ttlSeconds: TTL });
  assert.equal(!late.ok && late.kind, 'expired');
  assert.equal(!late.ok && late.code, 'XZ_ERR_AUTH_TOKEN_EXPIRED');
});

test('a token of another device or client fails its signature', T, () => {
  const token = issueToken({ ...bind, nowMs: NOW });
  const wrongDevice = verifyToken(token, { ...bind, deviceId: '11:22:33:44:55:66', nowMs: NOW, ttlSeconds: TTL });
  assert.equal(!wrongDevice.ok && wrongDevice.kind, 'bad-signature');
  assert.equal(!wrongDevice.ok && wrongDevice.code, 'XZ_ERR_AUTH_TOKEN_BAD_SIGNATURE');
  const wrongClient = verifyToken(token, { ...bind, clientId: 'other', nowMs: NOW, ttlSeconds: TTL });
  assert.equal(!wrongClient.ok && wrongClient.kind, 'bad-signature');
  const wrongSecret = verifyToken(token, { ...bind, secret: 'other', nowMs: NOW, ttlSeconds: TTL });
  assert.equal(!wrongSecret.ok && wrongSecret.kind, 'bad-signature');
});

test('tampering with signature or timestamp is caught', T, () => {
  const token = issueToken({ ...bind, nowMs: NOW });
  const [sig, ts] = token.split('.') as [string, string];
  const flip = (c: string) => (c === 'A' ? 'B' : 'A');
  const tampered = [
    `${flip(sig[0]!)}${sig.slice(1)}.${ts}`,
    `${sig.slice(0, 20)}${flip(sig[20]!)}${sig.slice(21)}.${ts}`,
    `${sig}.${Number(ts) + 1}`, // extend lifetime
  ];
  for (const t of tampered) {
    const r = verifyToken(t, { ...bind, nowMs: NOW, ttlSeconds: TTL });
    assert.equal(!r.ok && r.kind, 'bad-signature', t);
  }
  // The last base64url char carries 2 padding bits: another spelling of the same digest is refused.
  const last = sig[42]!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const sibling = alphabet[(alphabet.indexOf(last) ^ 1)]!;
  const r = verifyToken(`${sig.slice(0, 42)}${sibling}.${ts}`, { ...bind, nowMs: NOW, ttlSeconds: TTL });
  assert.equal(!r.ok && r.kind, 'bad-signature');
});

test('malformed and missing tokens get their own codes', T, () => {
  const opts = { ...bind, nowMs: NOW, ttlSeconds: TTL };
  for (const t of ['abc', 'abc.def', `${'a'.repeat(42)}.1754640000`, `${'a'.repeat(44)}.1754640000`, `${'a'.repeat(43)}.`, `${'a'.repeat(43)}.-5`, `${'a'.repeat(43)}.1.2`, `${'a'.repeat(43)}=.17`, `${'a'.repeat(43)}.1234567890123`, `${'a'.repeat(43)}.01754640000`, ' '.repeat(50)]) {
    const r = verifyToken(t, opts);
    assert.equal(!r.ok && r.kind, 'malformed', t);
    assert.equal(!r.ok && r.code, 'XZ_ERR_AUTH_TOKEN_MALFORMED');
  }
  for (const t of ['', undefined]) {
    const r = verifyToken(t, opts);
    assert.equal(!r.ok && r.code, 'XZ_ERR_AUTH_TOKEN_MISSING');
  }
});

test('tokens from the future are refused beyond the clock skew', T, () => {
  const future = issueToken({ ...bind, nowMs: NOW + 301_000 });
  const r = verifyToken(future, { ...bind, nowMs: NOW, ttlSeconds: TTL });
  assert.equal(!r.ok && r.kind, 'not-yet-valid');
  const near = issueToken({ ...bind, nowMs: NOW + 60_000 });
  assert.equal(verifyToken(near, { ...bind, nowMs: NOW, ttlSeconds: TTL }).ok, true);
  assert.equal(verifyToken(near, { ...bind, nowMs: NOW, ttlSeconds: TTL, maxSkewSeconds: 10 }).ok, false);
});

test('an empty secret never signs or verifies', T, () => {
  assert.throws(() => issueToken({ ...bind, secret: '', nowMs: NOW }), (e) => hasCode(e, 'XZ_ERR_AUTH_NO_SECRET'));
  const r = verifyToken('x', { ...bind, secret: '', nowMs: NOW, ttlSeconds: TTL });
  assert.equal(!r.ok && r.kind, 'no-secret');
});

test('generateSecret gives 32 random bytes as base64url', T, () => {
  const a = generateSecret();
  const b = generateSecret();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(a, 'base64url').length, 32);
  assert.notEqual(a, b);
  const t = issueToken({ ...bind, secret: a, nowMs: NOW });
  assert.equal(verifyToken(t, { ...bind, secret: a, nowMs: NOW, ttlSeconds: 60 }).ok, true);
});
