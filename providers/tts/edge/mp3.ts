/**
 * MP3 → 16-bit PCM, incrementally, with mpg123 compiled to wasm (`mpg123-decoder`): no ffmpeg,
 * no native code, safe in worker threads (each thread instantiates its own module). Bytes go in
 * as the network delivers them, split anywhere; mpg123 keeps partial frames until the rest
 * arrives, so each push returns the whole frames completed so far and first audio never waits
 * for the end of the sentence.
 *
 * One decoder per synthesis (see EdgeTts: a used decoder's state bleeds into the next stream).
 */
import { MPEGDecoder } from 'mpg123-decoder';
import { XzError } from '../../../runtime/errors.js';
import { TTS } from '../errors.js';

export class Mp3Decoder {
  readonly #dec = new MPEGDecoder();
  readonly #rate: number;
  #freed = false;

  private constructor(rate: number) {
    this.#rate = rate;
  }

  /** A decoder that insists on `sampleRate` (what the provider declared). */
  static async create(sampleRate: number): Promise<Mp3Decoder> {
    const d = new Mp3Decoder(sampleRate);
    await d.#dec.ready;
    return d;
  }

  /** Feeds MP3 bytes; returns the samples they completed (possibly none), as an owned array. */
  push(bytes: Uint8Array): Int16Array {
    if (this.#freed || bytes.byteLength === 0) return new Int16Array(0);
    const r = this.#dec.decode(bytes);
    if (r.samplesDecoded === 0) return new Int16Array(0);
    if (r.sampleRate !== this.#rate) {
      throw new XzError(TTS.XZ_ERR_TTS_BAD_AUDIO, `MP3 stream is ${r.sampleRate} Hz, declared ${this.#rate} Hz`);
    }
    // Mono MP3 comes out as two identical channels; the first is the signal.
    return toInt16(r.channelData[0]!, r.samplesDecoded);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#dec.free();
  }
}

function toInt16(f: Float32Array, n: number): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const s = f[i]!;
    out[i] = s >= 1 ? 32767 : s <= -1 ? -32768 : Math.round(s * 32767);
  }
  return out;
}
