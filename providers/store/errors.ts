/**
 * Codes raised by the store and by the registries built on it. Activation codes are typed by a
 * person from a device's screen, so their failures are `invalid-request`: the same input fails
 * again, and the answer is to read the device's current code.
 */
import { defineErrors } from '../../runtime/errors.js';

export const ST = defineErrors({
  XZ_ERR_STORE_UNKNOWN_TYPE: {
    category: 'invalid-request',
    retryable: false,
    message: 'unknown store type',
  },
  XZ_ERR_STORE_OPEN: {
    category: 'unavailable',
    retryable: false,
    message: 'store could not be opened',
  },
  // A failed read or write of an open store: a full disk or map, a dropped network connection.
  XZ_ERR_STORE_IO: {
    category: 'unavailable',
    retryable: true,
    message: 'store operation failed',
  },
  XZ_ERR_STORE_CLOSED: {
    category: 'unavailable',
    retryable: false,
    message: 'store is closed',
  },
  XZ_ERR_STORE_BAD_KEY: {
    category: 'invalid-request',
    retryable: false,
    message: 'store key or namespace is not valid',
  },
  XZ_ERR_STORE_BAD_VALUE: {
    category: 'invalid-request',
    retryable: false,
    message: 'store value or option is not valid',
  },
  XZ_ERR_ACTIVATION_UNKNOWN_CODE: {
    category: 'invalid-request',
    retryable: false,
    message: 'no device is waiting with this activation code',
  },
  XZ_ERR_ACTIVATION_EXPIRED: {
    category: 'invalid-request',
    retryable: false,
    message: 'activation code has expired; the device shows a new one at its next check',
  },
  // Only when nearly every 6-digit code is pending at once; a later try may find one free.
  XZ_ERR_ACTIVATION_NO_FREE_CODE: {
    category: 'overloaded',
    retryable: true,
    message: 'no free activation code',
  },
});
