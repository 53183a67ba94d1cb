/**
 * OpenAI's error body `{ "error": { message, type, code } }` before the stream (any non-2xx) and
 * inside it (a `data: {"error": …}` event after the 200). The `code` separates cases one status
 * conflates: 429 `rate_limit_exceeded` (wait) versus 429 `insufficient_quota` (pay).
 */
import { XzError } from '../../../runtime/errors.js';
import { VENDOR } from '../../http/errors.js';
import { jsonOrUndefined, statusError, type HeaderBag } from '../../http/status.js';

interface ErrorObject {
  message?: unknown;
  type?: unknown;
  code?: unknown;
}

function errorObject(x: unknown): ErrorObject | undefined {
  const e = (x as { error?: unknown } | undefined)?.error;
  if (e && typeof e === 'object') return e as ErrorObject;
  // Some compatible servers put a bare string there.
  if (typeof e === 'string') return { message: e };
  return undefined;
}

function vendorCode(e: ErrorObject): string | undefined {
  const c = e.code ?? e.type;
  return typeof c === 'string' || typeof c === 'number' ? String(c) : undefined;
}

export function openAiHttpError(vendor: string) {
  return (status: number, headers: HeaderBag, body: string): XzError => {
    const e = errorObject(jsonOrUndefined(body));
    return statusError({
      vendor,
      status,
      headers,
      body,
      vendorCode: e ? vendorCode(e) : undefined,
      vendorMessage: typeof e?.message === 'string' ? e.message : undefined,
    });
  };
}

/** A `data: {"error":…}` event: the status was 200, so the code alone decides. */
export function openAiStreamError(vendor: string, chunk: unknown): XzError | undefined {
  const e = errorObject(chunk);
  if (!e) return undefined;
  const code = vendorCode(e) ?? '';
  const message = typeof e.message === 'string' ? e.message : 'error event in stream';
  const xz = /quota|billing/i.test(code)
    ? VENDOR.XZ_ERR_VENDOR_QUOTA
    : /rate_limit/i.test(code)
      ? VENDOR.XZ_ERR_VENDOR_RATE_LIMIT
      : /context_length|invalid_request/i.test(code)
        ? VENDOR.XZ_ERR_VENDOR_BAD_REQUEST
        : VENDOR.XZ_ERR_VENDOR_UPSTREAM;
  return new XzError(xz, `${vendor}: ${code ? `${code}: ` : ''}${message}`, { details: { vendor, vendorCode: code || undefined, midStream: true } });
}
