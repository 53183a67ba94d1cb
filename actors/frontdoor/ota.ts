/**
 * The OTA "check version" exchange (protocol.md §2.2, §2.3), without I/O: parse what the device
 * sent, build what it needs back.
 *
 * Rules the reply keeps, from the firmware generations in the field:
 * - never a JSON null: older firmware reads `valuestring` without type checks;
 * - `firmware` is always present with string `version` and `url`: FW up to 1.x treats a missing
 *   `firmware` object as a failed check (retry, then MQTT fallback), and the oldest builds upgrade
 *   whenever the version string differs — so "no upgrade" echoes the device's own version exactly;
 * - `websocket` is always present and `mqtt` never: the WebSocket transport is chosen per reply,
 *   and a stale `mqtt` section would become the device's fallback forever;
 * - `activation` only while the device is unbound: the device loops on activation for as long
 *   as the reply carries it.
 */
import { FD, refuse, type Refusal } from './errors.js';
import { type HeaderGetter, normalizeDeviceId } from './identity.js';
import type { FramingVersion } from './framing.js';
import { isNewerVersion, type FirmwareIndex } from './firmware.js';
import { originUrl, resolveOrigin, type OriginOptions, type PublicOrigin, type RequestOrigin } from './origin.js';

// ---------------------------------------------------------------------------------------------
// Request (§2.2)

export interface OtaRequest {
  /** Canonical (lower-case MAC) device id. */
  readonly deviceId: string;
  readonly deviceIdIsMac: boolean;
  readonly clientId: string | undefined;
  /** `board.type`: the model key for firmware lookups. */
  readonly boardType: string | undefined;
  readonly boardName: string | undefined;
  /** Running firmware version, exactly as the device reported it. */
  readonly appVersion: string;
  readonly appName: string | undefined;
  readonly language: string | undefined;
  readonly chipModel: string | undefined;
  readonly elfSha256: string | undefined;
  readonly flashSize: number | undefined;
  /** Sent as a quoted number by the firmware. */
  readonly minimumFreeHeap: number | undefined;
  /** 2 when the chip carries a factory serial number (activation HMAC), else 1. */
  readonly activationVersion: 1 | 2;
  readonly serialNumber: string | undefined;
}

export type OtaRequestResult = { readonly ok: true; readonly request: OtaRequest } | Refusal;

const MAX_BODY_BYTES = 64 * 1024;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') {
    const t = v.trim();
    return t === '' ? undefined : t;
  }
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
}

function num(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

function header(get: HeaderGetter, name: string): string | undefined {
  return str(get(name));
}

/** `User-Agent: <board>/<version>` as the firmware builds it. */
function userAgentParts(ua: string | undefined): { board?: string; version?: string } {
  if (ua === undefined) return {};
  const m = /^([^/\s]+)\/(\S+)/.exec(ua);
  return m ? { board: m[1]!, version: m[2]! } : {};
}

/**
 * Parses a check-version request: headers plus the JSON body. Identity comes from the headers
 * first (that is what the WebSocket will present later), then from the body. Garbage bodies, and
 * requests naming no device or no running version, are refused with `XZ_ERR_OTA_BAD_REQUEST`.
 * Never throws.
 */
export function parseOtaRequest(getHeader: HeaderGetter, body: string | Uint8Array | undefined): OtaRequestResult {
  if (body === undefined || body.length === 0) return refuse(FD.XZ_ERR_OTA_BAD_REQUEST, 'empty body');
  if (body.length > MAX_BODY_BYTES) return refuse(FD.XZ_ERR_OTA_BAD_REQUEST, `body of ${body.length} bytes is too large`);
  const text = typeof body === 'string' ? body : new TextDecoder('utf-8').decode(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return refuse(FD.XZ_ERR_OTA_BAD_REQUEST, 'body is not JSON');
  }
  if (!isObject(parsed)) return refuse(FD.XZ_ERR_OTA_BAD_REQUEST, 'body is not a JSON object');
  const app = isObject(parsed.application) ? parsed.application : {};
  const board = isObject(parsed.board) ? parsed.board : {};
  const ua = userAgentParts(header(getHeader, 'user-agent'));

  const rawDevice = header(getHeader, 'device-id') ?? str(parsed.mac_address) ?? str(board.mac);
  if (rawDevice === undefined) return refuse(FD.XZ_ERR_OTA_BAD_REQUEST, 'no Device-Id header and no mac_address in the body');
  const device = normalizeDeviceId(rawDevice);
  if (!device.ok) return refuse(FD.XZ_ERR_OTA_BAD_REQUEST, device.reason);

  const appVersion = str(app.version) ?? ua.version;
  if (appVersion === undefined) return refuse(FD.XZ_ERR_OTA_BAD_REQUEST, 'no application.version in the body and none in User-Agent');

  return {
    ok: true,
    request: {
      deviceId: device.id,
      deviceIdIsMac: device.isMac,
      clientId: header(getHeader, 'client-id') ?? str(parsed.uuid),
      boardType: str(board.type) ?? ua.board,
      boardName: str(board.name),
      appVersion,
      appName: str(app.name),
      language: str(parsed.language) ?? header(getHeader, 'accept-language'),
      chipModel: str(parsed.chip_model_name),
      elfSha256: str(app.elf_sha256),
      flashSize: num(parsed.flash_size),
      minimumFreeHeap: num(parsed.minimum_free_heap_size),
      activationVersion: header(getHeader, 'activation-version') === '2' ? 2 : 1,
      serialNumber: header(getHeader, 'serial-number'),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reply (§2.3)

export interface OtaReply {
  server_time: { timestamp: number; timezone_offset: number };
  firmware: { version: string; url: string };
  websocket: { url: string; token: string; version: number };
  activation?: { code: string; message: string; challenge: string; timeout_ms: number };
}

export interface ActivationOffer {
  /** Digits only: the device speaks each digit. */
  readonly code: string;
  /** Shown on screen; defaults to the code. */
  readonly message?: string;
  /** The device polls /activate only when a challenge is present; defaults to the device id. */
  readonly challenge?: string;
  readonly timeoutMs?: number;
}

export interface OtaReplyInputs {
  readonly request: OtaRequest;
  readonly nowMs: number;
  /** Minutes east of UTC; the device adds it to the timestamp for its local clock. */
  readonly timezoneOffsetMinutes: number;
  /** Where the request came from, for URLs when no public URL is configured. */
  readonly origin: RequestOrigin;
  readonly originOptions: OriginOptions;
  readonly websocket: {
    /** `server.public_ws_url`; used verbatim when set. */
    readonly publicUrl?: string | null | undefined;
    readonly port: number;
    readonly path: string;
    /**
     * Issued token, or "" when auth is off (the device then sends no Authorization). Always sent,
     * even empty: NVS keeps keys a reply omits, so a stale token would otherwise live on.
     */
    readonly token: string;
    readonly version: FramingVersion;
  };
  readonly http: {
    /** `server.public_http_url`; base for firmware download URLs when set. */
    readonly publicUrl?: string | null | undefined;
    readonly port: number;
    /** Route serving images by file name, e.g. `/xiaozhi/ota/download/`. */
    readonly downloadPath: string;
  };
  readonly firmware?: FirmwareIndex | undefined;
  /** Whether the device is bound; `activation` is sent only when it is not. */
  readonly bound: boolean;
  readonly activation?: ActivationOffer | undefined;
}

export type OtaReplyResult = { readonly ok: true; readonly reply: OtaReply } | Refusal;

/**
 * Checks a configured WebSocket URL against what the firmware's parser accepts (§3.2): `ws` or
 * `wss`, a `/` after the authority, and without an explicit port no `:` anywhere after the host.
 */
export function checkPublicWsUrl(url: string): Refusal | undefined {
  const bad = (why: string) => refuse(FD.XZ_ERR_OTA_BAD_PUBLIC_URL, `public WebSocket URL ${JSON.stringify(url)}: ${why}`);
  const m = /^(wss?):\/\/([^/?#]*)(\/.*)?$/.exec(url);
  if (!m) return bad('must start with ws:// or wss://');
  if (/[\s"\\]/.test(url)) return bad('must not contain spaces, quotes or backslashes');
  if (m[3] === undefined) return bad('needs a path after the host (e.g. /xiaozhi/v1/)');
  const authority = m[2]!;
  if (authority === '' || authority.includes('@')) return bad('needs a plain host[:port]');
  const hasPort = /:\d{1,5}$/.test(authority);
  if (!hasPort && (authority.includes(':') || m[3].includes(':'))) return bad('without an explicit port, no ":" may follow the host');
  try {
    new URL(url);
  } catch {
    return bad('does not parse');
  }
  return undefined;
}

function checkPublicHttpUrl(url: string): Refusal | undefined {
  if (!/^https?:\/\/[^/?#\s"\\]+/.test(url) || /[\s"\\]/.test(url)) {
    return refuse(FD.XZ_ERR_OTA_BAD_PUBLIC_URL, `public HTTP URL ${JSON.stringify(url)} must be http(s)://host[:port][/path]`);
  }
  return undefined;
}

function joinUrl(base: string, path: string, file: string): string {
  const b = base.endsWith('/') ? base.slice(0, -1) : base;
  const p = path.startsWith('/') ? path : `/${path}`;
  return `${b}${p.endsWith('/') ? p : `${p}/`}${encodeURIComponent(file)}`;
}

/**
 * Builds the reply. Refuses (never throws) when a URL cannot be formed — no configured public URL
 * and no usable Host — or when the configured URL or activation offer is unusable.
 */
export function buildOtaReply(inp: OtaReplyInputs): OtaReplyResult {
  const req = inp.request;
  let origin: PublicOrigin | undefined;
  const getOrigin = (): PublicOrigin | Refusal => {
    if (origin) return origin;
    const r = resolveOrigin(inp.origin, inp.originOptions);
    if (!r.ok) return r;
    origin = r.origin;
    return origin;
  };

  // websocket
  let wsUrl: string;
  const wsPublic = inp.websocket.publicUrl;
  if (typeof wsPublic === 'string' && wsPublic !== '') {
    const bad = checkPublicWsUrl(wsPublic);
    if (bad) return bad;
    wsUrl = wsPublic;
  } else {
    const o = getOrigin();
    if ('ok' in o) return o;
    wsUrl = originUrl(o, 'ws', inp.websocket.port, inp.websocket.path);
  }

  // firmware: offer the newest image only when the device itself would take it as newer.
  let firmware = { version: req.appVersion, url: '' };
  const image = req.boardType === undefined ? undefined : inp.firmware?.get(req.boardType);
  if (image && isNewerVersion(image.version, req.appVersion)) {
    let base: string;
    const httpPublic = inp.http.publicUrl;
    if (typeof httpPublic === 'string' && httpPublic !== '') {
      const bad = checkPublicHttpUrl(httpPublic);
      if (bad) return bad;
      base = httpPublic;
    } else {
      const o = getOrigin();
      if ('ok' in o) return o;
      base = originUrl(o, 'http', inp.http.port, '/');
    }
    firmware = { version: image.version, url: joinUrl(base, inp.http.downloadPath, image.file) };
  }

  const tz = Math.trunc(inp.timezoneOffsetMinutes);
  const reply: OtaReply = {
    server_time: { timestamp: Math.floor(inp.nowMs), timezone_offset: Number.isFinite(tz) ? tz : 0 },
    firmware,
    websocket: { url: wsUrl, token: String(inp.websocket.token), version: inp.websocket.version },
  };

  if (!inp.bound && inp.activation) {
    const a = inp.activation;
    if (typeof a.code !== 'string' || !/^\d{1,12}$/.test(a.code)) {
      return refuse(FD.XZ_ERR_OTA_BAD_ACTIVATION, 'activation code must be a string of digits');
    }
    const timeout = a.timeoutMs ?? 30000;
    reply.activation = {
      code: a.code,
      message: typeof a.message === 'string' ? a.message : a.code,
      challenge: typeof a.challenge === 'string' && a.challenge !== '' ? a.challenge : req.deviceId,
      timeout_ms: Number.isFinite(timeout) ? Math.trunc(timeout) : 30000,
    };
  }
  return { ok: true, reply };
}
