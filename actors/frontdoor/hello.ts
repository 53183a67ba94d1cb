/**
 * The hello exchange (protocol.md §4). Client hellos vary by firmware generation (§0): FW < 1.6.6
 * sends no `features`, FW ≥ 2.4 adds `glyph_push` and `text_font`, browser clients may send little
 * more than `{"type":"hello"}`. Everything missing takes the firmware's own default. The server
 * hello must satisfy the strictest firmware: `transport` always a string, never a JSON null.
 */
import { randomUUID } from 'node:crypto';
import { FD, refuse, type Refusal } from './errors.js';
import { E, XzError } from '../../runtime/errors.js';

export interface HelloFeatures {
  /** Device is an MCP server (absent on FW < 1.6.6 and legacy-IoT builds). */
  readonly mcp: boolean;
  /** Built for server-side AEC: expects v2 timestamps to be used for echo cancellation. */
  readonly aec: boolean;
  /** FW ≥ 2.4: accepts pushed glyphs. */
  readonly glyphPush: boolean;
}

export interface TextFont {
  readonly bundle: string;
  readonly charset: string;
  readonly size: number;
  readonly bpp: number;
}

export interface AudioParams {
  readonly format: string;
  readonly sampleRate: number;
  readonly channels: number;
  readonly frameDurationMs: number;
}

export interface ClientHello {
  /** Announced binary framing version, if any; validate with `selectVersion`. */
  readonly version: number | undefined;
  readonly transport: string;
  /** False for firmware that predates the `features` object (FW < 1.6.6, legacy `iot` only). */
  readonly hasFeatures: boolean;
  readonly features: HelloFeatures;
  readonly textFont: TextFont | undefined;
  /** Uplink audio as announced, defaults filled in. */
  readonly audioParams: AudioParams;
}

export type ClientHelloResult = { readonly ok: true; readonly hello: ClientHello } | Refusal;

/** What the firmware always sends upstream (§4.1, §7.1). */
export const UPLINK_DEFAULTS: AudioParams = Object.freeze({ format: 'opus', sampleRate: 16000, channels: 1, frameDurationMs: 60 });

const OPUS_RATES = new Set([8000, 12000, 16000, 24000, 48000]);
const OPUS_FRAME_MS = new Set([2.5, 5, 10, 20, 40, 60, 80, 100, 120]);
const MAX_HELLO_BYTES = 16 * 1024;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Firmware writes real booleans; hand-written clients sometimes send 1 or "true".
function flag(v: unknown): boolean {
  return v === true || v === 1 || v === 'true';
}

function parseTextFont(v: unknown): TextFont | undefined {
  if (!isObject(v)) return undefined;
  const { bundle, charset, size, bpp } = v;
  if (typeof bundle !== 'string' || typeof charset !== 'string') return undefined;
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) return undefined;
  if (typeof bpp !== 'number' || !Number.isInteger(bpp) || bpp <= 0) return undefined;
  return { bundle, charset, size, bpp };
}

function parseAudioParams(v: unknown): AudioParams {
  if (!isObject(v)) return UPLINK_DEFAULTS;
  const format = typeof v.format === 'string' && v.format.trim() !== '' ? v.format.trim().toLowerCase() : UPLINK_DEFAULTS.format;
  const sampleRate = typeof v.sample_rate === 'number' && OPUS_RATES.has(v.sample_rate) ? v.sample_rate : UPLINK_DEFAULTS.sampleRate;
  const channels = v.channels === 1 || v.channels === 2 ? v.channels : UPLINK_DEFAULTS.channels;
  const frameDurationMs =
    typeof v.frame_duration === 'number' && OPUS_FRAME_MS.has(v.frame_duration) ? v.frame_duration : UPLINK_DEFAULTS.frameDurationMs;
  return { format, sampleRate, channels, frameDurationMs };
}

/**
 * Parses a client hello from the text frame (or an already parsed value). Garbage — not JSON, not
 * an object, `type` other than "hello", a `version` that is not a number — is refused with
 * `XZ_ERR_PROTO_BAD_HELLO`; an unsupported but numeric version is kept for `selectVersion` to judge.
 * Never throws.
 */
export function parseClientHello(input: unknown): ClientHelloResult {
  let msg: unknown = input;
  if (typeof input === 'string') {
    if (input.length > MAX_HELLO_BYTES) return refuse(FD.XZ_ERR_PROTO_BAD_HELLO, `hello of ${input.length} chars is too long`);
    try {
      msg = JSON.parse(input);
    } catch {
      return refuse(FD.XZ_ERR_PROTO_BAD_HELLO, 'hello is not JSON');
    }
  }
  if (!isObject(msg)) return refuse(FD.XZ_ERR_PROTO_BAD_HELLO, 'hello is not a JSON object');
  if (msg.type !== 'hello') return refuse(FD.XZ_ERR_PROTO_BAD_HELLO, `message type ${JSON.stringify(String(msg.type)).slice(0, 40)} is not "hello"`);

  let version: number | undefined;
  if (typeof msg.version === 'number' && Number.isFinite(msg.version)) version = msg.version;
  else if (typeof msg.version === 'string' && /^\s*\d{1,3}\s*$/.test(msg.version)) version = Number(msg.version);
  else if (msg.version !== undefined && msg.version !== null) {
    return refuse(FD.XZ_ERR_PROTO_BAD_HELLO, `hello version of type ${typeof msg.version} is not a number`);
  }

  const transport = typeof msg.transport === 'string' && msg.transport !== '' ? msg.transport : 'websocket';
  const f = isObject(msg.features) ? msg.features : undefined;
  const features: HelloFeatures = {
    mcp: flag(f?.mcp),
    aec: flag(f?.aec),
    glyphPush: flag(f?.glyph_push),
  };
  return {
    ok: true,
    hello: {
      version,
      transport,
      hasFeatures: f !== undefined,
      features,
      textFont: features.glyphPush ? parseTextFont(msg.text_font) : undefined,
      audioParams: parseAudioParams(msg.audio_params),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Server hello

export interface ServerHelloOptions {
  readonly sessionId: string;
  /** The rate downlink Opus is actually encoded at (§4.4: announce the true rate). */
  readonly sampleRate: number;
  /** The downlink frame duration actually used. */
  readonly frameDurationMs: number;
  /** Echo of the connection's framing version; the device ignores it, some test clients read it. */
  readonly version?: number;
}

export interface ServerHello {
  readonly type: 'hello';
  readonly transport: 'websocket';
  readonly session_id: string;
  readonly version?: number;
  readonly audio_params: {
    readonly format: 'opus';
    readonly sample_rate: number;
    readonly channels: 1;
    readonly frame_duration: number;
  };
}

/**
 * A session id the device can copy into its hand-concatenated JSON without escaping (§1): a
 * lower-case UUID, ASCII only.
 */
export function newSessionId(): string {
  return randomUUID();
}

const SESSION_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Builds the server hello (§4.2). Our own input: bad options throw. */
export function buildServerHello(opts: ServerHelloOptions): ServerHello {
  if (!SESSION_ID.test(opts.sessionId)) {
    throw new XzError(E.XZ_ERR_INTERNAL, `session id ${JSON.stringify(opts.sessionId)} must be plain ASCII without quotes`);
  }
  if (!OPUS_RATES.has(opts.sampleRate)) throw new XzError(E.XZ_ERR_INTERNAL, `downlink rate ${opts.sampleRate} is not an Opus rate`);
  if (!OPUS_FRAME_MS.has(opts.frameDurationMs)) {
    throw new XzError(E.XZ_ERR_INTERNAL, `downlink frame duration ${opts.frameDurationMs} ms is not an Opus frame size`);
  }
  const hello: ServerHello = {
    type: 'hello',
    transport: 'websocket',
    session_id: opts.sessionId,
    ...(typeof opts.version === 'number' ? { version: opts.version } : {}),
    audio_params: { format: 'opus', sample_rate: opts.sampleRate, channels: 1, frame_duration: opts.frameDurationMs },
  };
  return hello;
}

/** The server hello as the text frame to send. */
export function encodeServerHello(opts: ServerHelloOptions): string {
  return JSON.stringify(buildServerHello(opts));
}
