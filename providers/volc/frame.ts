/**
 * The Volcengine binary frame (vendors.md §6.3, §7.1, §7.3.2): one WebSocket binary message per
 * frame, all integers big-endian.
 *
 *   byte 0  version(4)=1 | header size(4) in 4-byte words (extensions follow when > 1)
 *   byte 1  message type(4) | flags(4)
 *   byte 2  serialization(4) | compression(4)
 *   byte 3  reserved
 *   [error code u32]                      type 15 only
 *   [sequence i32]                        flags bit0
 *   [event i32]                           flags bit2 (v3 TTS)
 *   [session id: u32 len + bytes]         events other than the connection ones
 *   [connect id: u32 len + bytes]         ConnectionStarted/Failed/Finished
 *   payload size u32 + payload            size after compression
 *
 * Flags are read by bit, not by whole-nibble value, because the services mix the styles (bit1 is
 * "last packet" with or without a sequence). Payloads are compressed and decompressed here per
 * the compression nibble, so callers only see plain bytes.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { XzError } from '../../runtime/errors.js';
import { VOLC } from './errors.js';

export const MsgType = {
  FullClientRequest: 0b0001,
  AudioOnlyRequest: 0b0010,
  FullServerResponse: 0b1001,
  /** TTS audio; ASR uses the same value for a (rare) server ACK. */
  AudioOnlyResponse: 0b1011,
  FrontEndResponse: 0b1100,
  Error: 0b1111,
} as const;

export const Flag = { Sequence: 0b0001, Last: 0b0010, Event: 0b0100 } as const;
export const Serialization = { Raw: 0, Json: 1 } as const;
export const Compression = { None: 0, Gzip: 1 } as const;

/** v3 bidirectional TTS events (§7.3.2). */
export const Ev = {
  StartConnection: 1,
  FinishConnection: 2,
  ConnectionStarted: 50,
  ConnectionFailed: 51,
  ConnectionFinished: 52,
  StartSession: 100,
  CancelSession: 101,
  FinishSession: 102,
  SessionStarted: 150,
  SessionCanceled: 151,
  SessionFinished: 152,
  SessionFailed: 153,
  TaskRequest: 200,
  TTSSentenceStart: 350,
  TTSSentenceEnd: 351,
  TTSResponse: 352,
} as const;

export interface Frame {
  type: number;
  flags: number;
  serialization: number;
  compression: number;
  sequence?: number | undefined;
  event?: number | undefined;
  sessionId?: string | undefined;
  connectId?: string | undefined;
  errorCode?: number | undefined;
  /** Plain (decompressed) payload. */
  payload: Uint8Array;
}

export type FrameInit = Omit<Frame, 'flags' | 'serialization' | 'compression' | 'payload'> & {
  flags?: number;
  serialization?: number;
  compression?: number;
  payload?: Uint8Array | string | object;
  /** gzip level when compressing (audio gains little from more). */
  level?: number;
};

const CONNECTION_EVENTS = new Set<number>([Ev.StartConnection, Ev.FinishConnection, Ev.ConnectionStarted, Ev.ConnectionFailed, Ev.ConnectionFinished]);
const CONNECT_ID_EVENTS = new Set<number>([Ev.ConnectionStarted, Ev.ConnectionFailed, Ev.ConnectionFinished]);

/** Which id fields an event carries. */
export function hasSessionId(event: number): boolean {
  return !CONNECTION_EVENTS.has(event);
}
export function hasConnectId(event: number): boolean {
  return CONNECT_ID_EVENTS.has(event);
}

function bad(message: string): XzError {
  return new XzError(VOLC.XZ_ERR_VOLC_PROTOCOL, `malformed Volcengine frame: ${message}`);
}

const GZIP_MAGIC0 = 0x1f;
const GZIP_MAGIC1 = 0x8b;

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === GZIP_MAGIC0 && b[1] === GZIP_MAGIC1;
}

function payloadBytes(p: FrameInit['payload'], serialization: number): Uint8Array {
  if (p === undefined) return serialization === Serialization.Json ? Buffer.from('{}') : new Uint8Array(0);
  if (p instanceof Uint8Array) return p;
  return Buffer.from(typeof p === 'string' ? p : JSON.stringify(p), 'utf8');
}

/**
 * Builds one frame. Flags default from the fields given (sequence → bit0, event → bit2);
 * JSON payloads default to serialization JSON, byte payloads to raw.
 */
export function encodeFrame(f: FrameInit): Buffer {
  const serialization = f.serialization ?? (f.payload instanceof Uint8Array ? Serialization.Raw : Serialization.Json);
  const compression = f.compression ?? Compression.None;
  let flags = f.flags ?? 0;
  if (f.sequence !== undefined) flags |= Flag.Sequence;
  if (f.event !== undefined) flags |= Flag.Event;
  const plain = payloadBytes(f.payload, serialization);
  const body = compression === Compression.Gzip ? gzipSync(plain, f.level === undefined ? {} : { level: f.level }) : plain;
  const parts: Uint8Array[] = [Buffer.from([0x11, ((f.type & 0xf) << 4) | (flags & 0xf), ((serialization & 0xf) << 4) | (compression & 0xf), 0])];
  const u32 = (n: number): void => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n >>> 0);
    parts.push(b);
  };
  const i32 = (n: number): void => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n | 0);
    parts.push(b);
  };
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf8');
    u32(b.length);
    parts.push(b);
  };
  if (f.type === MsgType.Error) u32(f.errorCode ?? 0);
  if (flags & Flag.Sequence) i32(f.sequence ?? 0);
  if (flags & Flag.Event) {
    const ev = f.event ?? 0;
    i32(ev);
    if (hasConnectId(ev)) str(f.connectId ?? '');
    else if (hasSessionId(ev)) str(f.sessionId ?? '');
  }
  u32(body.length);
  parts.push(body);
  return Buffer.concat(parts);
}

class Reader {
  at = 0;
  constructor(readonly b: Buffer) {}
  left(): number {
    return this.b.length - this.at;
  }
  need(n: number, what: string): void {
    if (this.left() < n) throw bad(`${what}: needs ${n} bytes, ${this.left()} left`);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.b.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.b.readInt32BE(this.at);
    this.at += 4;
    return v;
  }
  block(what: string): Buffer {
    const n = this.u32(`${what} size`);
    this.need(n, what);
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
}

function looksLikeJson(b: Uint8Array): boolean {
  return b.length > 0 && (b[0] === 0x7b || b[0] === 0x5b);
}

/** Parses one frame; throws XZ_ERR_VOLC_PROTOCOL when it is malformed. */
export function decodeFrame(data: Uint8Array): Frame {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 4) throw bad(`${b.length} bytes, shorter than the header`);
  const b0 = b[0]!;
  const b1 = b[1]!;
  const b2 = b[2]!;
  if (b0 >> 4 !== 1) throw bad(`protocol version ${b0 >> 4}`);
  const headerSize = (b0 & 0xf) * 4;
  if (headerSize < 4 || headerSize > b.length) throw bad(`header size ${headerSize}`);
  const r = new Reader(b);
  r.at = headerSize; // header extensions are skipped: none is defined
  const f: Frame = { type: b1 >> 4, flags: b1 & 0xf, serialization: b2 >> 4, compression: b2 & 0xf, payload: new Uint8Array(0) };
  if (f.type === MsgType.Error) f.errorCode = r.u32('error code');
  if (f.flags & Flag.Sequence) f.sequence = r.i32('sequence');
  if (f.flags & Flag.Event) {
    const ev = r.i32('event');
    f.event = ev;
    if (ev === Ev.ConnectionFailed) {
      // Some captures omit the connect id here: if the first block is the JSON and nothing
      // follows, it was the payload (vendors.md §7.3.2).
      const first = r.block('connect id');
      if (r.left() === 0 && looksLikeJson(first)) {
        f.payload = first;
        return finish(f, true);
      }
      f.connectId = first.toString('utf8');
    } else if (hasConnectId(ev)) f.connectId = r.block('connect id').toString('utf8');
    else if (hasSessionId(ev)) f.sessionId = r.block('session id').toString('utf8');
  }
  f.payload = r.block('payload');
  if (r.left() !== 0) throw bad(`${r.left()} bytes after the payload`);
  return finish(f, false);
}

function finish(f: Frame, raw: boolean): Frame {
  // The compression nibble is authoritative, but some endpoints have been seen to answer gzip
  // requests in plain JSON: only gunzip what carries the gzip magic.
  if (!raw && f.compression === Compression.Gzip && isGzip(f.payload)) {
    try {
      f.payload = gunzipSync(f.payload);
    } catch (e) {
      throw bad(`payload does not gunzip: ${(e as Error).message}`);
    }
  }
  return f;
}

/** The payload as JSON (an object); throws XZ_ERR_VOLC_PROTOCOL otherwise. */
export function frameJson(f: Frame): Record<string, unknown> {
  if (f.payload.length === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength).toString('utf8'));
  } catch {
    throw bad('payload is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('payload JSON is not an object');
  return v as Record<string, unknown>;
}

/** True when flags mark the last packet (bit1), with or without a sequence. */
export function isLast(f: Pick<Frame, 'flags'>): boolean {
  return (f.flags & Flag.Last) !== 0;
}
