/**
 * Codes for the Volcengine (Doubao) speech gateway, shared by its ASR and TTS clients, and the
 * mapping from what the gateway says (upgrade status, error-frame code, SessionFailed status) to
 * them. Fallback chains and pools act on the category and retryable flag: credentials and bad
 * requests fail again anywhere, throttling, busy servers, broken sockets and stalls may not.
 * Details carry `vendor: 'volc'`, `vendorCode`, `status` and `logId` (X-Tt-Logid) where known.
 */
import { defineErrors, XzError } from '../../runtime/errors.js';

export const VOLC = defineErrors({
  XZ_ERR_VOLC_AUTH: { category: 'auth', retryable: false, message: 'Volcengine rejected the credentials or resource id' },
  XZ_ERR_VOLC_RATE_LIMIT: { category: 'rate-limit', retryable: true, message: 'Volcengine throttled the request (concurrency or quota)' },
  XZ_ERR_VOLC_BUSY: { category: 'upstream', retryable: true, message: 'Volcengine server busy or failed' },
  XZ_ERR_VOLC_BAD_REQUEST: { category: 'invalid-request', retryable: false, message: 'Volcengine rejected the request' },
  // The gateway gave up waiting for our next packet (45000081): a hiccup on our side, worth a retry.
  XZ_ERR_VOLC_TIMEOUT: { category: 'timeout', retryable: true, message: 'Volcengine timed out waiting for the client' },
  XZ_ERR_VOLC_PROTOCOL: { category: 'upstream', retryable: true, message: 'Volcengine sent a frame that could not be understood' },
  XZ_ERR_VOLC_CONNECT: { category: 'connectivity', retryable: true, message: 'could not reach Volcengine or the connection broke' },
  XZ_ERR_VOLC_STALL: { category: 'timeout', retryable: true, message: 'Volcengine stopped answering' },
});

/** Status codes the gateway uses in error frames and session events. */
export const VOLC_OK = 20_000_000;

interface Ctx {
  /** What we were doing, for the message: 'asr', 'tts session', … */
  where: string;
  logId?: string | undefined;
  status?: number | undefined;
}

function details(ctx: Ctx, vendorCode: number | undefined): Record<string, unknown> {
  const d: Record<string, unknown> = { vendor: 'volc', where: ctx.where };
  if (vendorCode !== undefined) d.vendorCode = vendorCode;
  if (ctx.status !== undefined) d.status = ctx.status;
  if (ctx.logId) d.logId = ctx.logId;
  return d;
}

// Throttling shows up under several codes (v1 3003 "concurrency limit exceeded"; v3 gateways
// answer "quota exceeded for types: concurrency", 45000292 in captures — UNCERTAIN), so the
// message is checked as well as the code.
const THROTTLE_TEXT = /quota|concurren|too many|rate.?limit|throttl|limit exceeded/i;
const AUTH_TEXT = /unauthori[sz]ed|auth|access.?key|token|credential|not granted|permission|app.?(key|id)/i;
const THROTTLE_CODES = new Set([3003, 45_000_292]);
// v1 TTS codes (vendor "参数基本说明" page, partly UNCERTAIN): busy, interrupted, backend link.
const BUSY_CODES = new Set([3005, 3006, 3030, 3031, 3040]);
const BAD_CODES = new Set([3001, 3010, 3011, 3050]);

function pick(code: number | undefined, message: string): string {
  if (code === 45_000_081 || code === 3032) return VOLC.XZ_ERR_VOLC_TIMEOUT;
  if ((code !== undefined && THROTTLE_CODES.has(code)) || THROTTLE_TEXT.test(message)) return VOLC.XZ_ERR_VOLC_RATE_LIMIT;
  if (code !== undefined && BUSY_CODES.has(code)) return VOLC.XZ_ERR_VOLC_BUSY;
  if (code !== undefined && BAD_CODES.has(code)) return VOLC.XZ_ERR_VOLC_BAD_REQUEST;
  if (code !== undefined && code >= 45_000_000 && code < 46_000_000) {
    // 45000000 is the generic client error; the gateway uses it for bad credentials too.
    return AUTH_TEXT.test(message) ? VOLC.XZ_ERR_VOLC_AUTH : VOLC.XZ_ERR_VOLC_BAD_REQUEST;
  }
  // 550xxxxx internal (55000031 busy), and anything unknown: the vendor's trouble, maybe passing.
  return VOLC.XZ_ERR_VOLC_BUSY;
}

/** An error frame (type 15), a SessionFailed/ConnectionFailed status or a v2/v1 JSON `code`. */
export function volcError(code: number | undefined, message: string, ctx: Ctx): XzError {
  const text = message.trim() || 'no message';
  return new XzError(pick(code, text), `Volcengine ${ctx.where}: ${code ?? '?'} ${text}`, { details: details(ctx, code) });
}

/** A refused WebSocket upgrade (non-101 status with a short body). */
export function upgradeError(status: number, body: string, ctx: Ctx): XzError {
  const text = body.trim().slice(0, 300) || `HTTP ${status}`;
  let code: string;
  if (status === 429 || THROTTLE_TEXT.test(text)) code = VOLC.XZ_ERR_VOLC_RATE_LIMIT;
  else if (status === 401 || status === 403) code = VOLC.XZ_ERR_VOLC_AUTH;
  else if (status >= 500) code = VOLC.XZ_ERR_VOLC_BUSY;
  else if (status >= 400) code = VOLC.XZ_ERR_VOLC_BAD_REQUEST;
  else code = VOLC.XZ_ERR_VOLC_CONNECT;
  return new XzError(code, `Volcengine ${ctx.where}: handshake refused with ${status}: ${text}`, { details: details({ ...ctx, status }, undefined) });
}

/** Reads `{"error":…}`, `{"message":…}` or plain text, as error payloads vary by endpoint. */
export function errorText(payload: Uint8Array): string {
  const s = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  try {
    const j = JSON.parse(s) as Record<string, unknown>;
    for (const k of ['error', 'message', 'msg', 'status_text']) if (typeof j[k] === 'string') return j[k] as string;
  } catch {
    /* plain text */
  }
  return s;
}
