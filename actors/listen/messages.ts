/**
 * Messages of the listen actor: one per session, in the `listen` worker pool. It turns the
 * session's 16 kHz uplink PCM into speech start/end events and utterances for ASR.
 *
 *   codec ── listen.pcm ──────────────▶ listen ── session.speech-started ──▶ session
 *   session ─ listen.start/stop/reset ▶        ── session.speech-ended ────▶
 *   session ─ listen.playback ────────▶        ── session.transcript ──────▶ (or session.utterance)
 *
 * Times (`atMs`, `audioMs`) are audio time: milliseconds of uplink audio received by this actor
 * since it started, so they do not depend on machine speed. Events to the session travel on the
 * `stream` lane (ordered, no turn): a barge-in moves the session to a new turn, and the
 * transcript of the very utterance that caused it must not be dropped as belonging to the old
 * one. `utterance` numbers them, so a session can tell a late result from a current one.
 *
 * Send listen.pcm on the `stream` lane too (a barge-in is exactly when the user's audio must not
 * be dropped), and control messages on `stream` or `data` so they stay ordered with the audio
 * from the same sender; a `system` message overtakes queued audio.
 */

export type ListenMode = 'auto' | 'manual' | 'realtime';

/** config `vad` section. */
export interface ListenVadConfig {
  threshold: number;
  min_speech_ms: number;
  end_silence_ms: number;
  /**
   * Early transcription for batch ASR: once a pause inside an utterance has lasted this long, the
   * audio so far is sent for transcription; if the pause becomes the end of the utterance the
   * answer is (nearly) ready when the end is decided. 0 turns it off (default 200).
   */
  early_asr_ms?: number;
}

/** Which ASR to use: a provider instance config, created through a registry's createAsr(). */
export interface ListenAsrSpec {
  /** `providers.asr.<name>` instance, e.g. `{ type: 'pocketsphinx', … }`. */
  provider: { readonly type: string; readonly [option: string]: unknown };
  /** The instance name (for messages); default the type. */
  name?: string;
  /** Module URL exporting createAsr(name, config, deps) like providers/registry (the default). */
  registry?: string;
  /** The spawner's address, for providers that run a local program. */
  spawner?: string;
  language?: string | null;
  hints?: readonly string[];
  /** The whole fallback chain (`pipeline.asr`), when it has more than one instance: pooled. */
  chain?: { name: string; provider: { readonly type: string; readonly [option: string]: unknown } }[];
}

export interface ListenEchoConfig {
  /** Longest playback→microphone delay searched, ms (default 600). */
  maxLagMs?: number;
  /** Envelope correlation at or above which speech over playback is echo (default 0.7). */
  threshold?: number;
  /** Audio judged at once, ms (default 750): longer is surer, shorter answers a barge-in sooner. */
  windowMs?: number;
}

export interface ListenInit {
  session: string;
  /** Where events go (the session supervisor). */
  sessionAddr: string;
  vad: ListenVadConfig;
  /**
   * The ASR: omitted, the worker's (the pool data's `asr`/`chain`/`spawner`, see module.ts);
   * null, none (utterances are reported as `session.utterance` only).
   */
  asr?: ListenAsrSpec | null;
  /** Listening from the start in this mode (default: not listening until listen.start). */
  mode?: ListenMode | null;
  echo?: ListenEchoConfig;
}

export type ListenIn =
  /** Uplink audio, 16 kHz mono, in order; `seq` counts frames (gaps are counted, not filled). */
  | { t: 'listen.pcm'; pcm: Int16Array; seq: number }
  /** The device listens (again) in `mode`: forgets buffered audio and VAD state. */
  | { t: 'listen.start'; mode: ListenMode }
  /**
   * The device stopped listening; in manual mode the utterance heard so far is final. Audio and
   * control come from different senders (codec, session), so a stop can overtake the last frames:
   * `untilSeq` names the last frame's seq, and the stop waits for it (at most ~300 ms).
   */
  | { t: 'listen.stop'; untilSeq?: number }
  /** Barge-in or new turn: forget buffered audio, the open utterance and VAD state. */
  | { t: 'listen.reset' }
  /**
   * What the server plays to the device, for echo rejection: a 16 kHz copy of the PCM as it is
   * sent (`reference`), or its energy envelope (`envelope`, dBFS per 10 ms; see echo.ts
   * energyEnvelope). `playing: false` ends playback (its echo may still arrive for a while).
   */
  | { t: 'listen.playback'; playing: boolean; reference?: Int16Array; envelope?: Float32Array }
  | { t: 'listen.stats' };

export type SpeechEndReason = 'silence' | 'max-length' | 'finalize' | 'stop';

export type ListenOut =
  /** Speech began `atMs`; `bargeIn` when it was heard over the server's own playback. */
  /**
   * `echo`: over playback, the verdict that found it was not the playback's echo (best
   * correlation of the envelopes, its lag, frames compared) — for operators tuning the threshold.
   */
  | { t: 'session.speech-started'; utterance: number; atMs: number; bargeIn: boolean; echo?: { corr: number; lagMs: number; frames: number } }
  /** Speech ended `atMs`; `audioMs` of audio (pre-roll included) went to ASR. */
  | { t: 'session.speech-ended'; utterance: number; atMs: number; audioMs: number; reason: SpeechEndReason }
  /** The text of an utterance; `asrMs` from the end of its audio to this result. */
  | { t: 'session.transcript'; utterance: number; text: string; final: true; audioMs: number; asrMs: number; language?: string }
  /** An utterance ended and no ASR is configured. */
  | { t: 'session.utterance'; utterance: number; audioMs: number }
  | { t: 'session.asr-failed'; utterance: number; audioMs: number; code: string; message: string };

export interface ListenStats {
  mode: ListenMode | null;
  /** Audio received, ms. */
  audioMs: number;
  windows: number;
  utterances: number;
  bargeIns: number;
  /** Speech over playback judged to be the device's own echo and ignored. */
  echoRejected: number;
  /** pcm received while not listening (ignored). */
  ignoredMs: number;
  seqGaps: number;
  /** The open utterance: samples held, or null. */
  open: { utterance: number; audioMs: number; phase: 'held' | 'open' } | null;
  /** Audio held for pre-roll, ms. */
  heldMs: number;
  asrInFlight: number;
  /** Early transcriptions started, and those whose pause did end the utterance (used). */
  earlyAsr: number;
  earlyAsrUsed: number;
}
