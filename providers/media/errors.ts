/**
 * Codes for local media files (the `play_music` folder). All are the file's fault, not a vendor's
 * or ours: retrying the same file fails the same way, so none is retryable.
 */
import { defineErrors } from '../../runtime/errors.js';

export const MEDIA = defineErrors({
  XZ_ERR_MEDIA_NOT_FOUND: { category: 'invalid-request', retryable: false, message: 'media file not found' },
  // Exists but cannot be read: permissions, a directory, an I/O error.
  XZ_ERR_MEDIA_UNREADABLE: { category: 'invalid-request', retryable: false, message: 'media file cannot be read' },
  XZ_ERR_MEDIA_UNSUPPORTED: { category: 'invalid-request', retryable: false, message: 'media format not supported' },
  // Truncated or damaged: whatever decoded before the damage has been delivered.
  XZ_ERR_MEDIA_CORRUPT: { category: 'invalid-request', retryable: false, message: 'media file is truncated or damaged' },
});
