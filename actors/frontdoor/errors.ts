/**
 * The front door's error codes. Device input is never trusted, so the pure protocol modules do not
 * throw on it: they return a `Refusal` carrying one of these codes and a human reason, and the
 * socket layer decides whether to log, answer or close.
 */
import { defineErrors } from '../../runtime/errors.js';

export const FD = defineErrors({
  // Binary framing (§5).
  XZ_ERR_PROTO_TRUNCATED_FRAME: {
    category: 'invalid-request',
    retryable: false,
    message: 'binary frame shorter than its header',
  },
  XZ_ERR_PROTO_BAD_PAYLOAD_SIZE: {
    category: 'invalid-request',
    retryable: false,
    message: 'payload_size disagrees with the frame length',
  },
  XZ_ERR_PROTO_BAD_FRAME_TYPE: {
    category: 'invalid-request',
    retryable: false,
    message: 'binary frame type is not Opus',
  },
  XZ_ERR_PROTO_FRAME_TOO_LARGE: {
    category: 'invalid-request',
    retryable: false,
    message: 'Opus packet too large for the framing header',
  },
  XZ_ERR_PROTO_BAD_VERSION: {
    category: 'invalid-request',
    retryable: false,
    message: 'unsupported binary protocol version',
  },
  // Handshake identity (§3.3, §3.4) and hello (§4).
  XZ_ERR_PROTO_NO_DEVICE_ID: {
    category: 'invalid-request',
    retryable: false,
    message: 'no Device-Id in headers or query string',
  },
  XZ_ERR_PROTO_BAD_DEVICE_ID: {
    category: 'invalid-request',
    retryable: false,
    message: 'Device-Id is not a usable identifier',
  },
  XZ_ERR_PROTO_BAD_CLIENT_ID: {
    category: 'invalid-request',
    retryable: false,
    message: 'Client-Id is not a usable identifier',
  },
  XZ_ERR_PROTO_BAD_HELLO: {
    category: 'invalid-request',
    retryable: false,
    message: 'client hello is not a valid hello message',
  },
  // Tokens (§3.5).
  XZ_ERR_AUTH_TOKEN_MISSING: { category: 'auth', retryable: false, message: 'no token presented' },
  XZ_ERR_AUTH_TOKEN_MALFORMED: { category: 'auth', retryable: false, message: 'token is not <signature>.<unix_ts>' },
  XZ_ERR_AUTH_TOKEN_BAD_SIGNATURE: {
    category: 'auth',
    retryable: false,
    message: 'token signature does not match this device and client',
  },
  XZ_ERR_AUTH_TOKEN_EXPIRED: { category: 'auth', retryable: false, message: 'token expired' },
  XZ_ERR_AUTH_TOKEN_NOT_YET_VALID: { category: 'auth', retryable: false, message: 'token issued in the future' },
  XZ_ERR_AUTH_NO_SECRET: { category: 'internal', retryable: false, message: 'token secret is empty' },
  // OTA (§2).
  XZ_ERR_OTA_BAD_REQUEST: { category: 'invalid-request', retryable: false, message: 'OTA request body unusable' },
  XZ_ERR_OTA_NO_HOST: {
    category: 'invalid-request',
    retryable: false,
    message: 'cannot tell which host the device reached; set a public URL',
  },
  XZ_ERR_OTA_BAD_PUBLIC_URL: { category: 'invalid-request', retryable: false, message: 'configured public URL unusable' },
  XZ_ERR_OTA_BAD_ACTIVATION: { category: 'invalid-request', retryable: false, message: 'activation offer unusable' },
  XZ_ERR_PROXY_BAD_CIDR: { category: 'invalid-request', retryable: false, message: 'trusted proxy entry is not an IP or CIDR' },
  // Firmware folder.
  XZ_ERR_FIRMWARE_SCAN_FAILED: { category: 'unavailable', retryable: true, message: 'firmware folder could not be read' },
  XZ_ERR_FIRMWARE_NOT_FOUND: { category: 'invalid-request', retryable: false, message: 'no such firmware image' },
  // HTTP routes.
  XZ_ERR_HTTP_BODY_TOO_LARGE: { category: 'invalid-request', retryable: false, message: 'request body too large' },
  XZ_ERR_HTTP_NOT_FOUND: { category: 'invalid-request', retryable: false, message: 'no such route' },
  XZ_ERR_HTTP_BAD_JSON: { category: 'invalid-request', retryable: false, message: 'request body is not valid JSON' },
  // WebSocket session traffic (logged and counted; the device is never sent these).
  XZ_ERR_PROTO_BAD_JSON: { category: 'invalid-request', retryable: false, message: 'text frame is not a JSON object with a string "type"' },
  XZ_ERR_PROTO_BINARY_BEFORE_HELLO: { category: 'invalid-request', retryable: false, message: 'audio arrived before the hello' },
  XZ_ERR_PROTO_UNKNOWN_TYPE: { category: 'invalid-request', retryable: false, message: 'unknown message type' },
  XZ_ERR_PROTO_HELLO_TIMEOUT: { category: 'timeout', retryable: true, message: 'no hello in time' },
  XZ_ERR_PROTO_OVERSIZED: { category: 'invalid-request', retryable: false, message: 'message larger than the payload limit' },
  XZ_ERR_SERVER_DRAINING: { category: 'unavailable', retryable: true, message: 'server is shutting down' },
});

/** HTTP statuses for codes whose category alone would say it less precisely. */
export const HTTP_STATUS: Readonly<Record<string, number>> = {
  XZ_ERR_HTTP_BODY_TOO_LARGE: 413,
  XZ_ERR_HTTP_NOT_FOUND: 404,
  XZ_ERR_FIRMWARE_NOT_FOUND: 404,
};

export type FrontdoorCode = keyof typeof FD;

/** A coded "no" for input that came from outside; never thrown. */
export interface Refusal<C extends FrontdoorCode = FrontdoorCode> {
  readonly ok: false;
  readonly code: C;
  readonly reason: string;
}

export function refuse<C extends FrontdoorCode>(code: C, reason: string): Refusal<C> {
  return { ok: false, code, reason };
}
