/**
 * The Volcengine binary framing as the fakes see it (vendors.md §6.3, §7.3.2), written apart
 * from providers/volc/frame.ts on purpose: a bug in the client's codec must not be mirrored by
 * the server it is tested against. Parsing is strict (what a vendor would refuse is refused);
 * building is byte by byte.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

export class WireViolation extends Error {}

export interface WireFrame {
  type: number;
  flags: number;
  serialization: number;
  compression: number;
  sequence?: number;
  event?: number;
  sessionId?: string;
  /** Decompressed payload. */
  payload: Buffer;
  /** Payload bytes as they were on the wire. */
  wirePayload: Buffer;
}

const CLIENT_TYPES = new Set([0b0001, 0b0010]);
const CONNECTION_EVENTS = new Set([1, 2, 50, 51, 52]);
const CONNECT_ID_EVENTS = new Set([50, 51, 52]);

/** Parses a client frame; throws WireViolation for anything the service would reject. */
export function parseClientFrame(buf: Buffer): WireFrame {
  const fail = (m: string): never => {
    throw new WireViolation(m);
  };
  if (buf.length < 8) fail(`frame of ${buf.length} bytes`);
  const version = buf[0]! >> 4;
  const words = buf[0]! & 0x0f;
  if (version !== 1) fail(`protocol version ${version}`);
  if (words < 1) fail('header size 0');
  if (buf[3] !== 0) fail(`reserved byte ${buf[3]}`);
  const f: WireFrame = {
    type: buf[1]! >> 4,
    flags: buf[1]! & 0x0f,
    serialization: buf[2]! >> 4,
    compression: buf[2]! & 0x0f,
    payload: Buffer.alloc(0),
    wirePayload: Buffer.alloc(0),
  };
  if (!CLIENT_TYPES.has(f.type)) fail(`message type ${f.type} is not a client type`);
  if (f.serialization > 1) fail(`serialization ${f.serialization}`);
  if (f.compression > 1) fail(`compression ${f.compression}`);
  if (f.flags & 0b1000) fail(`flags ${f.flags}`);
  let at = words * 4;
  const need = (n: number, what: string): void => {
    if (buf.length - at < n) fail(`${what}: ${n} bytes needed, ${buf.length - at} left`);
  };
  const int = (what: string): number => {
    need(4, what);
    const v = buf.readInt32BE(at);
    at += 4;
    return v;
  };
  const block = (what: string): Buffer => {
    need(4, `${what} size`);
    const n = buf.readUInt32BE(at);
    at += 4;
    need(n, what);
    const b = buf.subarray(at, at + n);
    at += n;
    return b;
  };
  if (f.flags & 0b0001) f.sequence = int('sequence');
  if (f.flags & 0b0100) {
    f.event = int('event');
    if (!CONNECTION_EVENTS.has(f.event)) f.sessionId = block('session id').toString('utf8');
  }
  f.wirePayload = Buffer.from(block('payload'));
  if (at !== buf.length) fail(`${buf.length - at} bytes after the payload`);
  if (f.compression === 1) {
    try {
      f.payload = gunzipSync(f.wirePayload);
    } catch {
      fail('payload flagged gzip does not gunzip');
    }
  } else f.payload = f.wirePayload;
  return f;
}

export function jsonOf(f: WireFrame): Record<string, unknown> {
  if (f.serialization !== 1) throw new WireViolation('expected JSON serialization');
  let v: unknown;
  try {
    v = JSON.parse(f.payload.toString('utf8'));
  } catch {
    throw new WireViolation('payload is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new WireViolation('payload is not a JSON object');
  return v as Record<string, unknown>;
}

export interface ServerFrameInit {
  type: number;
  flags?: number;
  serialization?: number;
  gzip?: boolean;
  sequence?: number;
  errorCode?: number;
  event?: number;
  sessionId?: string;
  connectId?: string;
  payload: Buffer | string | object;
}

/** One server frame, header | [error code] | [sequence] | [event | id] | size | payload. */
export function serverFrame(o: ServerFrameInit): Buffer {
  const plain = Buffer.isBuffer(o.payload) ? o.payload : Buffer.from(typeof o.payload === 'string' ? o.payload : JSON.stringify(o.payload));
  const body = o.gzip ? gzipSync(plain) : plain;
  const serialization = o.serialization ?? (Buffer.isBuffer(o.payload) ? 0 : 1);
  let flags = o.flags ?? 0;
  if (o.sequence !== undefined) flags |= 0b0001;
  if (o.event !== undefined) flags |= 0b0100;
  const chunks: Buffer[] = [Buffer.from([0x11, (o.type << 4) | flags, (serialization << 4) | (o.gzip ? 1 : 0), 0x00])];
  const word = (n: number, signed: boolean): void => {
    const b = Buffer.alloc(4);
    if (signed) b.writeInt32BE(n);
    else b.writeUInt32BE(n);
    chunks.push(b);
  };
  const str = (s: string): void => {
    const b = Buffer.from(s);
    word(b.length, false);
    chunks.push(b);
  };
  if (o.type === 0b1111) word(o.errorCode ?? 0, false);
  if (flags & 0b0001) word(o.sequence ?? 0, true);
  if (flags & 0b0100) {
    word(o.event ?? 0, true);
    if (CONNECT_ID_EVENTS.has(o.event ?? 0)) str(o.connectId ?? '');
    else if (!CONNECTION_EVENTS.has(o.event ?? 0)) str(o.sessionId ?? '');
  }
  word(body.length, false);
  chunks.push(body);
  return Buffer.concat(chunks);
}

/** The vendor's error frame: `11 F0 <ser|comp> 00 | code | size | {"error":…}`. */
export function errorFrame(code: number, message: string, gzip = false): Buffer {
  return serverFrame({ type: 0b1111, errorCode: code, serialization: 1, gzip, payload: { error: message } });
}

/** s16le sine at `rate` for `ms`, continuing from `phase` (returns the next phase). */
export function sine(rate: number, ms: number, phase = 0, hz = 440, amplitude = 8000): { pcm: Buffer; phase: number } {
  const n = Math.round((rate * ms) / 1000);
  const pcm = Buffer.alloc(n * 2);
  const step = (2 * Math.PI * hz) / rate;
  let p = phase;
  for (let i = 0; i < n; i++) {
    pcm.writeInt16LE(Math.round(Math.sin(p) * amplitude), i * 2);
    p += step;
  }
  return { pcm, phase: p % (2 * Math.PI) };
}

/** Splits bytes into pieces of arbitrary (often odd) sizes in [min, max], seeded for repeatable runs. */
export function splitArbitrary(b: Buffer, min: number, max: number, seed = 1): Buffer[] {
  const out: Buffer[] = [];
  let s = seed >>> 0 || 1;
  for (let at = 0; at < b.length; ) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    const n = min + (s % (max - min + 1));
    out.push(b.subarray(at, at + n));
    at += n;
  }
  return out;
}
