/**
 * MP3 files → mono PCM at the file's own rate, decoded by mpg123 compiled to wasm
 * (`mpg123-decoder`, one wasm instance per decoder: safe in worker threads).
 *
 * providers/tts/edge/mp3.ts decodes a vendor's stream whose rate is declared up front and keeps
 * channel 0 only; music comes at any rate, in stereo, so both channels are averaged here and the
 * rate is whatever the frames say.
 *
 * mpg123 skips damaged bytes silently and says nothing when the file ends mid-frame, so the frame
 * headers are walked alongside (cheap: 4 bytes per 26 ms frame) to notice a truncated file: the
 * last frame reaching past the end, or fewer frames than the Xing/Info header counted.
 */
import { MPEGDecoder } from 'mpg123-decoder';
import { XzError } from '../../runtime/errors.js';
import { MEDIA } from './errors.js';
import { downmixFloat, type MonoPiece } from './pcm.js';
import type { FileSource } from './source.js';

/** mpg123 is fed in slices this big, so a 64 KiB read (seconds of audio) is not one big step. */
const FEED_BYTES = 16 * 1024;

// Bitrates in kbit/s by [version is MPEG-1][layer index], index 1–14 (0 is free format).
const BITRATES: Record<string, readonly number[]> = {
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  '2-3': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES: Record<number, readonly number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

export interface FrameHeader {
  /** Bytes of the whole frame; 0 for free-format frames (length unknown from the header). */
  length: number;
  sampleRate: number;
  /** MPEG-1 (true) or 2/2.5. */
  mpeg1: boolean;
  layer: number;
  mono: boolean;
}

/** Parses a 4-byte MPEG audio frame header at `at`, or undefined when it is not one. */
export function frameHeader(b: Uint8Array, at: number): FrameHeader | undefined {
  if (at + 4 > b.length) return undefined;
  const b1 = b[at + 1]!;
  const b2 = b[at + 2]!;
  if (b[at] !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined;
  const version = (b1 >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
  const layerBits = (b1 >> 1) & 3; // 3: layer I, 2: II, 1: III, 0: reserved (AAC ADTS lands here)
  const brIndex = b2 >> 4;
  const srIndex = (b2 >> 2) & 3;
  if (version === 1 || layerBits === 0 || brIndex === 15 || srIndex === 3) return undefined;
  const mpeg1 = version === 3;
  const layer = 4 - layerBits;
  const sampleRate = RATES[version]![srIndex]!;
  const bitrate = BITRATES[`${mpeg1 ? 1 : 2}-${layer}`]![brIndex]! * 1000;
  const pad = (b2 >> 1) & 1;
  let length = 0;
  if (bitrate > 0) {
    if (layer === 1) length = (Math.floor((12 * bitrate) / sampleRate) + pad) * 4;
    else if (layer === 3 && !mpeg1) length = Math.floor((72 * bitrate) / sampleRate) + pad;
    else length = Math.floor((144 * bitrate) / sampleRate) + pad;
  }
  return { length, sampleRate, mpeg1, layer, mono: b[at + 3]! >> 6 === 3 };
}

/** Size of an ID3v2 tag at `at` (header, body and footer), or 0 when there is none. */
export function id3Size(b: Uint8Array, at: number): number {
  if (at + 10 > b.length || b[at] !== 0x49 || b[at + 1] !== 0x44 || b[at + 2] !== 0x33) return 0; // "ID3"
  const s = [b[at + 6]!, b[at + 7]!, b[at + 8]!, b[at + 9]!];
  if (s.some((x) => x & 0x80)) return 0; // sizes are "syncsafe": 7 bits per byte
  const footer = b[at + 5]! & 0x10 ? 10 : 0;
  return 10 + ((s[0]! << 21) | (s[1]! << 14) | (s[2]! << 7) | s[3]!) + footer;
}

/**
 * File offset of the first MPEG audio frame in `b` (which starts at file offset `base`): the first
 * header followed by a second exactly one frame later, or undefined when there is none.
 */
export function findFrames(b: Uint8Array, base = 0): number | undefined {
  for (let at = 0; at + 4 <= b.length; at++) {
    const h = frameHeader(b, at);
    if (!h) continue;
    // One header may be chance; a second exactly one frame later is not.
    if (h.length === 0 || frameHeader(b, at + h.length)) return base + at;
    if (at + h.length + 4 > b.length && at === 0) return base; // a one-frame file
  }
  return undefined;
}

/** Audio frames the Xing/Info header (LAME, most encoders) says the file has, if it says. */
function xingFrames(frame: Uint8Array, h: FrameHeader): number | undefined {
  const side = h.mpeg1 ? (h.mono ? 17 : 32) : h.mono ? 9 : 17;
  const at = 4 + side;
  if (frame.length < at + 12) return undefined;
  const tag = String.fromCharCode(...frame.subarray(at, at + 4));
  if (tag !== 'Xing' && tag !== 'Info') return undefined;
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return v.getUint32(at + 4) & 1 ? v.getUint32(at + 8) : undefined;
}

/**
 * Follows frame headers through the byte stream. After junk (tags at the end, damage) a header
 * found by searching is only a candidate until the next header, exactly one frame later,
 * confirms it: a stray 0xFFF in an ID3v1 tag must not read as a frame cut short.
 */
class FrameWalker {
  /** File offset of the next expected header. */
  #next: number;
  /** Bytes from #tailAt on, kept when a header straddles two pieces (at most 3). */
  #tail: Uint8Array = new Uint8Array(0);
  #tailAt: number;
  /** The header at #next follows a confirmed frame (false: searching, or a candidate). */
  #synced = true;
  #candidate = false;
  /** End of the last confirmed frame. */
  #lastEnd = 0;
  #first = true;
  frames = 0;
  declared: number | undefined;
  /** Free-format streams (no frame length in the header) cannot be walked. */
  off = false;

  constructor(start: number) {
    this.#next = start;
    this.#tailAt = start;
  }

  push(bytes: Uint8Array): void {
    if (this.off) return;
    const b = this.#tail.length ? concat(this.#tail, bytes) : bytes;
    const base = this.#tailAt;
    for (;;) {
      const at = this.#next - base;
      if (at + 4 > b.length) break;
      const h = frameHeader(b, at);
      if (h && h.length === 0) {
        this.off = true;
        return;
      }
      if (h && this.#synced) {
        if (this.#first) {
          this.#first = false;
          // The Xing/Info frame is silent metadata, not one of the frames it counts.
          const x = at + h.length <= b.length ? xingFrames(b.subarray(at, at + h.length), h) : undefined;
          if (x !== undefined) this.declared = x;
          else this.frames++;
        } else this.frames++;
        this.#next += h.length;
        this.#lastEnd = this.#next;
        continue;
      }
      if (h) {
        if (this.#candidate) {
          // Two headers in a row: the candidate was a frame, and this one is followed for real.
          this.#synced = true;
          this.#candidate = false;
          this.frames++;
          continue;
        }
        this.#candidate = true;
        this.#next += h.length;
        continue;
      }
      // Junk where a header should be: search on from the next byte.
      this.#synced = false;
      this.#candidate = false;
      this.#next++;
      while (this.#next - base + 1 < b.length && !(b[this.#next - base] === 0xff && (b[this.#next - base + 1]! & 0xe0) === 0xe0)) this.#next++;
    }
    // Keep the bytes from the next expected header on: fewer than 4, or none when that header lies
    // beyond this piece.
    const keep = Math.min(b.length, this.#next - base);
    this.#tail = b.slice(keep);
    this.#tailAt = base + keep;
  }

  /** Why the file looks truncated at `size` bytes, or undefined when it does not. */
  truncation(size: number): string | undefined {
    if (this.off) return undefined;
    if (this.#synced && this.#lastEnd > size) return `the last frame is cut short (${this.#lastEnd - size} bytes missing)`;
    // One frame of slack: encoders disagree on whether the count includes the Xing frame itself.
    if (this.declared !== undefined && this.frames < this.declared - 1) return `${this.frames} of ${this.declared} frames present`;
    return undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

class Decoder {
  readonly #dec = new MPEGDecoder();
  #freed = false;

  static async create(): Promise<Decoder> {
    const d = new Decoder();
    await d.#dec.ready;
    return d;
  }

  decode(bytes: Uint8Array): { channelData: Float32Array[]; samplesDecoded: number; sampleRate: number } {
    if (this.#freed) return { channelData: [], samplesDecoded: 0, sampleRate: 0 };
    return this.#dec.decode(bytes);
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#dec.free();
  }
}

/** Decodes the MP3 whose first frame is at file offset `start`. */
export async function* decodeMp3(src: FileSource, start: number, own: (free: () => void) => void): AsyncGenerator<MonoPiece> {
  const dec = await Decoder.create();
  own(dec.free.bind(dec));
  const walker = new FrameWalker(start);
  let end = start;
  let any = false;
  try {
    for await (const bytes of src.stream(start)) {
      end += bytes.length;
      walker.push(bytes);
      for (let at = 0; at < bytes.length; at += FEED_BYTES) {
        const r = dec.decode(bytes.subarray(at, at + FEED_BYTES));
        if (r.samplesDecoded === 0) continue;
        any = true;
        // mpg123 always hands out two channels (mono repeated), so averaging them is right for both.
        yield { pcm: downmixFloat(r.channelData, r.samplesDecoded), sampleRate: r.sampleRate };
      }
    }
    const why = walker.truncation(end);
    if (why) throw new XzError(MEDIA.XZ_ERR_MEDIA_CORRUPT, `${src.path}: MP3 is truncated or damaged: ${why}`, { details: { path: src.path, format: 'mp3' } });
    if (!any) throw new XzError(MEDIA.XZ_ERR_MEDIA_CORRUPT, `${src.path}: MP3 has no decodable frames`, { details: { path: src.path, format: 'mp3' } });
  } finally {
    dec.free();
  }
}
