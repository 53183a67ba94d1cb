/**
 * The HTTP side shared by the Volcengine fakes: a real server on 127.0.0.1:0 whose WebSocket
 * upgrade is checked the way the gateway does it (vendors.md §6.2, §7.3.1): wrong or missing
 * credentials are refused with 401/403 and a short text body carrying X-Tt-Logid; success answers
 * 101 with X-Tt-Logid and the echoed X-Api-Connect-Id. Every attempt is counted.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface UpgradeRefusal {
  status: number;
  body: string;
}

export interface VolcServer {
  readonly port: number;
  /** Upgrade requests received, refused ones included. */
  attempts: number;
  /** Upgrades accepted (WebSocket handshakes completed). */
  handshakes: number;
  readonly sockets: Set<WebSocket>;
  close(): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

let logSeq = 0;
export function logId(): string {
  logSeq++;
  return `20240726${String(logSeq).padStart(12, '0')}`;
}

/**
 * `check` returns a refusal for a bad upgrade or null to accept; `onSocket` gets each accepted
 * socket with the request headers.
 */
export async function startVolcServer(
  check: (path: string, headers: IncomingHttpHeaders) => UpgradeRefusal | null,
  onSocket: (ws: WebSocket, headers: IncomingHttpHeaders, path: string) => void,
): Promise<VolcServer> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const http: Server = createServer((_req, res) => {
    res.statusCode = 404;
    res.end('websocket only');
  });
  const state = { attempts: 0, handshakes: 0, sockets: new Set<WebSocket>() };
  wss.on('headers', (headers: string[], req: IncomingMessage) => {
    headers.push(`X-Tt-Logid: ${logId()}`);
    const connectId = req.headers['x-api-connect-id'];
    if (typeof connectId === 'string') headers.push(`X-Api-Connect-Id: ${connectId}`);
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    state.attempts++;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const refusal = check(path, req.headers);
    if (refusal) {
      const body = Buffer.from(refusal.body);
      socket.end(
        `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status] ?? 'Error'}\r\n` +
          `X-Tt-Logid: ${logId()}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString()}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      state.handshakes++;
      state.sockets.add(ws);
      ws.on('close', () => state.sockets.delete(ws));
      onSocket(ws, req.headers, path);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  return Object.assign(state, {
    port,
    close: async (): Promise<void> => {
      for (const ws of state.sockets) ws.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  });
}

/** Checks v3 credentials: either X-Api-Key, or app id (X-Api-App-Key or X-Api-App-Id) + access key. */
export function checkV3(
  headers: IncomingHttpHeaders,
  want: { appId: string; accessKey: string; resourceId: string; apiKey?: string | undefined; appIdHeaders: readonly string[] },
): UpgradeRefusal | null {
  const h = (name: string): string | undefined => {
    const v = headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  const resource = h('X-Api-Resource-Id');
  if (!resource) return { status: 401, body: '{"error":"missing X-Api-Resource-Id header"}' };
  const apiKey = h('X-Api-Key');
  if (apiKey !== undefined) {
    if (apiKey !== want.apiKey) return { status: 401, body: '{"error":"invalid X-Api-Key"}' };
  } else {
    const app = want.appIdHeaders.map(h).find((v) => v !== undefined);
    const access = h('X-Api-Access-Key');
    if (!app || !access) return { status: 401, body: `{"error":"missing ${want.appIdHeaders.join(' or ')} / X-Api-Access-Key header"}` };
    if (app !== want.appId || access !== want.accessKey) return { status: 401, body: '{"error":"load grant: requested grant not found"}' };
  }
  if (resource !== want.resourceId) return { status: 403, body: `{"error":"requested resource not granted: ${resource}"}` };
  return null;
}
