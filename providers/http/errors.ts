/**
 * Codes for failures talking to a vendor over the network, shared by every HTTP streaming vendor
 * (language models now; HTTP TTS/ASR later). The category and retryable flag are what pools and
 * fallback chains act on: an auth or invalid-request failure will fail again anywhere it is sent
 * unchanged, while rate limits, 5xx, resets and stalls may well succeed on a retry or on another
 * provider. Details carry `vendor`, `status`, `vendorCode` and `retryAfterMs` where known.
 */
import { defineErrors } from '../../runtime/errors.js';

export const VENDOR = defineErrors({
  XZ_ERR_VENDOR_AUTH: { category: 'auth', retryable: false, message: 'vendor rejected the credentials' },
  XZ_ERR_VENDOR_FORBIDDEN: { category: 'forbidden', retryable: false, message: 'vendor refused access to this resource' },
  XZ_ERR_VENDOR_BAD_REQUEST: { category: 'invalid-request', retryable: false, message: 'vendor rejected the request' },
  XZ_ERR_VENDOR_RATE_LIMIT: { category: 'rate-limit', retryable: true, message: 'vendor rate limit hit' },
  XZ_ERR_VENDOR_QUOTA: { category: 'quota', retryable: false, message: 'vendor quota or balance used up' },
  XZ_ERR_VENDOR_UPSTREAM: { category: 'upstream', retryable: true, message: 'vendor failed to answer' },
  // A body we cannot parse is the vendor's (or a proxy's) fault; another provider may do better.
  XZ_ERR_VENDOR_BAD_RESPONSE: { category: 'upstream', retryable: true, message: 'vendor response could not be understood' },
  XZ_ERR_VENDOR_CONNECT: { category: 'connectivity', retryable: true, message: 'could not reach the vendor or the connection broke' },
  // The body ended cleanly but without the vendor's end marker: a proxy or the vendor cut it.
  XZ_ERR_VENDOR_TRUNCATED: { category: 'connectivity', retryable: true, message: 'vendor stream ended before its end marker' },
  XZ_ERR_VENDOR_TIMEOUT: { category: 'timeout', retryable: true, message: 'vendor did not answer in time' },
  XZ_ERR_VENDOR_STALL: { category: 'timeout', retryable: true, message: 'vendor stream stalled' },
});
