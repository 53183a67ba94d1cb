/**
 * Who is connecting (protocol.md §3.3, §3.4, §10.8). Devices send identity as headers; browsers
 * and test clients cannot set headers and put the same names in the query string. Each field is
 * taken from its header first, else from the query string, independently of the others.
 */
import { FD, refuse, type Refusal } from './errors.js';

/**
 * Reads one request header; called with lower-case names (uWS's `req.getHeader` contract, which
 * returns "" for a missing header — treated as absent here).
 */
export type HeaderGetter = (lowerCaseName: string) => string | undefined;

/** A getter over a plain header record with any name casing (node:http, tests). */
export function headersFrom(record: Readonly<Record<string, string | readonly string[] | undefined>>): HeaderGetter {
  const lower = new Map<string, string>();
  for (const [name, value] of Object.entries(record)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    if (lower.has(key)) continue;
    lower.set(key, typeof value === 'string' ? value : value.join(', '));
  }
  return (name) => lower.get(name.toLowerCase());
}

/**
 * Query parameters with lower-cased names, first occurrence winning. Values are decoded as
 * application/x-www-form-urlencoded (`%20` and `+` both become a space), as the reference server's
 * parser does, so `authorization=Bearer+abc` and `Bearer%20abc` mean the same. Malformed escapes
 * are kept literally rather than throwing.
 */
export function queryParams(rawQuery: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  if (q === '') return out;
  for (const [name, value] of new URLSearchParams(q)) {
    const key = name.toLowerCase();
    if (!out.has(key)) out.set(key, value);
  }
  return out;
}

export type AuthValue =
  | { readonly kind: 'none' }
  | { readonly kind: 'bearer' | 'token' | 'raw'; readonly token: string }
  | { readonly kind: 'other'; readonly scheme: string; readonly token: string };

/**
 * Parses an Authorization value. Firmware sends `Bearer <token>` unless the token itself contains
 * a space, in which case it is sent verbatim (`Token abc`, `Bearer abc`); FW ≤ 1.6.0 always sends
 * `Bearer ` even with an empty token, which arrives as `Bearer` once the header value is trimmed —
 * that means "no token", not the token "Bearer" (likewise a lone `Token`).
 */
export function parseAuthorization(value: string | undefined): AuthValue {
  const v = (value ?? '').trim();
  if (v === '') return { kind: 'none' };
  const space = v.search(/\s/);
  if (space === -1) return /^(bearer|token)$/i.test(v) ? { kind: 'none' } : { kind: 'raw', token: v };
  const scheme = v.slice(0, space);
  const rest = v.slice(space).trim();
  const lower = scheme.toLowerCase();
  if (lower === 'bearer' || lower === 'token') return rest === '' ? { kind: 'none' } : { kind: lower, token: rest };
  return { kind: 'other', scheme, token: rest };
}

/** The presented token, or undefined when none was presented. */
export function presentedToken(auth: AuthValue): string | undefined {
  return auth.kind === 'none' ? undefined : auth.token;
}

const MAC = /^([0-9a-f]{2})([:-]?)([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;
// Ids end up in store keys, logs and the token's `client|device|ts` message, so `|`, quotes,
// backslashes, whitespace and control characters are refused, and so are absurd lengths.
const SAFE_ID = /^[\x21-\x7e]{1,128}$/;
const UNSAFE_CHARS = /[|"\\]/;

function safeId(s: string): boolean {
  return SAFE_ID.test(s) && !UNSAFE_CHARS.test(s);
}

export type DeviceIdResult = { readonly ok: true; readonly id: string; readonly isMac: boolean } | Refusal;

/**
 * Canonical device id: a MAC in any common spelling (`AA:BB:..`, `aa-bb-..`, `aabb..`) becomes
 * lower-case colon form, as the firmware itself sends it (§1). Other ids (browser clients) are
 * lower-cased so the OTA request and the WebSocket agree on one spelling.
 */
export function normalizeDeviceId(raw: string): DeviceIdResult {
  const s = raw.trim();
  const m = MAC.exec(s);
  if (m) {
    const id = [m[1], m[3], m[4], m[5], m[6], m[7]].join(':').toLowerCase();
    return { ok: true, id, isMac: true };
  }
  if (!safeId(s)) return refuse(FD.XZ_ERR_PROTO_BAD_DEVICE_ID, `device id ${JSON.stringify(s.slice(0, 64))} has unusable characters or length`);
  return { ok: true, id: s.toLowerCase(), isMac: false };
}

export type FieldSource = 'header' | 'query';

export interface Identity {
  /** Canonical id (lower-case MAC); use this for tokens, store keys and allow-lists. */
  readonly deviceId: string;
  /** As received, trimmed. */
  readonly deviceIdRaw: string;
  readonly deviceIdIsMac: boolean;
  /** Kept as sent (trimmed): tokens bind the exact string the device presents. */
  readonly clientId: string | undefined;
  readonly authorization: AuthValue;
  readonly authorizationRaw: string | undefined;
  /** Raw values for `selectVersion`, which needs to know which source spoke. */
  readonly protocolVersionHeader: string | undefined;
  readonly protocolVersionQuery: string | undefined;
  /** `?from=mqtt_gateway`: frames use the gateway bridge header (§10.8). */
  readonly fromGateway: boolean;
  readonly sources: {
    readonly deviceId: FieldSource;
    readonly clientId: FieldSource | undefined;
    readonly authorization: FieldSource | undefined;
  };
}

export type IdentityResult = { readonly ok: true; readonly identity: Identity } | Refusal;

function nonEmpty(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/**
 * Identity of an upgrade request. A missing device id is its own code
 * (`XZ_ERR_PROTO_NO_DEVICE_ID`) so the caller can treat such a request as a health check, as the
 * reference server does. Never throws.
 */
export function extractIdentity(getHeader: HeaderGetter, rawQuery: string): IdentityResult {
  const query = queryParams(rawQuery);
  const pick = (name: string): [string, FieldSource] | undefined => {
    const h = nonEmpty(getHeader(name));
    if (h !== undefined) return [h, 'header'];
    const q = nonEmpty(query.get(name));
    return q === undefined ? undefined : [q, 'query'];
  };

  const device = pick('device-id');
  if (!device) return refuse(FD.XZ_ERR_PROTO_NO_DEVICE_ID, 'no device-id header or query parameter');
  const norm = normalizeDeviceId(device[0]);
  if (!norm.ok) return norm;

  const client = pick('client-id');
  if (client && !safeId(client[0])) {
    return refuse(FD.XZ_ERR_PROTO_BAD_CLIENT_ID, `client id ${JSON.stringify(client[0].slice(0, 64))} has unusable characters or length`);
  }

  // FW ≤ 1.6.0's `Bearer ` with no token still counts as the header speaking (it trims to
  // `Bearer`, which is non-empty), so a query value cannot override it.
  const auth = pick('authorization');

  const from = query.get('from');
  return {
    ok: true,
    identity: {
      deviceId: norm.id,
      deviceIdRaw: device[0],
      deviceIdIsMac: norm.isMac,
      clientId: client?.[0],
      authorization: parseAuthorization(auth?.[0]),
      authorizationRaw: auth?.[0],
      protocolVersionHeader: nonEmpty(getHeader('protocol-version')),
      protocolVersionQuery: nonEmpty(query.get('protocol-version')),
      fromGateway: from !== undefined && from.trim().toLowerCase() === 'mqtt_gateway',
      sources: { deviceId: device[1], clientId: client?.[1], authorization: auth?.[1] },
    },
  };
}
