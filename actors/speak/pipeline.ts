/**
 * One turn's audio, in sentence order. Sentences reach the speak actor from two places — whole
 * sentences and music from the session, sentence pieces straight from the think actor — over
 * different channels, so they can arrive out of order; each becomes a job under its index and one
 * pump plays the jobs 0, 1, 2… and hands each sentence's PCM to the codec, closing it with `last`.
 *
 * Message handlers only file jobs and return: pieces of sentence k keep arriving while k is being
 * synthesized. The pump lives as long as its turn (a turn signal from the runtime), so a barge-in
 * stops the vendor stream at once, as it stopped a handler before.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PcmChunk } from '../../providers/contracts/audio.js';
import type { TtsProvider, Voice } from '../../providers/contracts/tts.js';
import { openTrack } from '../../providers/media/track.js';
import { joinPieces } from '../think/sentences.js';

/**
 * How far a turn's audio may run ahead of playback. A vendor that synthesizes faster than real
 * time is read only this far ahead (TCP holds the rest), so a long answer or a song is not
 * encoded in one burst and does not sit as thousands of frames in the main thread's pacer, where
 * every garbage collection would copy them. Enough to ride out a stall; first audio is never held.
 */
export const AHEAD_MS = 2000;

type Job =
  | { kind: 'text'; voice: Voice; pieces: string[]; ended: boolean; streamed: boolean }
  | { kind: 'play'; path: string; maxSeconds: number };

export interface PipelineSink {
  /** PCM of sentence `sentence` (owned, transferable); `last` closes it. */
  pcm(sentence: number, pcm: Int16Array, sampleRate: number, last: boolean): void;
  failed(sentence: number, error: unknown): void;
}

export class TurnPipeline {
  readonly turn: number;
  readonly #signal: AbortSignal;
  readonly #tts: () => Promise<TtsProvider>;
  readonly #sink: PipelineSink;
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  #waiters: (() => void)[] = [];
  #pumping = false;
  /** Audio handed to the codec this turn, ms, and when the first of it left. */
  #emittedMs = 0;
  #firstAt = -1;

  constructor(turn: number, signal: AbortSignal, tts: () => Promise<TtsProvider>, sink: PipelineSink) {
    this.turn = turn;
    this.#signal = signal;
    this.#tts = tts;
    this.#sink = sink;
    signal.addEventListener('abort', () => this.#poke(), { once: true });
  }

  /** A whole sentence (session) or a piece of one (think; `end` closes it). */
  text(sentence: number, text: string, voice: Voice, end: boolean, streamed: boolean): void {
    let job = this.#jobs.get(sentence);
    if (!job) this.#jobs.set(sentence, (job = { kind: 'text', voice, pieces: [], ended: false, streamed }));
    if (job.kind !== 'text' || job.ended) return;
    if (text !== '') job.pieces.push(text);
    if (end) job.ended = true;
    this.#start();
  }

  play(sentence: number, path: string, maxSeconds: number): void {
    if (!this.#jobs.has(sentence)) this.#jobs.set(sentence, { kind: 'play', path, maxSeconds });
    this.#start();
  }

  #start(): void {
    this.#poke();
    if (this.#pumping || this.#signal.aborted) return;
    this.#pumping = true;
    void this.#pump().finally(() => (this.#pumping = false));
  }

  #poke(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  /** Until something new is filed (or the turn is over). */
  #changed(): Promise<void> {
    if (this.#signal.aborted) return Promise.resolve();
    return new Promise((r) => this.#waiters.push(r));
  }

  async #pump(): Promise<void> {
    while (!this.#signal.aborted) {
      const job = this.#jobs.get(this.#next);
      if (!job) {
        await this.#changed();
        continue;
      }
      const index = this.#next;
      let rate = 16_000;
      try {
        rate = job.kind === 'play' ? await this.#play(index, job) : await this.#say(index, job);
      } catch (e) {
        if (this.#signal.aborted) return;
        this.#sink.failed(index, e);
      }
      if (this.#signal.aborted) return;
      this.#sink.pcm(index, new Int16Array(0), rate, true);
      this.#jobs.delete(index);
      this.#next++;
    }
  }

  async #say(index: number, job: Extract<Job, { kind: 'text' }>): Promise<number> {
    const tts = await this.#tts();
    let rate = tts.caps.sampleRate;
    const signal = this.#signal;
    let audio: AsyncIterable<PcmChunk>;
    if (job.streamed && tts.open && tts.caps.streamingText) {
      const session = tts.open(job.voice, signal);
      void this.#feed(job, session);
      audio = session;
    } else {
      // A TTS that wants whole text: the sentence once its last piece is in.
      while (!job.ended && !signal.aborted) await this.#changed();
      const text = joinPieces(job.pieces);
      if (text.trim() === '' || signal.aborted) return rate;
      audio = tts.synthesize({ text, voice: job.voice, signal });
    }
    for await (const chunk of audio) {
      rate = chunk.sampleRate;
      this.#sink.pcm(index, owned(chunk.pcm), rate, false);
      await this.#pace(chunk.pcm.length, rate);
    }
    return rate;
  }

  /** Holds the reader back once the turn's audio is AHEAD_MS past the wall clock. */
  async #pace(samples: number, rate: number): Promise<void> {
    const now = performance.now();
    if (this.#firstAt < 0) this.#firstAt = now;
    this.#emittedMs += (samples / rate) * 1000;
    const wait = this.#emittedMs - (now - this.#firstAt) - AHEAD_MS;
    if (wait > 0) await sleep(wait, undefined, { signal: this.#signal });
  }

  /** Pushes the sentence's pieces into the vendor session as they arrive, then ends it. */
  async #feed(job: Extract<Job, { kind: 'text' }>, session: { pushText(t: string): void; end(): void }): Promise<void> {
    let sent = 0;
    try {
      for (;;) {
        while (sent < job.pieces.length) session.pushText(job.pieces[sent++]!);
        if (job.ended || this.#signal.aborted) break;
        await this.#changed();
      }
      if (!this.#signal.aborted) session.end();
    } catch {
      // The session failed; its iteration reports why.
    }
  }

  async #play(index: number, job: Extract<Job, { kind: 'play' }>): Promise<number> {
    let rate = 16_000;
    for await (const chunk of openTrack(job.path, { signal: this.#signal, maxSeconds: job.maxSeconds })) {
      rate = chunk.sampleRate;
      this.#sink.pcm(index, chunk.pcm, rate, false);
      await this.#pace(chunk.pcm.length, rate);
    }
    return rate;
  }
}

/** The chunk may be a view into a larger buffer: move a copy we own. */
function owned(pcm: Int16Array): Int16Array {
  return pcm.byteOffset === 0 && pcm.byteLength === pcm.buffer.byteLength ? pcm : pcm.slice();
}
