/**
 * Which peers may tell us, through X-Forwarded-* headers, what host and scheme a device reached.
 * Anyone else could point devices at a server of their choosing via the OTA reply, so forwarding
 * headers count only when the TCP peer is in the configured list of IPs and CIDRs.
 *
 * Every address is held as 16 bytes: IPv4 as the IPv4-mapped IPv6 address (::ffff:a.b.c.d) and an
 * IPv4 prefix /n as /96+n. One comparison then serves both families, and a dual-stack socket
 * reporting a v4 peer as ::ffff:a.b.c.d still matches a v4 CIDR.
 */
import { isIP } from 'node:net';
import { FD, refuse, type Refusal } from './errors.js';

function parseV4(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[at + i] = n;
  }
  return true;
}

function parseV6(text: string, out: Uint8Array): boolean {
  const halves = text.split('::');
  if (halves.length > 2) return false;
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) fills the last two groups.
  const words: number[] = [];
  const pushGroups = (list: string[], allowV4Last: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      if (allowV4Last && i === list.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseV4(g, v4, 0)) return false;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      words.push(parseInt(g, 16));
    }
    return true;
  };
  if (!pushGroups(head, halves.length === 1)) return false;
  const headCount = words.length;
  if (!pushGroups(tail, true)) return false;
  const tailWords = words.splice(headCount);
  const missing = 8 - headCount - tailWords.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return false;
  const all = [...words, ...new Array<number>(missing).fill(0), ...tailWords];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i]! >>> 8;
    out[2 * i + 1] = all[i]!;
  }
  return true;
}

/** An IP literal (v4, v6, bracketed v6, v6 with zone) as 16 bytes; undefined if it is not one. */
export function parseIp(text: string): Uint8Array | undefined {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  const family = isIP(s);
  const out = new Uint8Array(16);
  if (family === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    return parseV4(s, out, 12) ? out : undefined;
  }
  if (family === 6) return parseV6(s, out) ? out : undefined;
  return undefined;
}

interface Cidr {
  readonly bytes: Uint8Array;
  readonly prefix: number; // in the 128-bit space
}

function inCidr(addr: Uint8Array, c: Cidr): boolean {
  const full = c.prefix >>> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== c.bytes[i]) return false;
  const rest = c.prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (addr[full]! & mask) === (c.bytes[full]! & mask);
}

export interface ProxyMatcher {
  /** True when `address` (the TCP peer, as text) is a trusted proxy. */
  matches(address: string | undefined): boolean;
}

export type ProxyListResult = { readonly ok: true; readonly matcher: ProxyMatcher } | Refusal;

/** Trusts nobody: forwarding headers are ignored. */
export const TRUST_NONE: ProxyMatcher = Object.freeze({ matches: () => false });

/**
 * Compiles `["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8", ...]`. A bare address is a /32 or /128.
 * Any unusable entry refuses the whole list, so a typo cannot silently trust nobody (or everybody).
 */
export function compileTrustedProxies(list: readonly string[]): ProxyListResult {
  const cidrs: Cidr[] = [];
  for (const entry of list) {
    const slash = entry.indexOf('/');
    const addrText = slash === -1 ? entry : entry.slice(0, slash);
    const bytes = parseIp(addrText);
    if (!bytes) return refuse(FD.XZ_ERR_PROXY_BAD_CIDR, `${JSON.stringify(entry)} is not an IP address or CIDR`);
    const v4 = isIP(addrText.trim()) === 4;
    const max = v4 ? 32 : 128;
    let prefix = max;
    if (slash !== -1) {
      const p = entry.slice(slash + 1).trim();
      if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
        return refuse(FD.XZ_ERR_PROXY_BAD_CIDR, `${JSON.stringify(entry)} has a prefix length outside 0–${max}`);
      }
      prefix = Number(p);
    }
    cidrs.push({ bytes, prefix: v4 ? 96 + prefix : prefix });
  }
  if (cidrs.length === 0) return { ok: true, matcher: TRUST_NONE };
  return {
    ok: true,
    matcher: {
      matches(address) {
        if (address === undefined) return false;
        const a = parseIp(address);
        return a !== undefined && cidrs.some((c) => inCidr(a, c));
      },
    },
  };
}
