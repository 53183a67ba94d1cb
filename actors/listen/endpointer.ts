/**
 * End-pointing: per-window speech probabilities in, speech start/end events out. Pure and
 * decided in audio time (sample positions, never the wall clock), so the same audio gives the
 * same events on a fast or a loaded machine, in any chunking.
 *
 *            p ≥ threshold                  voiced for min_speech
 *   idle ───────────────────▶ onset ─────────────────────────────▶ speech ──▶ speech-start
 *     ▲   unvoiced ≥ onset gap  │                                   │
 *     └─────────────────────────┘      p < negThreshold for end_silence ──▶ speech-end ──▶ idle
 *
 * Hysteresis (as Silero recommends): speech starts at `threshold` but only a probability below
 * `negThreshold` (threshold − 0.15) counts as silence, so a word's soft consonants do not split
 * it. A burst shorter than min_speech (a click, a cough) never becomes speech; short dips inside
 * an onset are tolerated, a gap of `onsetGapMs` abandons it. The start event carries where the
 * onset began and, `preRollMs` before that, where the utterance audio should begin, so ASR hears
 * the whole first syllable.
 */

export interface EndpointerConfig {
  /** Probability at or above which a window is speech. */
  threshold: number;
  /** Probability below which a window is silence; default max(threshold − 0.15, 0.01). */
  negThreshold?: number;
  minSpeechMs: number;
  endSilenceMs: number;
  /** Audio kept before the onset for the utterance; default 300. */
  preRollMs?: number;
  /** Unvoiced time that abandons an onset not yet confirmed; default min(100, end silence). */
  onsetGapMs?: number;
  /** An utterance is cut (and ends) after this long; default 30 s. */
  maxSpeechMs?: number;
  /** Samples per window; 512 for Silero v5. */
  windowSamples: number;
  sampleRate: number;
}

export type EndReason = 'silence' | 'max-length' | 'finalize';

export type EndpointEvent =
  /** Speech began at `atSample`; the utterance audio begins at `fromSample` (pre-roll). */
  | { readonly kind: 'speech-start'; readonly atSample: number; readonly fromSample: number }
  /** Speech that began at `startSample` ended at `atSample` (where the silence began). */
  | { readonly kind: 'speech-end'; readonly atSample: number; readonly startSample: number; readonly reason: EndReason };

export type Phase = 'idle' | 'onset' | 'speech';

export class Endpointer {
  readonly threshold: number;
  readonly negThreshold: number;
  readonly window: number;
  readonly #minSpeech: number;
  readonly #endSilence: number;
  readonly #preRoll: number;
  readonly #onsetGap: number;
  readonly #maxSpeech: number;
  #origin = 0;
  #pos = 0;
  #phase: Phase = 'idle';
  /** Onset: where it began; speech: where it began (same value, kept on confirmation). */
  #start = 0;
  /** Where the current unvoiced run began, or -1 while voiced. */
  #quietFrom = -1;

  constructor(cfg: EndpointerConfig, originSample = 0) {
    const ms = (x: number) => Math.round((x * cfg.sampleRate) / 1000);
    this.threshold = cfg.threshold;
    this.negThreshold = cfg.negThreshold ?? Math.max(cfg.threshold - 0.15, 0.01);
    this.window = cfg.windowSamples;
    this.#minSpeech = ms(cfg.minSpeechMs);
    this.#endSilence = ms(cfg.endSilenceMs);
    this.#preRoll = ms(cfg.preRollMs ?? 300);
    this.#onsetGap = ms(cfg.onsetGapMs ?? Math.min(100, cfg.endSilenceMs));
    this.#maxSpeech = ms(cfg.maxSpeechMs ?? 30_000);
    this.reset(originSample);
  }

  /** End of the last window pushed (samples on the caller's audio clock). */
  get position(): number {
    return this.#pos;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** In speech: where the current run of silence began, or -1 while voiced. */
  get quietSince(): number {
    return this.#phase === 'speech' ? this.#quietFrom : -1;
  }

  /** Where the current onset or speech began (meaningful unless idle). */
  get startSample(): number {
    return this.#start;
  }

  get preRollSamples(): number {
    return this.#preRoll;
  }

  /** Earliest sample a start declared later could still need (its pre-roll). */
  get keepFrom(): number {
    const from = this.#phase === 'idle' ? this.#pos : this.#start;
    return Math.max(this.#origin, from - this.#preRoll);
  }

  /** Forgets any onset or speech; the next window begins at `atSample`. */
  reset(atSample = this.#pos): void {
    this.#origin = atSample;
    this.#pos = atSample;
    this.#phase = 'idle';
    this.#start = atSample;
    this.#quietFrom = -1;
  }

  /** Takes the probability of the next window; returns the event it caused, if any. */
  push(prob: number): EndpointEvent | undefined {
    const from = this.#pos;
    const to = (this.#pos += this.window);
    switch (this.#phase) {
      case 'idle':
        if (prob < this.threshold) return undefined;
        this.#phase = 'onset';
        this.#start = from;
        this.#quietFrom = -1;
        return this.#confirm(to);
      case 'onset':
        if (prob >= this.negThreshold) {
          this.#quietFrom = -1;
          return this.#confirm(to);
        }
        if (this.#quietFrom < 0) this.#quietFrom = from;
        if (to - this.#quietFrom >= this.#onsetGap) this.#phase = 'idle';
        return undefined;
      case 'speech':
        if (prob >= this.threshold) this.#quietFrom = -1;
        else if (prob < this.negThreshold && this.#quietFrom < 0) this.#quietFrom = from;
        // Between the thresholds a silence run neither starts nor ends (Silero's hysteresis).
        if (this.#quietFrom >= 0 && to - this.#quietFrom >= this.#endSilence) return this.#end(this.#quietFrom, 'silence');
        if (to - this.#start >= this.#maxSpeech) return this.#end(to, 'max-length');
        return undefined;
    }
  }

  /**
   * Ends what is in progress now (push-to-talk released): speech ends where its trailing silence
   * began, or here. With `acceptOnset`, an onset too short to have been confirmed counts too
   * (the user chose the boundaries), giving a start and an end.
   */
  finalize(acceptOnset = false): EndpointEvent[] {
    if (this.#phase === 'speech') return [this.#end(this.#quietFrom >= 0 ? this.#quietFrom : this.#pos, 'finalize')];
    if (this.#phase === 'onset' && acceptOnset) {
      const start = this.#startEvent();
      return [start, this.#end(this.#quietFrom >= 0 ? this.#quietFrom : this.#pos, 'finalize')];
    }
    this.#phase = 'idle';
    return [];
  }

  #confirm(to: number): EndpointEvent | undefined {
    if (to - this.#start < this.#minSpeech) return undefined;
    this.#phase = 'speech';
    this.#quietFrom = -1;
    return this.#startEvent();
  }

  #startEvent(): EndpointEvent {
    return { kind: 'speech-start', atSample: this.#start, fromSample: Math.max(this.#origin, this.#start - this.#preRoll) };
  }

  #end(at: number, reason: EndReason): EndpointEvent {
    const ev: EndpointEvent = { kind: 'speech-end', atSample: at, startSample: this.#start, reason };
    this.#phase = 'idle';
    this.#quietFrom = -1;
    return ev;
  }
}
