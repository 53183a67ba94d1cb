/**
 * What the Edge "read aloud" endpoint checks at the WebSocket upgrade (vendors.md §8.1–8.2): a
 * fixed client token, a `Sec-MS-GEC` token that changes every 5 minutes, a version string that
 * must agree with the User-Agent's Edge major, and browser-looking headers. Microsoft blocks
 * clients that look unlike Edge, so the values copy what edge-tts 7.2.7 sends; the version is
 * config because Microsoft retires old ones.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const TRUSTED_CLIENT_TOKEN = '6A5AA1D4EAFF4E9FB37E23D68491D6F4';
export const DEFAULT_CHROMIUM_VERSION = '143.0.3650.75';
export const EDGE_ORIGIN = 'chrome-extension://jdiccldimpdaibmpdkjnbmckianbfold';
export const EDGE_URL = 'wss://speech.platform.bing.com/consumer/speech/synthesize/readaloud/edge/v1';

/** Seconds from 1601-01-01 (Windows FILETIME epoch) to 1970-01-01. */
const WIN_EPOCH_S = 11_644_473_600n;
const WINDOW_S = 300n;

/**
 * The Sec-MS-GEC token for wall-clock time `unixMs`: the 5-minute window's start in 100-ns ticks
 * since 1601, with the client token appended, SHA-256, upper-case hex. BigInt because the ticks
 * exceed 2^53.
 */
export function secMsGec(unixMs: number): string {
  let s = BigInt(Math.floor(unixMs / 1000)) + WIN_EPOCH_S;
  s -= s % WINDOW_S;
  const ticks = (s * 10_000_000n).toString();
  return createHash('sha256').update(ticks + TRUSTED_CLIENT_TOKEN, 'ascii').digest('hex').toUpperCase();
}

export function secMsGecVersion(chromium: string): string {
  return `1-${chromium}`;
}

export function userAgent(chromium: string): string {
  const major = chromium.split('.')[0] ?? '143';
  return `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36 Edg/${major}.0.0.0`;
}

/** 32 lower-case hex digits: a uuid4 without dashes (ConnectionId, X-RequestId). */
export function hexId(): string {
  return randomUUID().replaceAll('-', '');
}

/** The query string and headers for one upgrade, at wall-clock time `unixMs` (skew applied). */
export function handshake(baseUrl: string, chromium: string, unixMs: number): { url: string; headers: Record<string, string> } {
  const u = new URL(baseUrl);
  u.searchParams.set('TrustedClientToken', TRUSTED_CLIENT_TOKEN);
  u.searchParams.set('ConnectionId', hexId());
  u.searchParams.set('Sec-MS-GEC', secMsGec(unixMs));
  u.searchParams.set('Sec-MS-GEC-Version', secMsGecVersion(chromium));
  return {
    url: u.toString(),
    headers: {
      Pragma: 'no-cache',
      'Cache-Control': 'no-cache',
      'User-Agent': userAgent(chromium),
      'Accept-Encoding': 'gzip, deflate, br, zstd',
      'Accept-Language': 'en-US,en;q=0.9',
      Cookie: `muid=${randomBytes(16).toString('hex').toUpperCase()};`,
    },
  };
}

/** Server time minus ours from a response `Date` header, for the one retry after a 403. */
export function skewFromDate(date: string | undefined, nowMs: number): number | undefined {
  if (!date) return undefined;
  const at = Date.parse(date);
  return Number.isNaN(at) ? undefined : at - nowMs;
}
