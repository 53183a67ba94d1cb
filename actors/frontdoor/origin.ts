/**
 * The public address a device used to reach us, for URLs handed out in the OTA reply (WebSocket
 * URL, firmware download URL). A configured public URL always wins (see ota.ts); this covers the
 * "else built from the request" case of the design.
 *
 * URLs are always written as `scheme://host:port/path` with an explicit port: the firmware's URL
 * parser (§3.2) takes the first `:` after the scheme as the port separator, so a port-less URL
 * whose path or query holds a `:` would be misread. IPv6 literals are written in brackets, but the
 * same parser cannot handle them: serve devices by name or IPv4.
 */
import { FD, refuse, type Refusal } from './errors.js';
import { TRUST_NONE, type ProxyMatcher } from './trusted-proxies.js';

export interface RequestOrigin {
  /** `Host` header. */
  readonly host: string | undefined;
  /** TCP peer address as text. */
  readonly peerAddress: string | undefined;
  readonly forwardedHost?: string | undefined;
  readonly forwardedProto?: string | undefined;
  readonly forwardedPort?: string | undefined;
}

export interface OriginOptions {
  readonly trustedProxies?: ProxyMatcher;
  /** We terminate TLS ourselves (so direct requests came in over https/wss). */
  readonly tls: boolean;
  /** Host to use when the request names none we can use (e.g. the box's LAN address). */
  readonly fallbackHost?: string | undefined;
}

export interface PublicOrigin {
  readonly secure: boolean;
  /** Host name, IPv4 literal or bracketed IPv6 literal. */
  readonly hostname: string;
  /** Port the device sees, when forwarding headers told us; otherwise the caller's own port applies. */
  readonly port: number | undefined;
  /** True when X-Forwarded-* from a trusted proxy decided this origin. */
  readonly forwarded: boolean;
}

export type OriginResult = { readonly ok: true; readonly origin: PublicOrigin } | Refusal;

/** First element of a comma-separated forwarding header (the client-facing hop). */
function first(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.split(',')[0]!.trim();
  return t === '' ? undefined : t;
}

function parsePort(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const V6_LITERAL = /^\[[0-9A-Fa-f:.]{2,45}\]$/;

/** Splits `host[:port]`; undefined when the text is not a plain host we would hand to a device. */
export function parseHostPort(text: string): { hostname: string; port: number | undefined } | undefined {
  const s = text.trim();
  let hostname: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end === -1) return undefined;
    hostname = s.slice(0, end + 1);
    const rest = s.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
    if (!V6_LITERAL.test(hostname)) return undefined;
  } else {
    const colon = s.indexOf(':');
    hostname = colon === -1 ? s : s.slice(0, colon);
    portText = colon === -1 ? undefined : s.slice(colon + 1);
    if (!HOSTNAME.test(hostname)) return undefined;
  }
  const port = parsePort(portText);
  if (portText !== undefined && port === undefined) return undefined;
  return { hostname: hostname.toLowerCase(), port };
}

function schemeIsSecure(proto: string | undefined): boolean | undefined {
  switch (proto?.toLowerCase()) {
    case 'https':
    case 'wss':
      return true;
    case 'http':
    case 'ws':
      return false;
    default:
      return undefined;
  }
}

/**
 * Works out the origin. Forwarding headers count only when the peer is a trusted proxy and at
 * least one of X-Forwarded-Host / X-Forwarded-Proto is present; then the port comes from the
 * forwarded host, else X-Forwarded-Port, else the scheme's default (the proxy's public port, not
 * ours). Never throws.
 */
export function resolveOrigin(req: RequestOrigin, opts: OriginOptions): OriginResult {
  const trusted = (opts.trustedProxies ?? TRUST_NONE).matches(req.peerAddress);
  const fHost = first(req.forwardedHost);
  const fProto = first(req.forwardedProto);
  const forwarded = trusted && (fHost !== undefined || fProto !== undefined);

  const candidates = forwarded ? [fHost, req.host, opts.fallbackHost] : [req.host, opts.fallbackHost];
  let hp: { hostname: string; port: number | undefined } | undefined;
  for (const c of candidates) {
    if (c === undefined || c.trim() === '') continue;
    hp = parseHostPort(c);
    if (hp) break;
  }
  if (!hp) return refuse(FD.XZ_ERR_OTA_NO_HOST, 'no usable Host header and no fallback host');

  if (!forwarded) return { ok: true, origin: { secure: opts.tls, hostname: hp.hostname, port: undefined, forwarded: false } };
  const secure = schemeIsSecure(fProto) ?? opts.tls;
  const port = hp.port ?? parsePort(first(req.forwardedPort)) ?? (secure ? 443 : 80);
  return { ok: true, origin: { secure, hostname: hp.hostname, port, forwarded: true } };
}

/**
 * A URL on this origin: `ws(s)://` or `http(s)://`, explicit port (`ownPort` unless a trusted proxy
 * named the public one), and `path` (a leading `/` is added if missing).
 */
export function originUrl(origin: PublicOrigin, kind: 'ws' | 'http', ownPort: number, path: string): string {
  const scheme = kind === 'ws' ? (origin.secure ? 'wss' : 'ws') : origin.secure ? 'https' : 'http';
  const p = path.startsWith('/') ? path : `/${path}`;
  return `${scheme}://${origin.hostname}:${origin.port ?? ownPort}${p}`;
}
