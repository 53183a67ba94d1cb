/**
 * Messages of the session supervisor actor (one per device connection, main thread).
 *
 * The front door turns socket traffic into these: JSON text frames that parsed into an object
 * with a string `type` become `session.device`; binary frames, unwrapped from their framing,
 * become `session.audio`. Socket close and timers arrive on the `system` lane so they overtake
 * queued audio.
 */

import type { WireError } from '../../runtime/errors.js';
import type { ToolCallRequest } from '../think/messages.js';

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
  | { t: 'session.info' }
  // ── from the session's worker actors (see crew.ts) ──
  /** Speech began (`bargeIn`: while the server was playing, and not its own echo). */
  | { t: 'session.speech-started'; atMs: number; bargeIn?: boolean; echo?: { corr: number; lagMs: number; frames: number } }
  | { t: 'session.speech-ended'; atMs: number; audioMs: number }
  /** What the user said; `final` ends the utterance. */
  | { t: 'session.transcript'; text: string; final: boolean; audioMs?: number; asrMs?: number }
  /** An utterance ended but no recognizer is configured. */
  | { t: 'session.utterance'; audioMs: number }
  /** The recognizer failed on an utterance. */
  | { t: 'session.asr-failed'; utterance: number; audioMs: number; code: string; message: string }
  | { t: 'session.reply-sentence'; text: string; index: number; emotion?: string; spoken?: boolean }
  | { t: 'session.reply-done'; text: string; sentences: number; emotion?: string; firstTextMs?: number; error?: WireError }
  /** Encoded downlink frames of one sentence, exactly one frame period each. */
  | { t: 'session.frames'; frames: Uint8Array[]; sentence: number; last: boolean; durationMs: number }
  | { t: 'session.speak-failed'; sentence: number; error: WireError }
  /** The session's worker actors came back after a worker crash, with fresh state. */
  | { t: 'session.crew-restarted'; actors: string[] }
  /** A request from the think actor: run one tool call of the model. */
  | ToolCallRequest
  /** Internal: the reply's audio has played; time to send `tts stop`. */
  | { t: 'session.stop-due'; turn: number };

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
  turns: number;
  /** Stage timestamps of the most recent turns (ms since the end of speech). */
  lastTurns: TurnRecord[];
}

/** When each stage of a turn happened, in ms after the end of speech (or of the typed text). */
export interface TurnRecord {
  turn: number;
  text: string;
  reply: string;
  interrupted: boolean;
  /** Absolute clock time of the end-of-speech decision. */
  speechEndAt: number;
  asrFinalMs?: number;
  firstTextMs?: number;
  ttsStartMs?: number;
  firstFrameMs?: number;
  playoutEndMs?: number;
  ttsStopMs?: number;
}
