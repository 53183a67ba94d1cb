/**
 * PCM as providers exchange it: signed 16-bit, mono, at a declared sample rate. Chunks are
 * owned by the receiver (safe to transfer to another thread).
 */
export interface PcmChunk {
  readonly pcm: Int16Array;
  readonly sampleRate: number;
}

/** Uplink audio after decoding: 16 kHz mono, as every device sends it (protocol.md §7.1). */
export const UPLINK_RATE = 16_000;
