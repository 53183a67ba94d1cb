/**
 * The HTTP bootstrap a device runs on every boot (protocol.md §2): OTA check, activation polling
 * and firmware download, plus CORS for browser clients.
 *
 *   POST|GET /xiaozhi/ota/           → server_time, firmware, websocket{url,token,version}, activation?
 *   POST     /xiaozhi/ota/activate   → 202 while the code is unbound, 200 once bound
 *   GET      /xiaozhi/ota/download/<board>_<version>.bin
 */
import { createReadStream } from 'node:fs';
import type { Logger } from '../../runtime/log.js';
import type { HttpResponse, TemplatedApp } from '../../native/uws.js';
import type { Authenticator } from './auth.js';
import { FD } from './errors.js';
import { findImageByFile, scanFirmwareFolder, type FirmwareImage, type FirmwareIndex } from './firmware.js';
import type { FramingVersion } from './framing.js';
import { readBody, readRequest, replyTo, statusLine, type Reply, type Request } from './http.js';
import { normalizeDeviceId } from './identity.js';
import { buildOtaReply, parseOtaRequest } from './ota.js';
import type { ProxyMatcher } from './trusted-proxies.js';
import { XzError } from '../../runtime/errors.js';

/** What OTA needs of the device registry (providers/store/devices). */
export interface DeviceDirectory {
  touch(deviceId: string, info: { clientId?: string | undefined; boardType?: string | undefined; firmwareVersion?: string | undefined }): Promise<unknown>;
  isBound(deviceId: string): Promise<boolean>;
  offerActivation(deviceId: string, clientId: string | undefined): Promise<{ code: string; challenge: string; expiresAt: number }>;
}

export interface OtaSettings {
  readonly publicWsUrl: string | null;
  readonly publicHttpUrl: string | null;
  readonly wsPort: number;
  readonly httpPort: number;
  readonly wsPath: string;
  readonly version: FramingVersion;
  readonly tls: boolean;
  readonly trustedProxies: ProxyMatcher;
  readonly activationEnabled: boolean;
  readonly firmwareDir: string;
}

export interface OtaDeps {
  readonly log: Logger;
  readonly auth: Authenticator;
  readonly devices: DeviceDirectory;
  /** Ports are known only once listening (port 0 in tests). */
  settings(): OtaSettings;
}

export const CORS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'device-id, client-id, content-type, authorization, activation-version',
  'Access-Control-Max-Age': '86400',
};

const DOWNLOAD_PATH = '/xiaozhi/ota/download/';
const MAX_OTA_BODY = 64 * 1024;
const FIRMWARE_RESCAN_MS = 10_000;

/** The firmware folder, rescanned at most every 10 s so new images appear without a restart. */
class FirmwareCatalog {
  #index: FirmwareIndex = new Map();
  #images: readonly FirmwareImage[] = [];
  #scannedAt = -Infinity;
  #scanning: Promise<void> | undefined;

  constructor(
    private readonly dir: () => string,
    private readonly log: Logger,
  ) {}

  async current(): Promise<{ index: FirmwareIndex; images: readonly FirmwareImage[] }> {
    if (performance.now() - this.#scannedAt > FIRMWARE_RESCAN_MS) {
      this.#scanning ??= this.#scan().finally(() => (this.#scanning = undefined));
      await this.#scanning;
    }
    return { index: this.#index, images: this.#images };
  }

  async #scan(): Promise<void> {
    const r = await scanFirmwareFolder(this.dir());
    this.#scannedAt = performance.now();
    if (!r.ok) {
      this.log.warn({ code: r.code }, r.reason);
      return;
    }
    this.#index = r.index;
    this.#images = r.images;
  }
}

export function otaRoutes(app: TemplatedApp, deps: OtaDeps): void {
  const firmware = new FirmwareCatalog(() => deps.settings().firmwareDir, deps.log);

  const preflight = (res: HttpResponse) => {
    res.cork(() => {
      res.writeStatus(statusLine(204));
      for (const [k, v] of Object.entries(CORS)) res.writeHeader(k, v);
      res.end();
    });
  };
  app.options('/xiaozhi/ota', preflight);
  app.options('/xiaozhi/ota/*', preflight);

  const check = (res: HttpResponse, req: import('../../native/uws.js').HttpRequest) => {
    const r = readRequest(res, req);
    const reply = replyTo(res);
    void handleCheck(r, res, reply, deps, firmware).catch((e) => fail(deps.log, reply, e));
  };
  app.post('/xiaozhi/ota/', check);
  app.post('/xiaozhi/ota', check);
  app.get('/xiaozhi/ota/', check);
  app.get('/xiaozhi/ota', check);

  app.post('/xiaozhi/ota/activate', (res, req) => {
    const r = readRequest(res, req);
    const reply = replyTo(res);
    void handleActivate(r, res, reply, deps).catch((e) => fail(deps.log, reply, e));
  });

  app.get(`${DOWNLOAD_PATH}:file`, (res, req) => {
    const file = decodeURIComponent(req.getParameter(0) ?? '');
    const reply = replyTo(res);
    void firmware
      .current()
      .then(({ images }) => {
        const img = findImageByFile(images, file);
        if (!img) throw new XzError(FD.XZ_ERR_FIRMWARE_NOT_FOUND, `no firmware image "${file.slice(0, 80)}"`);
        return streamFile(res, reply, img.path, img.size);
      })
      .catch((e) => fail(deps.log, reply, e));
  });
}

async function handleCheck(r: Request, res: HttpResponse, reply: Reply, deps: OtaDeps, firmware: FirmwareCatalog): Promise<void> {
  const body = r.method === 'post' ? await readBody(res, reply, MAX_OTA_BODY) : undefined;
  const parsed = parseOtaRequest(r.header, body);
  if (!parsed.ok) {
    deps.log.info({ code: parsed.code, peer: r.peerAddress }, `OTA request refused: ${parsed.reason}`);
    reply.json(400, { error: { code: parsed.code, message: parsed.reason } }, CORS);
    return;
  }
  const req = parsed.request;
  const s = deps.settings();
  const now = Date.now();
  const [fw, bound] = await Promise.all([
    firmware.current(),
    s.activationEnabled ? deps.devices.isBound(req.deviceId) : Promise.resolve(true),
    deps.devices.touch(req.deviceId, { clientId: req.clientId, boardType: req.boardType, firmwareVersion: req.appVersion }),
  ]);
  const offer = bound ? undefined : await deps.devices.offerActivation(req.deviceId, req.clientId);
  const built = buildOtaReply({
    request: req,
    nowMs: now,
    timezoneOffsetMinutes: -new Date(now).getTimezoneOffset(),
    origin: {
      host: r.header('host'),
      peerAddress: r.peerAddress,
      forwardedHost: r.header('x-forwarded-host'),
      forwardedProto: r.header('x-forwarded-proto'),
      forwardedPort: r.header('x-forwarded-port'),
    },
    originOptions: { tls: s.tls, trustedProxies: s.trustedProxies },
    websocket: { publicUrl: s.publicWsUrl, port: s.wsPort, path: s.wsPath, token: deps.auth.issue(req.deviceId, req.clientId, now), version: s.version },
    http: { publicUrl: s.publicHttpUrl, port: s.httpPort, downloadPath: DOWNLOAD_PATH },
    firmware: fw.index,
    bound,
    activation: offer ? { code: offer.code, challenge: offer.challenge, message: offer.code, timeoutMs: Math.max(0, offer.expiresAt - now) } : undefined,
  });
  if (!built.ok) {
    deps.log.warn({ code: built.code }, `OTA reply not built: ${built.reason}`);
    reply.json(500, { error: { code: built.code, message: built.reason } }, CORS);
    return;
  }
  deps.log.debug({ device: req.deviceId, board: req.boardType, version: req.appVersion, activation: !!offer }, 'OTA check');
  reply.json(200, built.reply, CORS);
}

async function handleActivate(r: Request, res: HttpResponse, reply: Reply, deps: OtaDeps): Promise<void> {
  await readBody(res, reply, MAX_OTA_BODY); // the HMAC of Activation-Version 2 is informational here
  const raw = r.header('device-id');
  const id = raw === undefined ? undefined : normalizeDeviceId(raw);
  if (!id?.ok) {
    const code = id ? id.code : FD.XZ_ERR_PROTO_NO_DEVICE_ID;
    reply.json(400, { error: { code, message: id ? id.reason : 'no Device-Id header' } }, CORS);
    return;
  }
  const bound = !deps.settings().activationEnabled || (await deps.devices.isBound(id.id));
  if (bound) reply.send(200, 'success', { 'Content-Type': 'text/plain; charset=utf-8', ...CORS });
  else reply.send(202, 'pending', { 'Content-Type': 'text/plain; charset=utf-8', ...CORS });
}

/** Streams a file with its Content-Length, respecting socket backpressure. */
function streamFile(res: HttpResponse, reply: Reply, path: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
    reply.onAbort(() => {
      stream.destroy();
      resolve();
    });
    let started = false;
    stream.on('error', (e) => (started ? (reply.onAbort(() => {}), res.close(), resolve()) : reject(e)));
    stream.on('data', (chunk) => {
      const buf = chunk as Buffer;
      const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
      const offset = res.getWriteOffset();
      let ok = false;
      let done = false;
      res.cork(() => {
        if (!started) {
          started = true;
          res.writeStatus(statusLine(200)).writeHeader('Content-Type', 'application/octet-stream');
        }
        [ok, done] = res.tryEnd(ab, size);
      });
      if (done) {
        stream.destroy();
        resolve();
      } else if (!ok) {
        stream.pause();
        res.onWritable((off) => {
          const [ok2, done2] = res.tryEnd(ab.slice(off - offset), size);
          if (done2) {
            stream.destroy();
            resolve();
          } else if (ok2) stream.resume();
          return ok2;
        });
      }
    });
  });
}

function fail(log: Logger, reply: Reply, e: unknown): void {
  if (reply.aborted) return;
  const code = (e as { code?: string }).code;
  if (code !== FD.XZ_ERR_FIRMWARE_NOT_FOUND && code !== FD.XZ_ERR_HTTP_BODY_TOO_LARGE) log.error({ err: e }, 'HTTP handler failed');
  reply.error(e, CORS);
}
