/**
 * Decoded audio → mono 16-bit PCM in chunks of a steady length. Every decoder here hands over
 * pieces of whatever size its format produces (an MP3 read, an Opus packet, a WAV read); the
 * chunker turns them into ~chunkMs chunks, each in its own exact-size ArrayBuffer so the speak
 * actor may transfer it to the codec thread.
 */
import type { PcmChunk } from '../contracts/audio.js';

/** A stretch of decoded mono audio; `pcm` may be reused by the decoder once handed over. */
export interface MonoPiece {
  readonly pcm: Int16Array;
  readonly sampleRate: number;
}

const clip = (x: number): number => (x >= 32767 ? 32767 : x <= -32768 ? -32768 : Math.round(x));

/**
 * Planar float channels ([-1, 1], the wasm decoders' output) → mono by averaging, scaled like
 * the speech path's MP3 decoder (×32767) and clipped: decoders overshoot ±1 on loud masters.
 */
export function downmixFloat(channels: readonly Float32Array[], n: number, gain = 1): Int16Array {
  const out = new Int16Array(n);
  const k = (32767 * gain) / channels.length;
  if (channels.length === 1) {
    const a = channels[0]!;
    for (let i = 0; i < n; i++) out[i] = clip(a[i]! * k);
  } else if (channels.length === 2) {
    const a = channels[0]!;
    const b = channels[1]!;
    for (let i = 0; i < n; i++) out[i] = clip((a[i]! + b[i]!) * k);
  } else {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (const c of channels) s += c[i]!;
      out[i] = clip(s * k);
    }
  }
  return out;
}

export interface ChunkerOptions {
  chunkMs: number;
  /** Total length cap in seconds; Infinity for none. */
  maxSeconds: number;
}

export class Chunker {
  readonly #chunkMs: number;
  readonly #maxSeconds: number;
  #buf: Int16Array = new Int16Array(0);
  #fill = 0;
  #rate = 0;
  /** Seconds handed out or buffered so far, for the cap. */
  #seconds = 0;
  #full = false;

  constructor(o: ChunkerOptions) {
    this.#chunkMs = o.chunkMs;
    this.#maxSeconds = o.maxSeconds;
    this.#full = !(o.maxSeconds > 0);
  }

  /** True once the cap is reached: the caller stops reading. */
  get full(): boolean {
    return this.#full;
  }

  /** Takes a piece (copied: the caller may reuse it); returns the chunks it completed. */
  push(piece: MonoPiece): PcmChunk[] {
    const out: PcmChunk[] = [];
    if (this.#full || piece.pcm.length === 0) return out;
    if (piece.sampleRate !== this.#rate) {
      // A rate change (chained streams, an MP3 that switches) ends the chunk: chunks are one rate.
      const rest = this.flush();
      if (rest) out.push(rest);
      this.#rate = piece.sampleRate;
      this.#buf = new Int16Array(Math.max(1, Math.round((this.#rate * this.#chunkMs) / 1000)));
    }
    let pcm = piece.pcm;
    const left = Math.round((this.#maxSeconds - this.#seconds) * this.#rate);
    if (pcm.length >= left) {
      pcm = pcm.subarray(0, Math.max(0, left));
      this.#full = true;
    }
    this.#seconds += pcm.length / this.#rate;
    let at = 0;
    while (at < pcm.length) {
      const n = Math.min(pcm.length - at, this.#buf.length - this.#fill);
      this.#buf.set(pcm.subarray(at, at + n), this.#fill);
      this.#fill += n;
      at += n;
      if (this.#fill === this.#buf.length) {
        out.push({ pcm: this.#buf, sampleRate: this.#rate });
        this.#buf = new Int16Array(this.#buf.length);
        this.#fill = 0;
      }
    }
    return out;
  }

  /** The partial chunk, if any, in its own exact-size buffer. */
  flush(): PcmChunk | undefined {
    if (this.#fill === 0) return undefined;
    const pcm = this.#buf.slice(0, this.#fill);
    this.#fill = 0;
    return { pcm, sampleRate: this.#rate };
  }
}
