/**
 * Maps a vendor's non-2xx answer to a coded error. Vendors put the useful part in different body
 * shapes, so each adapter extracts its own `vendorCode`/`vendorMessage` and passes them here; the
 * status decides the category unless the vendor code says something the status cannot (OpenAI
 * sends both "slow down" and "out of money" as 429).
 */
import { XzError } from '../../runtime/errors.js';
import { VENDOR } from './errors.js';

export type HeaderBag = Record<string, string | string[] | undefined>;

export interface StatusFailure {
  /** Provider instance id, for messages and details. */
  readonly vendor: string;
  readonly status: number;
  readonly headers: HeaderBag;
  /** The response body as text, possibly cut short. */
  readonly body: string;
  readonly vendorCode?: string | number | undefined;
  readonly vendorMessage?: string | undefined;
  /** Forces a code when the vendor's own code is more telling than the status. */
  readonly code?: string | undefined;
}

export function header(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Milliseconds to wait before retrying, from `retry-after-ms` (float ms, OpenAI) or `retry-after`
 * (seconds or an HTTP date). Undefined when absent or nonsense.
 */
export function retryAfterMs(headers: HeaderBag, now: number = Date.now()): number | undefined {
  const ms = header(headers, 'retry-after-ms');
  if (ms !== undefined) {
    const n = Number(ms);
    if (Number.isFinite(n) && n >= 0) return Math.round(n);
  }
  const ra = header(headers, 'retry-after')?.trim();
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.round(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const QUOTA_CODES = /insufficient_quota|quota_exceeded|billing|balance/i;

function codeForStatus(status: number, vendorCode: string): string {
  if (status === 401) return VENDOR.XZ_ERR_VENDOR_AUTH;
  if (status === 403) return VENDOR.XZ_ERR_VENDOR_FORBIDDEN;
  if (status === 402) return VENDOR.XZ_ERR_VENDOR_QUOTA;
  if (status === 429) return QUOTA_CODES.test(vendorCode) ? VENDOR.XZ_ERR_VENDOR_QUOTA : VENDOR.XZ_ERR_VENDOR_RATE_LIMIT;
  // 408 and 409 are what the vendors' own SDKs retry: a timeout and a lock conflict.
  if (status === 408 || status === 409 || status >= 500) return VENDOR.XZ_ERR_VENDOR_UPSTREAM;
  if (QUOTA_CODES.test(vendorCode)) return VENDOR.XZ_ERR_VENDOR_QUOTA;
  if (status >= 400) return VENDOR.XZ_ERR_VENDOR_BAD_REQUEST;
  return VENDOR.XZ_ERR_VENDOR_BAD_RESPONSE;
}

export function statusError(f: StatusFailure): XzError {
  const vendorCode = f.vendorCode === undefined ? '' : String(f.vendorCode);
  const code = f.code ?? codeForStatus(f.status, vendorCode);
  const wait = retryAfterMs(f.headers);
  const text = f.vendorMessage ?? f.body.replace(/\s+/g, ' ').trim().slice(0, 200);
  const details: Record<string, unknown> = { vendor: f.vendor, status: f.status };
  if (vendorCode) details.vendorCode = f.vendorCode;
  if (wait !== undefined) details.retryAfterMs = wait;
  const requestId = header(f.headers, 'x-request-id') ?? header(f.headers, 'x-tt-logid');
  if (requestId) details.requestId = requestId;
  return new XzError(code, `${f.vendor}: HTTP ${f.status}${vendorCode ? ` ${vendorCode}` : ''}${text ? `: ${text}` : ''}`, { details });
}

/** Parses a JSON body if it is one; vendors' error bodies are sometimes HTML from a proxy. */
export function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
