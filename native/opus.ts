/**
 * Worker-safe Opus for the codec actors: uplink decode (16 kHz mono) and downlink encode.
 *
 * Backed by @discordjs/opus (libopus 1.3.1, built from source here): the fastest decoder and
 * encoder measured among the worker-safe ones (`npm run bench -- opus`), and its objects are
 * freed by N-API finalizers, so a worker holding them may exit or be terminated — but not while
 * it is inside encode/decode: the binding's old node-addon-api then aborts the process. Callers
 * in workers wrap each call in runtime/native-gate's `nativeCall`. Never import the native build
 * of @evan/opus in a worker: it segfaults the process on worker exit (dependencies.md).
 *
 * Errors are plain `Error`s with a `code` (OpusErrorCode): native/ may not import the error
 * registry; the codec actor maps them to registered XZ_ERR_CODEC_* codes.
 */
import { createRequire } from 'node:module';

interface NativeCodec {
  encode(pcm: Buffer): Buffer;
  decode(packet: Buffer): Buffer;
  applyEncoderCTL(ctl: number, value: number): void;
  applyDecoderCTL(ctl: number, value: number): void;
  setBitrate(bitrate: number): void;
  getBitrate(): number;
}

const require = createRequire(import.meta.url);
const { OpusEncoder: Native } = require('@discordjs/opus') as { OpusEncoder: new (rate: number, channels: number) => NativeCodec };

/** libopus CTL request numbers (opus_defines.h). */
const CTL = {
  SET_APPLICATION: 4000,
  SET_BITRATE: 4002,
  SET_VBR: 4006,
  SET_COMPLEXITY: 4010,
  RESET_STATE: 4028,
} as const;
const APPLICATION_AUDIO = 2049;

export type OpusErrorCode =
  /** The packet is not valid Opus (libopus OPUS_INVALID_PACKET and friends). */
  | 'OPUS_INVALID_PACKET'
  /** libopus failed for another reason while decoding. */
  | 'OPUS_DECODE_FAILED'
  /** A frame handed to the encoder is not exactly frameSamples long. */
  | 'OPUS_BAD_FRAME'
  | 'OPUS_ENCODE_FAILED'
  /** Unsupported rate, frame length, complexity or bitrate. */
  | 'OPUS_BAD_CONFIG'
  /** Used after free(). */
  | 'OPUS_FREED';

export class OpusError extends Error {
  readonly code: OpusErrorCode;
  constructor(code: OpusErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'OpusError';
    this.code = code;
  }
}

export interface OpusDecoder {
  /**
   * One packet → 16 kHz mono PCM (its own ArrayBuffer: transferable). DTX packets (0–3 bytes)
   * give silence of the packet's duration (the previous packet's when it has no TOC) without
   * touching the decoder. Throws OpusError OPUS_INVALID_PACKET on garbage.
   */
  decode(packet: Uint8Array): Int16Array;
  reset(): void;
  free(): void;
}

export interface OpusEncoder {
  readonly sampleRate: number;
  readonly frameSamples: number;
  /** Exactly frameSamples of mono PCM → one packet of exactly frameMs (its own ArrayBuffer). */
  encode(frame: Int16Array): Uint8Array;
  reset(): void;
  free(): void;
}

export interface EncoderOptions {
  sampleRate: 8000 | 16000 | 24000 | 48000;
  frameMs: 20 | 40 | 60 | 120;
  /** 0–10: 5 is the default downlink setting (design.md budgets). */
  complexity: number;
  /** Bits per second; default DEFAULT_BITRATE. */
  bitrate?: number;
}

/** Packets this short are DTX/comfort frames from a device's encoder (protocol.md §7.1). */
export const DTX_MAX_BYTES = 3;
/**
 * Downlink bitrate: 24 kbps VBR in the general-audio application. Speech from TTS at 24 kHz is
 * clear at 24 kbps; `audio` keeps the encoder in CELT/hybrid, which costs less per frame than the
 * `voip` application's SILK path at the same complexity (bench: opus) and adds no voip
 * pre-processing (high-pass, echo-friendly tuning) that machine speech does not need.
 */
export const DEFAULT_BITRATE = 24_000;
export const UPLINK_RATE = 16_000;

const ENCODER_RATES = new Set([8000, 16000, 24000, 48000]);
const FRAME_MS = new Set([20, 40, 60, 120]);

/**
 * Samples per channel a packet decodes to at `rate`, from its TOC byte (RFC 6716 §3.1), or -1
 * when the packet is too short or malformed to say.
 */
export function packetSamples(packet: Uint8Array, rate: number): number {
  const toc = packet[0];
  if (toc === undefined) return -1;
  const config = toc >> 3;
  // Frame duration in units of 2.5 ms.
  let units: number;
  if (config < 12) units = [4, 8, 16, 24][config & 3]!; // SILK 10/20/40/60 ms
  else if (config < 16) units = (config & 1) === 0 ? 4 : 8; // hybrid 10/20 ms
  else units = [1, 2, 4, 8][config & 3]!; // CELT 2.5/5/10/20 ms
  let count: number;
  const code = toc & 3;
  if (code === 0) count = 1;
  else if (code !== 3) count = 2;
  else {
    const b = packet[1];
    if (b === undefined) return -1;
    count = b & 0x3f;
    if (count === 0) return -1;
  }
  const total = units * count;
  if (total > 48) return -1; // more than 120 ms is invalid
  return (total * rate) / 400;
}

function toBuffer(x: Uint8Array | Int16Array): Buffer {
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
}

/** A view the caller owns outright: the whole ArrayBuffer, so it can be transferred. */
function own<T extends Uint8Array | Int16Array>(b: Buffer, make: (ab: ArrayBuffer, n: number) => T, bytesPer: number): T {
  if (b.byteOffset === 0 && b.buffer.byteLength === b.byteLength && b.buffer instanceof ArrayBuffer) return make(b.buffer, b.byteLength / bytesPer);
  const ab = new ArrayBuffer(b.byteLength);
  new Uint8Array(ab).set(b);
  return make(ab, b.byteLength / bytesPer);
}

const decodeErrors: Record<string, OpusErrorCode> = {
  'The compressed data passed is corrupted': 'OPUS_INVALID_PACKET',
  'One or more invalid/out of range arguments': 'OPUS_INVALID_PACKET',
  'Not enough bytes allocated in the buffer': 'OPUS_INVALID_PACKET',
};

class NativeDecoder implements OpusDecoder {
  #codec: NativeCodec | null = new Native(UPLINK_RATE, 1);
  /** Duration of the last packet, for DTX packets without a readable TOC (60 ms at first). */
  #lastSamples = (UPLINK_RATE * 60) / 1000;

  decode(packet: Uint8Array): Int16Array {
    const codec = this.#codec;
    if (!codec) throw new OpusError('OPUS_FREED', 'decoder used after free()');
    if (packet.length <= DTX_MAX_BYTES) {
      // libopus would run packet-loss concealment for an empty packet (up to 120 ms of
      // invented audio); a DTX frame stands for silence of its own duration.
      const n = packetSamples(packet, UPLINK_RATE);
      return new Int16Array(n > 0 ? n : this.#lastSamples);
    }
    let out: Buffer;
    try {
      out = codec.decode(toBuffer(packet));
    } catch (e) {
      const msg = (e as Error).message;
      throw new OpusError(decodeErrors[msg] ?? 'OPUS_DECODE_FAILED', `opus decode: ${msg} (${packet.length} B)`, e);
    }
    const pcm = own(out, (ab, n) => new Int16Array(ab, 0, n), 2);
    if (pcm.length > 0) this.#lastSamples = pcm.length;
    return pcm;
  }

  reset(): void {
    this.#codec?.applyDecoderCTL(CTL.RESET_STATE, 0);
    this.#lastSamples = (UPLINK_RATE * 60) / 1000;
  }

  free(): void {
    // The binding has no explicit destroy: dropping the object lets its finalizer free libopus
    // state (at the latest when the worker's environment is torn down).
    this.#codec = null;
  }
}

class NativeEncoder implements OpusEncoder {
  readonly sampleRate: number;
  readonly frameSamples: number;
  readonly #opts: Required<EncoderOptions>;
  #codec: NativeCodec | null;

  constructor(opts: Required<EncoderOptions>) {
    this.sampleRate = opts.sampleRate;
    this.frameSamples = (opts.sampleRate * opts.frameMs) / 1000;
    this.#opts = opts;
    this.#codec = this.#make();
  }

  #make(): NativeCodec {
    const o = this.#opts;
    const c = new Native(o.sampleRate, 1);
    try {
      // Application must be set before the first frame; the rest may change later.
      c.applyEncoderCTL(CTL.SET_APPLICATION, APPLICATION_AUDIO);
      c.applyEncoderCTL(CTL.SET_VBR, 1);
      c.applyEncoderCTL(CTL.SET_COMPLEXITY, o.complexity);
      c.setBitrate(o.bitrate);
    } catch (e) {
      throw new OpusError('OPUS_BAD_CONFIG', `opus encoder config rejected: ${(e as Error).message}`, e);
    }
    return c;
  }

  encode(frame: Int16Array): Uint8Array {
    const codec = this.#codec;
    if (!codec) throw new OpusError('OPUS_FREED', 'encoder used after free()');
    // A longer packet fails on the device (protocol.md §7.1); a shorter one would drift timing.
    if (frame.length !== this.frameSamples) throw new OpusError('OPUS_BAD_FRAME', `opus encode: frame of ${frame.length} samples, need ${this.frameSamples}`);
    let out: Buffer;
    try {
      out = codec.encode(toBuffer(frame));
    } catch (e) {
      throw new OpusError('OPUS_ENCODE_FAILED', `opus encode: ${(e as Error).message}`, e);
    }
    return own(out, (ab, n) => new Uint8Array(ab, 0, n), 1);
  }

  reset(): void {
    this.#codec?.applyEncoderCTL(CTL.RESET_STATE, 0);
  }

  free(): void {
    this.#codec = null;
  }
}

export function createDecoder(opts: { sampleRate: 16000 }): OpusDecoder {
  if (opts.sampleRate !== UPLINK_RATE) throw new OpusError('OPUS_BAD_CONFIG', `uplink decode is 16 kHz, not ${opts.sampleRate}`);
  return new NativeDecoder();
}

export function createEncoder(opts: EncoderOptions): OpusEncoder {
  const bitrate = opts.bitrate ?? DEFAULT_BITRATE;
  if (!ENCODER_RATES.has(opts.sampleRate)) throw new OpusError('OPUS_BAD_CONFIG', `unsupported encoder rate ${opts.sampleRate}`);
  if (!FRAME_MS.has(opts.frameMs)) throw new OpusError('OPUS_BAD_CONFIG', `unsupported frame length ${opts.frameMs} ms`);
  if (!Number.isInteger(opts.complexity) || opts.complexity < 0 || opts.complexity > 10) {
    throw new OpusError('OPUS_BAD_CONFIG', `complexity must be an integer 0–10, not ${opts.complexity}`);
  }
  if (!Number.isInteger(bitrate) || bitrate < 6_000 || bitrate > 510_000) throw new OpusError('OPUS_BAD_CONFIG', `unsupported bitrate ${bitrate}`);
  return new NativeEncoder({ sampleRate: opts.sampleRate, frameMs: opts.frameMs, complexity: opts.complexity, bitrate });
}
