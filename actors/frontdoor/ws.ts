/**
 * The WebSocket side of the front door: any path, identity from headers or query, auth at the
 * upgrade (401 before any frame), then one session actor per connection.
 *
 *   upgrade ──identity──auth──framing?──▶ open ──spawn session/<id>──▶ message ──▶ session actor
 *                                                                      close ───▶ session.closed
 *
 * JSON is parsed here (cheap, and a bad frame should not cost a mailbox slot); audio is taken out
 * of its framing here and copied, because uWS reuses the message buffer after the callback.
 * Nothing bad a device sends ever reaches it as an error message (older firmware may crash on
 * unknown types): it is logged with a stable code, counted and dropped.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../runtime/log.js';
import { sessionLogger } from '../../runtime/log.js';
import type { ActorSystem } from '../../runtime/system.js';
import type { HttpRequest, HttpResponse, WebSocket } from '../../native/uws.js';
import { uws } from '../../native/uws.js';
import { DeviceLink } from '../session/link.js';
import type { DeviceMessage, SessionInfo } from '../session/messages.js';
import { session as sessionActor, type SessionInit } from '../session/session.js';
import type { Authenticator } from './auth.js';
import { FD } from './errors.js';
import { decodeUplink, selectVersion, type Framing } from './framing.js';
import { statusLine } from './http.js';
import { extractIdentity, type Identity } from './identity.js';
import type { RequestOrigin } from './origin.js';

export interface WsSettings {
  readonly maxPayloadBytes: number;
  readonly idleTimeoutS: number;
  readonly helloTimeoutMs: number;
  readonly downlink: { readonly sampleRate: number; readonly frameMs: number };
}

export interface SocketData {
  /** Where the device reached us, for URLs handed to it later (the vision upload). */
  origin: RequestOrigin;
  sessionId: string;
  addr: string;
  identity: Identity;
  framing: Framing | undefined;
  peer: string;
  link?: DeviceLink;
  log?: Logger;
  badJson: number;
  badFrames: number;
}

export interface LiveSession {
  readonly data: SocketData;
  readonly openedAt: number;
}

/** What every session gets besides its socket (see SessionInit). */
export type SessionDefaults = Pick<SessionInit, 'system' | 'pacer' | 'crew' | 'startGapMs' | 'toolCache' | 'dialogue' | 'externalMcp' | 'quick'>;

export interface WsDeps {
  readonly sessionDefaults: SessionDefaults;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly auth: Authenticator;
  readonly settings: WsSettings;
  /** False while draining: new connections get 503. */
  accepting(): boolean;
  readonly sessions: Map<string, LiveSession>;
  onSessionEnded?(info: SessionInfo): void;
  /** The camera upload URL and token for this device (MCP initialize), or undefined. */
  vision?(origin: RequestOrigin, deviceId: string, clientId: string | undefined): { url: string; token: string } | undefined;
}

const decoder = new TextDecoder('utf-8', { fatal: true });
const peerDecoder = new TextDecoder();

function refuseUpgrade(res: HttpResponse, status: number, code: string, message: string): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'application/json').end(JSON.stringify({ error: { code, message } }));
  });
}

export function wsBehavior(deps: WsDeps): import('uWebSockets.js').WebSocketBehavior<SocketData> {
  const { system, log, auth, settings } = deps;
  return {
    // uWS drops a connection over its own limit without a close frame; with headroom here, a
    // message over the configured limit gets a proper 1009 close and a logged code instead.
    maxPayloadLength: Math.min(settings.maxPayloadBytes * 4, 64 * 1024 * 1024),
    idleTimeout: settings.idleTimeoutS,
    sendPingsAutomatically: settings.idleTimeoutS > 0,
    compression: uws.DISABLED,
    maxBackpressure: 1024 * 1024,
    closeOnBackpressureLimit: 0,

    upgrade(res: HttpResponse, req: HttpRequest, context) {
      // Everything from `req` must be read now: it is invalid once this function returns.
      const peer = peerDecoder.decode(res.getRemoteAddressAsText());
      const key = req.getHeader('sec-websocket-key');
      const protocols = req.getHeader('sec-websocket-protocol');
      const idr = extractIdentity((n) => req.getHeader(n) || undefined, req.getQuery() ?? '');
      if (!deps.accepting()) return refuseUpgrade(res, 503, FD.XZ_ERR_SERVER_DRAINING, 'server is shutting down');
      if (!idr.ok) {
        log.info({ code: idr.code, peer }, `upgrade refused: ${idr.reason}`);
        return refuseUpgrade(res, 400, idr.code, idr.reason);
      }
      const identity = idr.identity;
      const verdict = auth.check(identity, Date.now());
      if (!verdict.ok) {
        log.warn({ code: verdict.code, device: identity.deviceId, peer }, `upgrade refused: ${verdict.reason}`);
        return refuseUpgrade(res, 401, verdict.code, 'unauthorized');
      }
      let framing: Framing | undefined;
      if (identity.protocolVersionHeader !== undefined || identity.protocolVersionQuery !== undefined || identity.fromGateway) {
        const v = selectVersion({ header: identity.protocolVersionHeader, query: identity.protocolVersionQuery, fromGateway: identity.fromGateway });
        if (!v.ok) {
          log.info({ code: v.code, device: identity.deviceId }, `upgrade refused: ${v.reason}`);
          return refuseUpgrade(res, 400, v.code, v.reason);
        }
        // Without a header or query the hello decides; the gateway always uses its own header.
        if (v.source !== 'default' || identity.fromGateway) framing = v.framing;
      }
      const sessionId = randomUUID();
      const origin: RequestOrigin = {
        host: req.getHeader('host') || undefined,
        peerAddress: peer,
        forwardedHost: req.getHeader('x-forwarded-host') || undefined,
        forwardedProto: req.getHeader('x-forwarded-proto') || undefined,
        forwardedPort: req.getHeader('x-forwarded-port') || undefined,
      };
      const data: SocketData = { origin, sessionId, addr: `session/${sessionId}`, identity, framing, peer, badJson: 0, badFrames: 0 };
      // No sub-protocol is required of devices; a browser that asks for one gets its first choice
      // echoed, or it would refuse the connection. No extensions: compression is off.
      const protocol = protocols.split(',')[0]?.trim() ?? '';
      res.upgrade(data, key, protocol, '', context);
    },

    open(ws: WebSocket<SocketData>) {
      const data = ws.getUserData();
      const link = new DeviceLink(ws as WebSocket<unknown>, data.framing);
      const slog = sessionLogger(log, { deviceId: data.identity.deviceId, sessionId: data.sessionId, ...(data.identity.clientId ? { clientId: data.identity.clientId } : {}) });
      data.link = link;
      data.log = slog;
      deps.sessions.set(data.sessionId, { data, openedAt: Date.now() });
      const d = deps.sessionDefaults;
      // Every key written out (no spread): one shared object shape for every session's init.
      const init: SessionInit = {
        system: d.system,
        pacer: d.pacer,
        crew: d.crew,
        startGapMs: d.startGapMs,
        toolCache: d.toolCache,
        dialogue: d.dialogue,
        externalMcp: d.externalMcp,
        quick: d.quick,
        sessionId: data.sessionId,
        deviceId: data.identity.deviceId,
        clientId: data.identity.clientId,
        link,
        log: slog,
        framing: data.framing,
        fromGateway: data.identity.fromGateway,
        downlink: settings.downlink,
        helloTimeoutMs: settings.helloTimeoutMs,
        vision: deps.vision?.(data.origin, data.identity.deviceId, data.identity.clientId),
        onEnded: (info) => {
          deps.sessions.delete(data.sessionId);
          system.forgetSession(data.sessionId);
          deps.onSessionEnded?.({ ...info, badFrames: data.badFrames });
        },
      };
      slog.info({ peer: data.peer, framing: data.framing ?? 'from hello' }, 'connected');
      system.spawn(data.addr, sessionActor, init, { session: data.sessionId }).catch((e) => {
        slog.error({ err: e }, 'session actor failed to start: closing');
        link.close(1011, 'internal error');
      });
    },

    message(ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean) {
      const data = ws.getUserData();
      const link = data.link!;
      if (message.byteLength > settings.maxPayloadBytes) {
        data.log!.warn({ code: FD.XZ_ERR_PROTO_OVERSIZED, bytes: message.byteLength, limit: settings.maxPayloadBytes }, 'message over the payload limit: closing');
        link.close(1009, 'message too big');
        return;
      }
      if (isBinary) {
        if (link.framing === undefined) {
          // Framing comes from the hello: audio before it cannot even be unwrapped.
          if (data.badFrames++ === 0) data.log!.warn({ code: FD.XZ_ERR_PROTO_BINARY_BEFORE_HELLO }, 'audio before hello: dropped');
          return;
        }
        const f = decodeUplink(link.framing, new Uint8Array(message));
        if (!f.ok) {
          if (data.badFrames++ % 100 === 0) data.log!.warn({ code: f.code, count: data.badFrames }, `bad audio frame: ${f.reason}`);
          return;
        }
        system.send(data.addr, { t: 'session.audio', opus: f.opus.slice(), timestampMs: f.timestampMs }, { session: data.sessionId });
        return;
      }
      const msg = parseDeviceJson(message);
      if (!msg) {
        if (data.badJson++ % 100 === 0) data.log!.warn({ code: FD.XZ_ERR_PROTO_BAD_JSON, count: data.badJson }, 'text frame is not a JSON message: ignored');
        return;
      }
      // The data lane keeps device messages in order with the audio around them (a `listen stop`
      // must not overtake the last frames of the utterance).
      system.send(data.addr, { t: 'session.device', msg }, { session: data.sessionId });
    },

    close(ws: WebSocket<SocketData>, code: number, message: ArrayBuffer) {
      const data = ws.getUserData();
      if (data.link) data.link.closed = true;
      const reason = peerDecoder.decode(message).slice(0, 120);
      system.send(data.addr, { t: 'session.closed', code, reason }, { session: data.sessionId, lane: 'system' });
    },
  };
}

/** A device JSON message, or undefined when the frame is not a JSON object with a string type. */
function parseDeviceJson(message: ArrayBuffer): DeviceMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(message));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  if (typeof (v as { type?: unknown }).type !== 'string') return undefined;
  return v as DeviceMessage;
}

