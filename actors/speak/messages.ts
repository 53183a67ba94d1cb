/**
 * Messages of the speak actor (one per session, in the `speak` worker pool): it synthesizes one
 * sentence at a time and streams the PCM to the session's codec actor, which encodes it.
 */
import type { WireError } from '../../runtime/errors.js';

export type SpeakIn =
  /** Synthesize one sentence of the envelope's turn; sentences are spoken in arrival order. */
  | { t: 'speak.say'; text: string; sentence: number; voice: { name?: string | null; language?: string | null } }
  /**
   * Stream a music file as this sentence of the turn: decoded here, paced to stay a few seconds
   * ahead of playback (a whole song at once would flood the codec worker and the pacer).
   */
  | { t: 'speak.play'; path: string; sentence: number; maxSeconds: number }
  /** A piece of a sentence as the model writes it (from the think actor); `end` closes the sentence. */
  | { t: 'speak.text'; text: string; sentence: number; end: boolean; voice: { name?: string | null; language?: string | null } };

/** Sent to the session when a sentence could not be synthesized (its audio is then empty). */
export type SpeakOut = { t: 'session.speak-failed'; sentence: number; error: WireError };

export interface SpeakInit {
  session: string;
  sessionAddr: string;
  codecAddr: string;
}

/** What every speak worker boots with: TTS instances, the chain to use, the spawner's address. */
export interface SpeakBoot {
  tts: Record<string, { type: string; [k: string]: unknown }>;
  chain: string[];
  spawner: string | null;
  hedgeMs: number;
}
