/**
 * Codes shared by the TTS vendors. A bad voice is the request's fault (another provider may know
 * the voice); bad audio from a vendor is the vendor's.
 */
import { defineErrors } from '../../runtime/errors.js';

export const TTS = defineErrors({
  XZ_ERR_TTS_BAD_VOICE: { category: 'invalid-request', retryable: false, message: 'voice not available' },
  XZ_ERR_TTS_BAD_AUDIO: { category: 'upstream', retryable: false, message: 'synthesiser produced audio in an unexpected format' },
});
