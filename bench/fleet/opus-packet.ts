/**
 * What the simulated device needs to know about a downlink binary frame without decoding it:
 * the Opus payload behind the v2/v3 header (read the way the firmware reads it, which is more
 * lenient than our server's uplink parser: it ignores version and type and trusts payload_size),
 * and the packet's play duration from its TOC byte (RFC 6716 §3.1), which decides whether the
 * frame is longer than the announced frame_duration (the firmware's decoder buffer is sized for
 * the announced duration, so longer packets fail to decode on the device).
 */

/** libopus control codes used with @discordjs/opus's applyEncoderCTL. */
export const OPUS_CTL = {
  SET_BITRATE: 4002,
  SET_VBR: 4006,
  SET_COMPLEXITY: 4010,
  SET_INBAND_FEC: 4012,
  SET_DTX: 4016,
} as const;

/** Sample rates an Opus decoder can be created at. */
export const OPUS_RATES: ReadonlySet<number> = new Set([8000, 12000, 16000, 24000, 48000]);

export type Payload = { ok: true; opus: Uint8Array } | { ok: false; why: string };

/** Strips the downlink header of framing version 1, 2 or 3 (protocol.md §5). */
export function downlinkPayload(version: 1 | 2 | 3, frame: Uint8Array): Payload {
  if (version === 1) return { ok: true, opus: frame };
  if (version === 2) {
    if (frame.length < 16) return { ok: false, why: `v2 frame of ${frame.length} bytes is shorter than its 16-byte header` };
    const size = ((frame[12]! << 24) | (frame[13]! << 16) | (frame[14]! << 8) | frame[15]!) >>> 0;
    if (size !== frame.length - 16) return { ok: false, why: `v2 payload_size ${size} but ${frame.length - 16} bytes follow` };
    return { ok: true, opus: frame.subarray(16) };
  }
  if (frame.length < 4) return { ok: false, why: `v3 frame of ${frame.length} bytes is shorter than its 4-byte header` };
  const size = (frame[2]! << 8) | frame[3]!;
  if (size !== frame.length - 4) return { ok: false, why: `v3 payload_size ${size} but ${frame.length - 4} bytes follow` };
  return { ok: true, opus: frame.subarray(4) };
}

/**
 * Duration of one Opus packet in ms from its TOC byte: 0 for an empty packet (DTX), NaN when the
 * packet is malformed (a code-3 packet without its frame-count byte).
 */
export function opusPacketMs(packet: Uint8Array): number {
  if (packet.length === 0) return 0;
  const toc = packet[0]!;
  const config = toc >> 3;
  let frameMs: number;
  if (config < 12) frameMs = [10, 20, 40, 60][config & 3]!; // SILK-only
  else if (config < 16) frameMs = (config & 1) === 0 ? 10 : 20; // hybrid
  else frameMs = [2.5, 5, 10, 20][config & 3]!; // CELT-only
  const code = toc & 3;
  if (code === 0) return frameMs;
  if (code === 1 || code === 2) return 2 * frameMs;
  if (packet.length < 2) return NaN;
  return (packet[1]! & 0x3f) * frameMs;
}
