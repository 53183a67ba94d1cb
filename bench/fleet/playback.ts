/**
 * The device's playback buffer (protocol.md §7.2), modelled from arrival times alone: the firmware
 * queues at most 40 decoded-to-be packets and silently drops arrivals beyond that, and plays one
 * packet per frame duration, starting as soon as a packet is there (it has no jitter buffer).
 *
 * Because packets play back to back, the whole state is `playEnd`, the moment the last accepted
 * packet finishes playing. At an arrival at time t:
 *   - t ≥ playEnd: the buffer had run dry. For any packet but the turn's first, t > playEnd is an
 *     underrun (the speaker went silent mid-answer for t − playEnd ms); playback restarts at t.
 *   - otherwise ceil((playEnd − t) / frame) packets are unfinished, one of them playing; the rest
 *     are queued. With 40 queued the arrival is dropped (overflow), as the firmware does.
 * No timers are needed, so the model costs a few arithmetic operations per frame and can be unit
 * tested with synthetic arrival times.
 */

export const DEVICE_QUEUE_PACKETS = 40;
/** Packets after which the buffer's headroom counts as steady state. */
export const STEADY_AFTER = 10;

export interface PlaybackTurn {
  /** Packets accepted into the buffer. */
  accepted: number;
  /** Arrivals dropped because 40 packets were already queued. */
  overflows: number;
  /** Times the buffer ran dry before a later packet of the same turn arrived. */
  underruns: number;
  /** Total silence those underruns caused, ms. */
  underrunMs: number;
  /**
   * Least audio buffered ahead of playout when a packet arrived, once the turn is under way (from
   * the STEADY_AFTER-th packet: at a turn's start the buffer is shallow by nature and the
   * underrun count covers it), ms; Infinity if the turn was shorter.
   */
  minHeadroomMs: number;
  /** When the last accepted packet finishes playing (the computed playout end). */
  playEnd: number;
}

export class PlaybackBuffer {
  readonly capacity: number;
  frameMs: number;
  #playEnd = -Infinity;
  #first = true;
  #turn: PlaybackTurn = blank();

  constructor(frameMs = 60, capacity = DEVICE_QUEUE_PACKETS) {
    this.frameMs = frameMs;
    this.capacity = capacity;
  }

  /**
   * Entering "speaking" resets the decoder and discards queued audio (protocol.md §6.2 tts
   * start), so each turn starts with an empty buffer.
   */
  startTurn(): void {
    this.#playEnd = -Infinity;
    this.#first = true;
    this.#turn = blank();
  }

  /** Packets waiting to play at time t (not counting the one playing). */
  queuedAt(t: number): number {
    if (t >= this.#playEnd) return 0;
    // The epsilon keeps float noise from counting a packet that finishes exactly at t.
    const unfinished = Math.ceil((this.#playEnd - t) / this.frameMs - 1e-9);
    return Math.max(0, unfinished - 1);
  }

  /** Records one packet arriving at time t; returns false when the device would drop it. */
  arrive(t: number): boolean {
    const turn = this.#turn;
    if (t >= this.#playEnd) {
      // Arriving exactly as the last packet ends leaves no audible gap.
      if (!this.#first && t > this.#playEnd) {
        turn.underruns++;
        turn.underrunMs += t - this.#playEnd;
      }
      if (turn.accepted >= STEADY_AFTER) turn.minHeadroomMs = 0;
      this.#first = false;
      this.#playEnd = t + this.frameMs;
      turn.accepted++;
      turn.playEnd = this.#playEnd;
      return true;
    }
    if (turn.accepted >= STEADY_AFTER) turn.minHeadroomMs = Math.min(turn.minHeadroomMs, this.#playEnd - t);
    if (this.queuedAt(t) >= this.capacity) {
      turn.overflows++;
      return false;
    }
    this.#playEnd += this.frameMs;
    turn.accepted++;
    turn.playEnd = this.#playEnd;
    return true;
  }

  /** When the accepted audio finishes playing (−Infinity before any packet). */
  get playEnd(): number {
    return this.#playEnd;
  }

  /** True while accepted audio is still playing at time t. */
  playingAt(t: number): boolean {
    return t < this.#playEnd;
  }

  get turn(): Readonly<PlaybackTurn> {
    return this.#turn;
  }
}

function blank(): PlaybackTurn {
  return { accepted: 0, overflows: 0, underruns: 0, underrunMs: 0, minHeadroomMs: Infinity, playEnd: -Infinity };
}
