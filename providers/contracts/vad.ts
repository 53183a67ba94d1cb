/**
 * Voice activity detection: a model that scores fixed windows of 16 kHz audio with a speech
 * probability. The model (one per worker thread, loaded once) is shared by every session on that
 * worker; each session owns only a small recurrent state. Scoring several sessions' windows in
 * one call lets a model batch them, which is much cheaper per window.
 *
 * Deciding where speech starts and ends from the probabilities (thresholds, minimum speech,
 * end-of-speech silence, all in audio time) is the listen actor's job, not the model's.
 */
export interface VadState {
  /** Forgets the audio history (a new utterance, a barge-in). */
  reset(): void;
}

export interface VadModel {
  readonly id: string;
  /** Samples per window at 16 kHz (512 for Silero v5, i.e. 32 ms). */
  readonly windowSamples: number;
  readonly sampleRate: number;
  createState(): VadState;
  /**
   * Scores one window per state (same order), advancing each state. `windows[i]` holds
   * `windowSamples` float samples in [-1, 1]. Returns one probability per window.
   */
  score(states: readonly VadState[], windows: readonly Float32Array[]): Promise<Float32Array>;
  close(): Promise<void>;
}
