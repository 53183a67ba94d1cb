/** Codes shared by the ASR vendors. */
import { defineErrors } from '../../runtime/errors.js';

export const ASR = defineErrors({
  // Another provider in the fallback chain may know the language.
  XZ_ERR_ASR_LANGUAGE: { category: 'invalid-request', retryable: false, message: 'language not supported by this recogniser' },
  XZ_ERR_ASR_MISUSE: { category: 'internal', retryable: false, message: 'ASR stream used out of order' },
});
