/**
 * The camera upload of protocol.md §12: the device's `self.camera.take_photo` tool posts a JPEG
 * and the model's question as chunked multipart to the URL we gave it in MCP `initialize`, with
 * the per-device token we gave it there. The whole body we answer becomes the tool's result.
 *
 *   POST /xiaozhi/vision/explain  (Device-Id, Client-Id, Authorization: Bearer <vision token>)
 *     parts: question (text), file (image/jpeg)
 *   → 200 {"success":true,"action":"RESPONSE","response":"<answer>"}
 *   → 200 {"success":false,"message":"…"}  when the vision model failed (the model can say so)
 *   → 401 / 400 / 413 / 415 with a coded error for uploads we refuse
 */
import { createHmac } from 'node:crypto';
import type { Logger } from '../../runtime/log.js';
import { defineErrors, toWire, XzError } from '../../runtime/errors.js';
import { uws, type TemplatedApp } from '../../native/uws.js';
import { readBody, readRequest, replyTo } from './http.js';
import { normalizeDeviceId, parseAuthorization, presentedToken } from './identity.js';
import { issueToken, verifyToken } from './token.js';

export const VISION_ERR = defineErrors({
  XZ_ERR_VISION_UNAUTHORIZED: { category: 'auth', retryable: false, message: 'vision token missing, invalid or expired' },
  XZ_ERR_VISION_BAD_UPLOAD: { category: 'invalid-request', retryable: false, message: 'upload is not multipart with a question and an image' },
  XZ_ERR_VISION_TOO_LARGE: { category: 'invalid-request', retryable: false, message: 'image too large' },
  XZ_ERR_VISION_BAD_IMAGE: { category: 'invalid-request', retryable: false, message: 'file is not a JPEG or PNG image' },
  XZ_ERR_VISION_TIMEOUT: { category: 'timeout', retryable: true, message: 'no answer from the vision model in time' },
});

export const VISION_PATH = '/xiaozhi/vision/explain';

export interface VisionRequest {
  deviceId: string;
  question: string;
  image: Uint8Array;
  mimeType: 'image/jpeg' | 'image/png';
  signal: AbortSignal;
}

/** Answers a question about an image (a vision model, or the text model explaining it cannot see). */
export type VisionService = (req: VisionRequest) => Promise<string>;

export interface VisionSettings {
  readonly secret: string;
  readonly tokenTtlS: number;
  readonly maxBytes: number;
  /** The device's HTTP timeout is ~30 s; answer before it gives up. */
  readonly budgetMs: number;
}

/** Vision tokens are signed with a key derived for this purpose only: a WebSocket token is not one. */
function visionKey(secret: string): string {
  return createHmac('sha256', secret).update('xiaozhi vision upload').digest('base64url');
}

export function issueVisionToken(s: Pick<VisionSettings, 'secret'>, deviceId: string, clientId: string | undefined, nowMs: number): string {
  return issueToken({ secret: visionKey(s.secret), deviceId, clientId, nowMs });
}

function sniff(image: Uint8Array): 'image/jpeg' | 'image/png' | undefined {
  if (image.length > 3 && image[0] === 0xff && image[1] === 0xd8 && image[2] === 0xff) return 'image/jpeg';
  if (image.length > 8 && image[0] === 0x89 && image[1] === 0x50 && image[2] === 0x4e && image[3] === 0x47) return 'image/png';
  return undefined;
}

export function visionRoutes(app: TemplatedApp, deps: { log: Logger; settings: VisionSettings; explain: VisionService }): void {
  const { log, settings } = deps;
  app.post(VISION_PATH, (res, req) => {
    const r = readRequest(res, req);
    const reply = replyTo(res);
    const refuse = (status: number, err: XzError) => {
      log.info({ code: err.code, peer: r.peerAddress }, `vision upload refused: ${err.message}`);
      reply.json(status, { success: false, code: err.code, message: err.message });
    };
    const id = normalizeDeviceId(r.header('device-id') ?? '');
    if (!id.ok) return refuse(401, new XzError(VISION_ERR.XZ_ERR_VISION_UNAUTHORIZED, 'no usable Device-Id'));
    const check = verifyToken(presentedToken(parseAuthorization(r.header('authorization'))), {
      secret: visionKey(settings.secret),
      deviceId: id.id,
      clientId: r.header('client-id'),
      nowMs: Date.now(),
      ttlSeconds: settings.tokenTtlS,
    });
    if (!check.ok) return refuse(401, new XzError(VISION_ERR.XZ_ERR_VISION_UNAUTHORIZED, check.reason));
    const contentType = r.header('content-type') ?? '';
    if (!contentType.toLowerCase().startsWith('multipart/form-data')) {
      return refuse(415, new XzError(VISION_ERR.XZ_ERR_VISION_BAD_UPLOAD, `content type ${contentType.slice(0, 60) || 'missing'}`));
    }
    const started = Date.now();
    const budget = AbortSignal.timeout(settings.budgetMs);
    void (async () => {
      let body: Buffer;
      try {
        body = await readBody(res, reply, settings.maxBytes + 64 * 1024);
      } catch (e) {
        if (reply.aborted) return;
        return refuse(413, new XzError(VISION_ERR.XZ_ERR_VISION_TOO_LARGE, `upload over ${settings.maxBytes} bytes`, { cause: e }));
      }
      const parts = uws.getParts(body, contentType) ?? [];
      const question = parts.find((p) => p.name === 'question');
      const file = parts.find((p) => p.name === 'file');
      const text = question ? Buffer.from(question.data).toString('utf8').trim() : '';
      if (!file || !text) return refuse(400, new XzError(VISION_ERR.XZ_ERR_VISION_BAD_UPLOAD, !file ? 'no file part' : 'no question part'));
      if (file.data.byteLength > settings.maxBytes) return refuse(413, new XzError(VISION_ERR.XZ_ERR_VISION_TOO_LARGE, `image of ${file.data.byteLength} bytes`));
      const image = new Uint8Array(file.data.slice(0));
      const mimeType = sniff(image);
      if (!mimeType) return refuse(415, new XzError(VISION_ERR.XZ_ERR_VISION_BAD_IMAGE));
      try {
        const answer = await deps.explain({ deviceId: id.id, question: text.slice(0, 2000), image, mimeType, signal: budget });
        log.info({ device: id.id, bytes: image.length, ms: Date.now() - started }, 'vision answered');
        reply.json(200, { success: true, action: 'RESPONSE', response: answer });
      } catch (e) {
        const w = budget.aborted ? toWire(new XzError(VISION_ERR.XZ_ERR_VISION_TIMEOUT)) : toWire(e);
        log.warn({ device: id.id, code: w.code, ms: Date.now() - started }, `vision failed: ${w.message}`);
        // 200 with success false: the device hands this text to the model, which can tell the user.
        reply.json(200, { success: false, code: w.code, message: w.message });
      }
    })();
  });
}
