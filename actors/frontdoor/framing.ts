/**
 * Binary audio framing (protocol.md §5, §10.8): one Opus packet per WebSocket binary frame, with a
 * header chosen per connection. Pure functions over bytes; they run on the main thread for every
 * frame, so they read and write header fields by hand instead of allocating a DataView or Buffer.
 *
 *   v1        raw Opus, no header
 *   v2        16 bytes: version u16 BE | type u16 BE | reserved u32 | timestamp u32 BE | payload_size u32 BE
 *   v3        4 bytes:  type u8 | reserved u8 | payload_size u16 BE
 *   gateway   16 bytes as written by the MQTT gateway bridge (`?from=mqtt_gateway`): only timestamp
 *             (offset 8) and Opus length (offset 12) mean anything, so bytes 0–7 are not checked on
 *             the way in (the gateway writes zeros there, not version 2).
 */
import { FD, refuse, type Refusal } from './errors.js';
import { XzError } from '../../runtime/errors.js';

export type FramingVersion = 1 | 2 | 3;
/** How frames are laid out on one connection: a device's version, or the gateway bridge. */
export type Framing = FramingVersion | 'gateway';

export type UplinkFrame = { readonly ok: true; readonly opus: Uint8Array; readonly timestampMs: number };
export type UplinkResult = UplinkFrame | Refusal;

/** Bytes in front of the Opus packet. */
export function headerSize(framing: Framing): 0 | 4 | 16 {
  return framing === 1 ? 0 : framing === 3 ? 4 : 16;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  // Uint8Array stores each value modulo 256, so no masking is needed.
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * Splits one uplink frame into its Opus packet (a view into `frame`, never a copy) and timestamp.
 * Device input: never throws. A payload_size that disagrees with the frame length in either
 * direction is refused, because the firmware writes it exactly and anything else means the
 * connection's framing was mis-negotiated.
 */
export function decodeUplink(framing: Framing, frame: Uint8Array): UplinkResult {
  switch (framing) {
    case 1:
      // Empty and tiny frames are legal (DTX); the decoder decides what to do with them.
      return { ok: true, opus: frame, timestampMs: 0 };
    case 2:
    case 'gateway': {
      if (frame.length < 16) {
        return refuse(FD.XZ_ERR_PROTO_TRUNCATED_FRAME, `${framing === 2 ? 'v2' : 'gateway'} frame of ${frame.length} bytes, header needs 16`);
      }
      // The firmware always writes type 0 (Opus); the gateway writes zeros in bytes 0–7.
      if (framing === 2 && (frame[2] !== 0 || frame[3] !== 0)) {
        return refuse(FD.XZ_ERR_PROTO_BAD_FRAME_TYPE, `v2 frame type ${(frame[2]! << 8) | frame[3]!} is not 0 (Opus)`);
      }
      const size = readU32(frame, 12);
      if (size !== frame.length - 16) {
        return refuse(FD.XZ_ERR_PROTO_BAD_PAYLOAD_SIZE, `payload_size ${size} but ${frame.length - 16} bytes follow the header`);
      }
      return { ok: true, opus: frame.subarray(16), timestampMs: readU32(frame, 8) };
    }
    case 3: {
      if (frame.length < 4) {
        return refuse(FD.XZ_ERR_PROTO_TRUNCATED_FRAME, `v3 frame of ${frame.length} bytes, header needs 4`);
      }
      if (frame[0] !== 0) {
        return refuse(FD.XZ_ERR_PROTO_BAD_FRAME_TYPE, `v3 frame type ${frame[0]!} is not 0 (Opus)`);
      }
      const size = (frame[2]! << 8) | frame[3]!;
      if (size !== frame.length - 4) {
        return refuse(FD.XZ_ERR_PROTO_BAD_PAYLOAD_SIZE, `payload_size ${size} but ${frame.length - 4} bytes follow the header`);
      }
      return { ok: true, opus: frame.subarray(4), timestampMs: 0 };
    }
    default:
      return refuse(FD.XZ_ERR_PROTO_BAD_VERSION, `unknown framing ${String(framing)}`);
  }
}

/** Largest Opus packet each header can describe. */
function maxPayload(framing: Framing): number {
  // The gateway forwards over UDP, whose header carries a u16 length (§10.5).
  return framing === 3 || framing === 'gateway' ? 0xffff : 0xffffffff;
}

/**
 * Writes the downlink header for a `payloadSize`-byte Opus packet at `target[offset]`. With this, a
 * producer that already reserved `headerSize(framing)` bytes in front of its packet frames it with
 * no allocation at all. `timestampMs` is taken modulo 2^32 (the field is u32 and wraps every ~49.7
 * days). `sequence` is only written for the gateway, mirroring the reference server's header
 * (`01 00 <len u16> <seq u32> <ts u32> <len u32>`): the gateway reads only offsets 8 and 12, but a
 * byte-identical header keeps forks of it that read more working.
 * Our own input, so a packet the header cannot describe throws.
 */
export function writeDownlinkHeader(
  framing: Framing,
  target: Uint8Array,
  offset: number,
  payloadSize: number,
  timestampMs: number,
  sequence = 0,
): void {
  if (!Number.isInteger(payloadSize) || payloadSize < 0 || payloadSize > maxPayload(framing)) {
    throw new XzError(FD.XZ_ERR_PROTO_FRAME_TOO_LARGE, `Opus packet of ${payloadSize} bytes cannot be framed as ${String(framing)}`);
  }
  const ts = Math.trunc(timestampMs) >>> 0;
  switch (framing) {
    case 1:
      return;
    case 2:
      target[offset] = 0;
      target[offset + 1] = 2;
      target[offset + 2] = 0; // type 0 = Opus; the device treats every payload as Opus anyway
      target[offset + 3] = 0;
      writeU32(target, offset + 4, 0);
      writeU32(target, offset + 8, ts);
      writeU32(target, offset + 12, payloadSize);
      return;
    case 3:
      target[offset] = 0;
      target[offset + 1] = 0;
      target[offset + 2] = payloadSize >>> 8;
      target[offset + 3] = payloadSize;
      return;
    case 'gateway':
      target[offset] = 1;
      target[offset + 1] = 0;
      target[offset + 2] = payloadSize >>> 8;
      target[offset + 3] = payloadSize;
      writeU32(target, offset + 4, Math.trunc(sequence) >>> 0);
      writeU32(target, offset + 8, ts);
      writeU32(target, offset + 12, payloadSize);
      return;
    default:
      throw new XzError(FD.XZ_ERR_PROTO_BAD_VERSION, `unknown framing ${String(framing)}`);
  }
}

/**
 * Frames one downlink Opus packet. Exactly one allocation per framed packet (header and payload
 * share one buffer sized exactly), because the frame outlives this call: the pacer queues it a few
 * frames ahead and server-side AEC may keep it, so reusing a scratch buffer would let the next
 * frame overwrite one still waiting. v1 needs no header and returns `opus` itself (no allocation;
 * the result aliases the input).
 */
export function encodeDownlink(framing: Framing, opus: Uint8Array, timestampMs: number, sequence = 0): Uint8Array {
  const h = headerSize(framing);
  if (h === 0) {
    if (framing !== 1) throw new XzError(FD.XZ_ERR_PROTO_BAD_VERSION, `unknown framing ${String(framing)}`);
    return opus;
  }
  if (opus.length > maxPayload(framing)) {
    throw new XzError(FD.XZ_ERR_PROTO_FRAME_TOO_LARGE, `Opus packet of ${opus.length} bytes cannot be framed as ${String(framing)}`);
  }
  const out = new Uint8Array(h + opus.length);
  writeDownlinkHeader(framing, out, 0, opus.length, timestampMs, sequence);
  out.set(opus, h);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Version selection (§3.3, §4.1, §5.5)

export type VersionSource = 'header' | 'query' | 'hello' | 'default';
export type VersionChoice =
  | { readonly ok: true; readonly version: FramingVersion; readonly framing: Framing; readonly source: VersionSource }
  | Refusal;

export interface VersionInputs {
  /** `Protocol-Version` header value, if any. */
  header?: string | undefined;
  /** `protocol-version` query parameter, if any. */
  query?: string | undefined;
  /** `version` from the client hello, if it has arrived. */
  hello?: unknown;
  /** The connection came from the MQTT gateway bridge (`?from=mqtt_gateway`). */
  fromGateway?: boolean | undefined;
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v;
}

/** Reads a version from a header string or a hello number; undefined when it is not 1, 2 or 3. */
export function parseVersionValue(v: unknown): FramingVersion | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*\d{1,3}\s*$/.test(v)) n = Number(v);
  else return undefined;
  return n === 1 || n === 2 || n === 3 ? n : undefined;
}

/**
 * The framing version a connection uses: `Protocol-Version` header, else `protocol-version` query,
 * else `hello.version`, else 1. The first source present decides; a present but unsupported value
 * is refused rather than skipped, because guessing another version would garble every frame.
 * Gateway connections use the gateway header whatever number they announce (the gateway always
 * sends 2, and the header it reads is positionally the v2 one).
 */
export function selectVersion(inputs: VersionInputs): VersionChoice {
  const candidates: [VersionSource, unknown][] = [
    ['header', inputs.header],
    ['query', inputs.query],
    ['hello', inputs.hello],
  ];
  for (const [source, raw] of candidates) {
    if (!present(raw)) continue;
    const version = parseVersionValue(raw);
    if (version === undefined) {
      return refuse(FD.XZ_ERR_PROTO_BAD_VERSION, `${source} protocol version ${describe(raw)} is not 1, 2 or 3`);
    }
    return { ok: true, version, framing: inputs.fromGateway ? 'gateway' : version, source };
  }
  return { ok: true, version: 1, framing: inputs.fromGateway ? 'gateway' : 1, source: 'default' };
}
