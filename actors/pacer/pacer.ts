/**
 * The pacer: sends each session's downlink Opus frames at real time, on the main thread, from
 * one timer for all sessions.
 *
 *   session ──push(frames, sentence texts, end)──▶ per-session queue ──▶ tick ──▶ socket (corked)
 *
 * It models the device's playback buffer (protocol.md §7.2: 40 packets, played at real time,
 * overflow silently dropped): `bufferEnd` is the clock time at which everything sent so far will
 * have played. A frame goes out when the device would hold fewer than `lead` frames, so the
 * first `lead` frames leave at once (after the start gap), then one per frame period. When the
 * TTS stalls the queue runs dry and the model drains like the device's buffer does; the
 * schedule resumes from there instead of bursting to catch up. A stalled main thread (a 30–70 ms
 * timer hiccup) is absorbed by the lead: on waking it sends only what has fallen due.
 *
 * Text items (`sentence_start`) leave just before the first frame that follows them, so the
 * device shows a subtitle when its audio starts, not seconds early. An end marker reports the
 * playout end (when the last frame will have played) so the session can time `tts stop`.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { Clock, Timer } from '../../runtime/clock.js';
import { Deque } from '../../runtime/deque.js';

export interface PacedLink {
  readonly closed: boolean;
  sendAudio(opus: Uint8Array): number;
  sendText(text: string): number;
  cork(fn: () => void): void;
  bufferedAmount(): number;
}

export interface PacerOptions {
  frameMs: number;
  /** Frames kept queued on the device ahead of playout (3–5 is safe; design.md). */
  leadFrames: number;
  /** Socket bytes buffered beyond which we wait for the socket instead of sending. */
  maxBufferedBytes?: number;
  /**
   * Frames due within this many ms leave together, default 5: one wakeup serves every stream
   * due in that slot instead of one timer per frame, and a pause of the main thread shorter
   * than this (a garbage collection) makes nothing late. The device holds `leadFrames`; 5 ms
   * early is inside that margin.
   */
  coalesceMs?: number;
  clock: Clock;
}

type Item = { k: 'frame'; data: Uint8Array; at: number } | { k: 'text'; text: string; tag: number | undefined } | { k: 'end' };

export interface StreamEvents {
  /** The first frame of the turn left (clock time). */
  onFirstFrame?(at: number): void;
  /** The end marker was reached: everything sent will have played at `playoutEnd`. */
  onEnd?(playoutEnd: number): void;
  /** A text item left (with its first frame): its tag, e.g. the sentence index. */
  onText?(tag: number | undefined): void;
}

interface Stream {
  readonly id: string;
  readonly link: PacedLink;
  turn: number;
  /** No frame before this (tts start + start gap). */
  startAt: number;
  bufferEnd: number;
  queue: Deque<Item>;
  events: StreamEvents;
  framesSent: number;
  firstFrameAt: number | undefined;
}

export interface PacerStats {
  streams: number;
  framesSent: number;
  /**
   * How late frames left after they were both due and queued, ms: the sender's own delay. Over
   * every frame of the current window (see rotate); `latenessWindowMs` is its length.
   */
  latenessP50: number;
  latenessP99: number;
  latenessMax: number;
  latenessWindowMs: number;
  /** The previous window's figures (zeros before the first rotate). */
  lastWindow: { latenessP50: number; latenessP99: number; latenessMax: number; frames: number; windowMs: number };
  /** Frames held back because a socket was backed up. */
  backpressured: number;
}


export class Pacer {
  readonly #o: Required<PacerOptions>;
  readonly #streams = new Map<string, Stream>();
  #timer: Timer | undefined;
  #timerAt = Infinity;
  #framesSent = 0;
  #backpressured = 0;
  /** Lateness of every frame sent this window, µs: a fixed-size HDR histogram, O(1) per frame. */
  readonly #lateness: RecordableHistogram = createHistogram();
  #windowSince = performance.now();
  #lastWindow: PacerStats['lastWindow'] = { latenessP50: 0, latenessP99: 0, latenessMax: 0, frames: 0, windowMs: 0 };

  constructor(opts: PacerOptions) {
    this.#o = { maxBufferedBytes: 256 * 1024, coalesceMs: 5, ...opts };
  }

  /** Starts (or restarts, for a new turn) a session's stream; frames wait until `startAt`. */
  begin(id: string, link: PacedLink, turn: number, startAt: number, events: StreamEvents = {}): void {
    const now = this.#o.clock.now();
    this.#streams.set(id, {
      id,
      link,
      turn,
      startAt,
      bufferEnd: now,
      queue: new Deque(),
      events,
      framesSent: 0,
      firstFrameAt: undefined,
    });
  }

  /** Queues frames of a turn; frames of another turn than the stream's are ignored. */
  pushFrames(id: string, turn: number, frames: readonly Uint8Array[]): void {
    const s = this.#streams.get(id);
    if (!s || s.turn !== turn) return;
    const at = this.#o.clock.now();
    for (const f of frames) s.queue.push({ k: 'frame', data: f, at });
    this.#wake(s);
  }

  pushText(id: string, turn: number, text: string, tag?: number): void {
    const s = this.#streams.get(id);
    if (!s || s.turn !== turn) return;
    s.queue.push({ k: 'text', text, tag });
    this.#wake(s);
  }

  /** No more frames this turn: the end is reported once everything before it has been sent. */
  end(id: string, turn: number): void {
    const s = this.#streams.get(id);
    if (!s || s.turn !== turn) return;
    s.queue.push({ k: 'end' });
    this.#wake(s);
  }

  /** Drops everything queued for a session (barge-in, close); nothing more is sent. */
  cancel(id: string): void {
    this.#streams.delete(id);
  }

  /** Frames waiting to be sent for a session. */
  queued(id: string): number {
    return this.#streams.get(id)?.queue.length ?? 0;
  }

  stats(): PacerStats {
    const w = this.#window();
    return {
      streams: this.#streams.size,
      framesSent: this.#framesSent,
      latenessP50: w.latenessP50,
      latenessP99: w.latenessP99,
      latenessMax: w.latenessMax,
      latenessWindowMs: w.windowMs,
      lastWindow: this.#lastWindow,
      backpressured: this.#backpressured,
    };
  }

  close(): void {
    this.#timer?.cancel();
    this.#streams.clear();
  }

  // ── scheduling ──────────────────────────────────────────────────────────────────────────

  /** When the next frame may leave: once the device would hold at most lead − 1 frames. */
  #due(s: Stream): number {
    return Math.max(s.startAt, s.bufferEnd - (this.#o.leadFrames - 1) * this.#o.frameMs);
  }

  #wake(s: Stream): void {
    const at = s.queue.peek()?.k === 'frame' ? Math.max(s.startAt, this.#due(s) - this.#o.coalesceMs) : this.#o.clock.now();
    this.#arm(at);
  }

  #arm(at: number): void {
    if (at >= this.#timerAt) return;
    this.#timer?.cancel();
    this.#timerAt = at;
    this.#timer = this.#o.clock.setTimer(Math.max(0, at - this.#o.clock.now()), () => this.#tick(), true);
  }

  #tick(): void {
    this.#timerAt = Infinity;
    this.#timer = undefined;
    const now = this.#o.clock.now();
    let next = Infinity;
    for (const s of this.#streams.values()) {
      if (s.link.closed) {
        this.#streams.delete(s.id);
        continue;
      }
      const wait = this.#service(s, now);
      if (wait < next) next = wait;
    }
    if (next < Infinity) this.#arm(next);
  }

  /** Sends what is due for one stream; returns when it next needs attention (Infinity: idle). */
  #service(s: Stream, now: number): number {
    if (s.queue.length === 0) return Infinity;
    if (s.link.bufferedAmount() > this.#o.maxBufferedBytes) {
      this.#backpressured++;
      return now + this.#o.frameMs / 4;
    }
    let wait = Infinity;
    // Never ahead of the start gap: the device gets its `tts start` that long before audio.
    const soon = now < s.startAt ? now : now + this.#o.coalesceMs;
    s.link.cork(() => {
      for (;;) {
        const item = s.queue.peek();
        if (!item) break;
        if (item.k === 'text') {
          // A subtitle leaves with the first frame of its sentence (or with the end, for a
          // sentence that got no audio), not while the previous sentence still plays.
          const after = this.#peekAfterText(s);
          if (after === undefined) break;
          if (after === 'frame' && this.#due(s) > soon) {
            wait = Math.max(s.startAt, this.#due(s) - this.#o.coalesceMs);
            break;
          }
          s.queue.shift();
          s.link.sendText(item.text);
          s.events.onText?.(item.tag);
          continue;
        }
        if (item.k === 'end') {
          s.queue.shift();
          s.events.onEnd?.(Math.max(s.bufferEnd, now));
          continue;
        }
        const due = this.#due(s);
        if (due > soon) {
          wait = Math.max(s.startAt, due - this.#o.coalesceMs);
          break;
        }
        s.queue.shift();
        s.link.sendAudio(item.data);
        // Lateness is ours only from when the frame was both due and here: a frame the TTS
        // delivered late is the vendor's delay (it shows as an underrun), not the sender's.
        this.#record(now - Math.max(due, item.at));
        s.bufferEnd = Math.max(s.bufferEnd, now) + this.#o.frameMs;
        s.framesSent++;
        this.#framesSent++;
        if (s.firstFrameAt === undefined) {
          s.firstFrameAt = now;
          s.events.onFirstFrame?.(now);
        }
      }
    });
    return wait;
  }

  #peekAfterText(s: Stream): Item['k'] | undefined {
    let first = true;
    for (const it of s.queue) {
      if (first) {
        first = false;
        continue;
      }
      if (it.k !== 'text') return it.k;
    }
    return undefined;
  }

  /** Closes the lateness window (the server does so every minute, with the event-loop figures). */
  rotate(): PacerStats['lastWindow'] {
    this.#lastWindow = this.#window();
    this.#lateness.reset();
    this.#windowSince = performance.now();
    return this.#lastWindow;
  }

  #window(): PacerStats['lastWindow'] {
    const h = this.#lateness;
    const frames = h.count;
    const ms = (us: number) => round(us / 1000);
    return {
      latenessP50: frames ? ms(h.percentile(50)) : 0,
      latenessP99: frames ? ms(h.percentile(99)) : 0,
      latenessMax: frames ? ms(h.max) : 0,
      frames,
      windowMs: Math.round(performance.now() - this.#windowSince),
    };
  }

  #record(lateMs: number): void {
    // The histogram takes integers ≥ 1: µs, with on-time frames as 1 µs.
    this.#lateness.record(Math.max(1, Math.round(lateMs * 1000)));
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
