/**
 * Reads a WAV stream as it arrives: the header first (wherever its chunks end), then PCM in
 * whatever pieces the pipe delivers. Synthesisers that stream to stdout cannot know the length
 * up front and write a placeholder size (espeak-ng: 0x7ffff000), so the `data` size is ignored
 * and the audio runs until the stream ends.
 *
 * Only what TTS vendors send is accepted: 16-bit integer PCM, mono.
 */
import { XzError } from '../../runtime/errors.js';
import { TTS } from './errors.js';

export interface WavFormat {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
}

/** Headers beyond this are not a synthesiser's WAV. */
const MAX_HEADER = 64 * 1024;
const FORMAT_PCM = 1;
const FORMAT_EXTENSIBLE = 0xfffe;

const bad = (why: string): XzError => new XzError(TTS.XZ_ERR_TTS_BAD_AUDIO, `WAV stream: ${why}`);

export class WavStreamParser {
  format: WavFormat | undefined;
  #head: Buffer = Buffer.alloc(0);
  #inData = false;
  readonly #pcm = new PcmReframer();

  /** Feeds bytes; returns the whole samples now available (an owned, transferable array). */
  push(chunk: Uint8Array): Int16Array {
    if (this.#inData) return this.#samples(chunk);
    this.#head = Buffer.concat([this.#head, chunk]);
    const at = this.#parseHeader();
    if (at === undefined) {
      if (this.#head.length > MAX_HEADER) throw bad('no data chunk in the first 64 KiB');
      return new Int16Array(0);
    }
    this.#inData = true;
    const rest = this.#head.subarray(at);
    this.#head = Buffer.alloc(0);
    return this.#samples(rest);
  }

  /** True once the stream ended on a whole sample (a dangling byte means a cut stream). */
  get complete(): boolean {
    return this.#inData && !this.#pcm.dangling;
  }

  /** Offset of the first audio byte, once the header is all here; throws on a malformed one. */
  #parseHeader(): number | undefined {
    const h = this.#head;
    if (h.length < 12) return undefined;
    if (h.toString('latin1', 0, 4) !== 'RIFF' || h.toString('latin1', 8, 12) !== 'WAVE') throw bad('not RIFF/WAVE');
    let at = 12;
    while (h.length - at >= 8) {
      const id = h.toString('latin1', at, at + 4);
      const size = h.readUInt32LE(at + 4);
      const body = at + 8;
      if (id === 'data') {
        if (!this.format) throw bad('data before fmt');
        return body;
      }
      if (h.length < body + size) return undefined;
      if (id === 'fmt ') {
        if (size < 16) throw bad('short fmt chunk');
        const tag = h.readUInt16LE(body);
        const fmt: WavFormat = { channels: h.readUInt16LE(body + 2), sampleRate: h.readUInt32LE(body + 4), bitsPerSample: h.readUInt16LE(body + 14) };
        if (tag !== FORMAT_PCM && tag !== FORMAT_EXTENSIBLE) throw bad(`format tag ${tag} is not PCM`);
        if (fmt.bitsPerSample !== 16) throw bad(`${fmt.bitsPerSample}-bit samples, want 16`);
        if (fmt.channels !== 1) throw bad(`${fmt.channels} channels, want mono`);
        if (fmt.sampleRate < 8000 || fmt.sampleRate > 192_000) throw bad(`sample rate ${fmt.sampleRate}`);
        this.format = fmt;
      }
      at = body + size + (size & 1); // chunks are padded to even sizes
    }
    return undefined;
  }

  #samples(bytes: Uint8Array): Int16Array {
    return this.#pcm.push(bytes);
  }

}

/**
 * Byte chunks → whole little-endian samples, carrying a split sample across chunks. Chunks can
 * start at odd offsets, so bytes are copied into a fresh aligned buffer (every host Node runs the
 * server on is little-endian, as WAV and raw PCM are).
 */
export class PcmReframer {
  #carry: number | undefined;

  push(bytes: Uint8Array): Int16Array {
    const extra = this.#carry === undefined ? 0 : 1;
    const n = (bytes.byteLength + extra) >> 1;
    const out = new Int16Array(n);
    const dst = new Uint8Array(out.buffer);
    let src = 0;
    if (extra && n > 0) {
      dst[0] = this.#carry!;
      dst[1] = bytes[0]!;
      src = 1;
      this.#carry = undefined;
    }
    const whole = (n - extra) * 2;
    dst.set(bytes.subarray(src, src + whole), extra * 2);
    src += whole;
    if (src < bytes.byteLength) this.#carry = bytes[src];
    return out;
  }

  /** A byte left at the end means the body was cut inside a sample. */
  get dangling(): boolean {
    return this.#carry !== undefined;
  }
}
