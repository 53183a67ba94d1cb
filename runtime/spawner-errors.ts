/**
 * Codes raised by the spawner (runtime/spawner*.ts). The category tells a caller whether another
 * try can help: a spawner that is restarting will be back (`XZ_ERR_SPAWNER_DOWN` is retryable),
 * a command that does not exist will not.
 */
import { defineErrors } from './errors.js';

export const SP = defineErrors({
  // The command could not be started at all (ENOENT, EACCES, bad cwd).
  XZ_ERR_SPAWN_FAILED: { category: 'invalid-request', retryable: false, message: 'subprocess could not be started' },
  XZ_ERR_SPAWN_TIMEOUT: { category: 'timeout', retryable: true, message: 'subprocess ran past its time limit' },
  // A nonzero exit code, or death by a signal we did not send.
  XZ_ERR_SPAWN_EXIT: { category: 'upstream', retryable: false, message: 'subprocess failed' },
  // The helper process died or restarts; runs in flight are lost, the next run reconnects.
  XZ_ERR_SPAWNER_DOWN: { category: 'unavailable', retryable: true, message: 'spawner process is not reachable' },
  XZ_ERR_SPAWNER_CLOSED: { category: 'unavailable', retryable: false, message: 'spawner client is closed' },
  // Too many processes running and queued; the queue bound keeps a burst from piling up forever.
  XZ_ERR_SPAWN_BUSY: { category: 'overloaded', retryable: true, message: 'too many subprocesses' },
  XZ_ERR_SPAWN_OUTPUT_CAP: { category: 'quota', retryable: false, message: 'subprocess wrote more than its output limit' },
  XZ_ERR_SPAWN_PROTOCOL: { category: 'internal', retryable: false, message: 'spawner protocol violation' },
});
