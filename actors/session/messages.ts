/**
 * Messages of the session supervisor actor (one per device connection, main thread).
 *
 * The front door turns socket traffic into these: JSON text frames that parsed into an object
 * with a string `type` become `session.device`; binary frames, unwrapped from their framing,
 * become `session.audio`. Socket close and timers arrive on the `system` lane so they overtake
 * queued audio.
 */

/** A JSON message from the device: an object with a string `type`; other fields unchecked. */
export type DeviceMessage = { readonly type: string; readonly [field: string]: unknown };

export type SessionIn =
  | { t: 'session.device'; msg: DeviceMessage }
  /** One Opus packet of uplink audio (16 kHz mono), already out of its binary framing. */
  | { t: 'session.audio'; opus: Uint8Array; timestampMs: number }
  | { t: 'session.hello-timeout' }
  /** The socket is gone (device dropped TCP, idle timeout, or we closed it). */
  | { t: 'session.closed'; code: number; reason: string }
  /** Server-initiated end (shutdown): finish what is in flight, then close politely. */
  | { t: 'session.end'; reason: string; graceMs: number }
  | { t: 'session.info' };

export interface SessionInfo {
  sessionId: string;
  deviceId: string;
  clientId: string | undefined;
  state: string;
  mode: string;
  helloAt: number | undefined;
  framing: string;
  audioIn: number;
  badFrames: number;
  earlyAudio: number;
  unknownTypes: number;
}
