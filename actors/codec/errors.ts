/**
 * Codes of the codec actor. native/opus.ts may not import the registry, so it throws plain
 * errors with an OPUS_* `code`; `codecError` maps those onto these registered codes.
 */
import { XzError, defineErrors } from '../../runtime/errors.js';

export const CE = defineErrors({
  // A device sent bytes that are not Opus: the same packet fails again; the stream goes on.
  XZ_ERR_CODEC_INVALID_PACKET: { category: 'invalid-request', retryable: false, message: 'not a valid Opus packet' },
  XZ_ERR_CODEC_DECODE_FAILED: { category: 'internal', retryable: false, message: 'Opus decode failed' },
  XZ_ERR_CODEC_ENCODE_FAILED: { category: 'internal', retryable: false, message: 'Opus encode failed' },
  // Downlink rate, frame length or complexity out of range, or PCM at an unusable rate.
  XZ_ERR_CODEC_CONFIG: { category: 'invalid-request', retryable: false, message: 'unsupported codec configuration' },
});

const byOpusCode: Record<string, string> = {
  OPUS_INVALID_PACKET: CE.XZ_ERR_CODEC_INVALID_PACKET,
  OPUS_DECODE_FAILED: CE.XZ_ERR_CODEC_DECODE_FAILED,
  OPUS_BAD_FRAME: CE.XZ_ERR_CODEC_ENCODE_FAILED,
  OPUS_ENCODE_FAILED: CE.XZ_ERR_CODEC_ENCODE_FAILED,
  OPUS_BAD_CONFIG: CE.XZ_ERR_CODEC_CONFIG,
  OPUS_FREED: CE.XZ_ERR_CODEC_ENCODE_FAILED,
};

/** Anything native/ threw, as a registered XzError (unknown throwables keep XZ_ERR_INTERNAL). */
export function codecError(e: unknown): XzError {
  if (e instanceof XzError) return e;
  const native = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const code = typeof native === 'string' ? byOpusCode[native] : undefined;
  const message = e instanceof Error ? e.message : String(e);
  return new XzError(code ?? 'XZ_ERR_INTERNAL', message, { cause: e, ...(typeof native === 'string' ? { details: { native } } : {}) });
}
