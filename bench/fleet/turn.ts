/**
 * Latency bookkeeping for one conversational turn, from the device's side of the socket. The
 * reference point is the end of speech: the moment the device sent the last voiced frame of its
 * utterance. Everything the server does after that (VAD end-of-utterance, ASR, LLM, TTS, pacing)
 * is in the measured latencies; everything before it is the user talking.
 *
 *   eos ──▶ stt ──▶ tts start ──▶ first audio frame … last frame ──▶ tts stop
 *
 * Jitter is the RFC 3550 interarrival estimator (J += (|D| − J) / 16, D = arrival spacing minus
 * the frame duration), reported as its value at the end of the turn. It starts after the lead
 * burst (the frames a server sends at once before pacing, which would otherwise read as 60 ms of
 * jitter each): from the first spacing of at least a quarter frame. Pure: times are passed in.
 */

/**
 * answered: tts start came after the user spoke; no-reply: it never came; stalled: it came but
 * tts stop did not; unsolicited: the server spoke without a user turn (a greeting, a push).
 */
export type TurnOutcome = 'answered' | 'no-reply' | 'stalled' | 'unsolicited';

export interface TurnResult {
  outcome: TurnOutcome;
  /** ms from end of speech; NaN when that event did not happen (or came before end of speech). */
  eosToStt: number;
  eosToTtsStart: number;
  eosToFirstAudio: number;
  /** Gap the server left between tts start and the first frame (its start gap plus pacing). */
  ttsStartToFirstAudio: number;
  /** tts stop minus the computed playout end; negative = the stop would cut the tail. */
  ttsStopAfterPlayout: number;
  frames: number;
  jitterMs: number;
  /** How long the reply audio lasted on the speaker (first arrival → playout end), ms. */
  replyMs: number;
}

export class TurnTimeline {
  eos = NaN;
  stt = NaN;
  ttsStart = NaN;
  firstAudio = NaN;
  lastAudio = NaN;
  ttsStop = NaN;
  playoutEnd = NaN;
  frames = 0;
  jitter = 0;
  frameMs: number;
  #paced = false;
  #pacedGaps = 0;

  constructor(frameMs = 60) {
    this.frameMs = frameMs;
  }

  reset(frameMs = this.frameMs): void {
    this.eos = this.stt = this.ttsStart = this.firstAudio = this.lastAudio = this.ttsStop = this.playoutEnd = NaN;
    this.frames = 0;
    this.jitter = 0;
    this.#paced = false;
    this.#pacedGaps = 0;
    this.frameMs = frameMs;
  }

  speechEnded(t: number): void {
    this.eos = t;
  }

  sttAt(t: number): void {
    if (Number.isNaN(this.stt)) this.stt = t;
  }

  /** A repeated tts start inside one turn changes nothing on the device, nor here. */
  ttsStartAt(t: number): void {
    if (Number.isNaN(this.ttsStart)) this.ttsStart = t;
  }

  /** Records an audio frame; returns its spacing from the previous one (NaN for the first). */
  audioAt(t: number): number {
    this.frames++;
    if (Number.isNaN(this.firstAudio)) {
      this.firstAudio = t;
      this.lastAudio = t;
      return NaN;
    }
    const gap = t - this.lastAudio;
    this.lastAudio = t;
    if (!this.#paced && gap >= this.frameMs / 4) this.#paced = true;
    if (this.#paced) {
      this.#pacedGaps++;
      this.jitter += (Math.abs(gap - this.frameMs) - this.jitter) / 16;
    }
    return gap;
  }

  ttsStopAt(t: number, playoutEnd: number): void {
    if (!Number.isNaN(this.ttsStop)) return;
    this.ttsStop = t;
    this.playoutEnd = playoutEnd;
  }

  get answered(): boolean {
    return !Number.isNaN(this.ttsStart);
  }

  result(outcome: TurnOutcome): TurnResult {
    const since = (t: number) => (Number.isNaN(this.eos) || Number.isNaN(t) || t < this.eos ? NaN : t - this.eos);
    const hasPlayout = Number.isFinite(this.playoutEnd);
    return {
      outcome,
      eosToStt: since(this.stt),
      eosToTtsStart: since(this.ttsStart),
      eosToFirstAudio: since(this.firstAudio),
      ttsStartToFirstAudio: Number.isNaN(this.ttsStart) || Number.isNaN(this.firstAudio) ? NaN : this.firstAudio - this.ttsStart,
      ttsStopAfterPlayout: Number.isNaN(this.ttsStop) || !hasPlayout ? NaN : this.ttsStop - this.playoutEnd,
      frames: this.frames,
      jitterMs: this.#pacedGaps > 0 ? this.jitter : NaN,
      replyMs: Number.isNaN(this.firstAudio) || !hasPlayout ? NaN : this.playoutEnd - this.firstAudio,
    };
  }
}
