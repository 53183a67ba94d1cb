/**
 * WebSocket tokens handed out by OTA (protocol.md §3.5), in the reference servers' format so
 * tokens interoperate with them and with the MQTT gateway sharing the same secret:
 *
 *   base64url_nopad(HMAC-SHA256(secret, "<client_id>|<device_id>|<unix_ts>")) + "." + <unix_ts>
 *
 * The HMAC key is the secret string's UTF-8 bytes (as the reference servers use it), not a decoded
 * form of it. The token carries no ids: it binds them through the signature only, so a token shown
 * by another device or client fails as `bad-signature` — the two cases cannot be told apart.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { FD, type FrontdoorCode } from './errors.js';
import { XzError } from '../../runtime/errors.js';

export interface TokenBinding {
  readonly secret: string;
  /** Canonical device id (see identity.ts `normalizeDeviceId`). */
  readonly deviceId: string;
  /** As the device sends it; a missing Client-Id binds as the empty string. */
  readonly clientId: string | undefined;
}

/** 32 random bytes, base64url: a fresh secret for `auth.secret`. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

function sign(b: TokenBinding, ts: number): string {
  return createHmac('sha256', b.secret).update(`${b.clientId ?? ''}|${b.deviceId}|${ts}`, 'utf8').digest('base64url');
}

/** Issues a token stamped with `nowMs` (whole seconds, as the format requires). */
export function issueToken(binding: TokenBinding & { readonly nowMs: number }): string {
  if (binding.secret === '') throw new XzError(FD.XZ_ERR_AUTH_NO_SECRET);
  const ts = Math.floor(binding.nowMs / 1000);
  return `${sign(binding, ts)}.${ts}`;
}

export type TokenFailure = 'missing' | 'malformed' | 'bad-signature' | 'expired' | 'not-yet-valid' | 'no-secret';

export type TokenCheck =
  | { readonly ok: true; readonly issuedAtS: number; readonly expiresAtS: number }
  | { readonly ok: false; readonly code: FrontdoorCode; readonly kind: TokenFailure; readonly reason: string };

export interface VerifyOptions extends TokenBinding {
  readonly nowMs: number;
  /** Lifetime; a token is still valid when exactly `ttlSeconds` old (reference semantics). */
  readonly ttlSeconds: number;
  /** Tolerated clock difference for tokens issued by another node; default 300 s. */
  readonly maxSkewSeconds?: number;
}

// The timestamp is written canonically (no leading zeros), so other spellings are not ours.
const SHAPE = /^([A-Za-z0-9_-]{43})\.(0|[1-9]\d{0,11})$/;

function fail(code: FrontdoorCode, kind: TokenFailure, reason: string): TokenCheck {
  return { ok: false, code, kind, reason };
}

/**
 * Checks a presented token against the connection's ids. The signature is checked before the
 * age, so `expired` always means a genuine token that has run out (worth telling the operator),
 * never a forged one. Never throws.
 */
export function verifyToken(token: string | undefined, opts: VerifyOptions): TokenCheck {
  if (opts.secret === '') return fail(FD.XZ_ERR_AUTH_NO_SECRET, 'no-secret', 'token secret is empty');
  if (token === undefined || token === '') return fail(FD.XZ_ERR_AUTH_TOKEN_MISSING, 'missing', 'no token presented');
  const m = SHAPE.exec(token);
  if (!m) return fail(FD.XZ_ERR_AUTH_TOKEN_MALFORMED, 'malformed', 'expected <43 base64url chars>.<unix seconds>');
  const given = m[1]!;
  const ts = Number(m[2]);
  // Comparing the encoded text (fixed 43 bytes) also rejects non-canonical base64url spellings of
  // the right digest.
  const expected = sign(opts, ts);
  if (!timingSafeEqual(Buffer.from(given, 'latin1'), Buffer.from(expected, 'latin1'))) {
    return fail(FD.XZ_ERR_AUTH_TOKEN_BAD_SIGNATURE, 'bad-signature', 'signature does not match this device and client');
  }
  const nowS = Math.floor(opts.nowMs / 1000);
  const skew = opts.maxSkewSeconds ?? 300;
  if (ts - nowS > skew) return fail(FD.XZ_ERR_AUTH_TOKEN_NOT_YET_VALID, 'not-yet-valid', `issued ${ts - nowS} s in the future`);
  if (nowS - ts > opts.ttlSeconds) {
    return fail(FD.XZ_ERR_AUTH_TOKEN_EXPIRED, 'expired', `issued ${nowS - ts} s ago, lifetime ${opts.ttlSeconds} s`);
  }
  return { ok: true, issuedAtS: ts, expiresAtS: ts + opts.ttlSeconds };
}
