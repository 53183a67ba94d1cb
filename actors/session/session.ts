/**
 * The session supervisor: one actor per device connection, on the main thread, cheap while idle.
 * It answers the hello (deciding the binary framing when the upgrade did not), mirrors the
 * device's state machine, answers `ping` and `abort`, and ends the session politely.
 *
 *   front door ── session.device / session.audio ──▶ session ── link ──▶ device
 *                                                       └── hooks ──▶ audio path, MCP (later actors)
 */
import type { Logger } from '../../runtime/log.js';
import { defineActor } from '../../runtime/actor.js';
import type { Timer } from '../../runtime/clock.js';
import { FD } from '../frontdoor/errors.js';
import { selectVersion, type Framing } from '../frontdoor/framing.js';
import { encodeServerHello, parseClientHello, type ClientHello } from '../frontdoor/hello.js';
import { nextDeviceState, parseListenMode, type DeviceEvent, type DeviceView } from './device-state.js';
import type { DeviceLink } from './link.js';
import type { DeviceMessage, SessionIn, SessionInfo } from './messages.js';

export interface SessionInit {
  sessionId: string;
  deviceId: string;
  clientId: string | undefined;
  link: DeviceLink;
  log: Logger;
  /** Set when the upgrade (header or query) decided the framing; otherwise the hello decides. */
  framing: Framing | undefined;
  fromGateway: boolean;
  downlink: { sampleRate: number; frameMs: number };
  helloTimeoutMs: number;
  /** Called once when the session is over, whatever ended it. */
  onEnded(info: SessionInfo): void;
}

interface State {
  init: SessionInit;
  view: DeviceView;
  hello: ClientHello | undefined;
  helloAt: number | undefined;
  helloTimer: Timer | undefined;
  ended: boolean;
  audioIn: number;
  earlyAudio: number;
  unknownTypes: number;
  /** Legacy IoT descriptors the device announced (protocol.md §9), kept for the tool registry. */
  iotDescriptors: unknown[];
}

const CLOSE_HELLO_TIMEOUT = 4000;
const CLOSE_BAD_HELLO = 4001;
const CLOSE_GOING_AWAY = 1001;

export const session = defineActor<State, SessionInit, SessionIn>({
  // Audio arrives every 60 ms per device and is handled at once; a deep queue means the main
  // thread is stalled, and then fresh audio matters more than old.
  mailbox: { capacity: 256, overflow: 'drop-oldest' },

  start(ctx, init) {
    const s: State = {
      init,
      view: { state: 'connecting', mode: 'auto' },
      hello: undefined,
      helloAt: undefined,
      helloTimer: undefined,
      ended: false,
      audioIn: 0,
      earlyAudio: 0,
      unknownTypes: 0,
      iotDescriptors: [],
    };
    s.helloTimer = ctx.clock.setTimer(init.helloTimeoutMs, () => ctx.send(ctx.self, { t: 'session.hello-timeout' }, { lane: 'system' }));
    return s;
  },

  receive(s, m, _env, ctx) {
    switch (m.t) {
      case 'session.device':
        return onDevice(s, m.msg, ctx.clock.now());
      case 'session.audio':
        if (!s.hello) {
          s.earlyAudio++;
          if (s.earlyAudio === 1) s.init.log.warn({ code: FD.XZ_ERR_PROTO_BINARY_BEFORE_HELLO }, 'audio before hello: dropped');
          return;
        }
        s.audioIn++;
        return;
      case 'session.hello-timeout':
        if (s.hello || s.ended) return;
        s.init.log.warn({ code: FD.XZ_ERR_PROTO_HELLO_TIMEOUT, ms: s.init.helloTimeoutMs }, 'no hello in time: closing');
        s.init.link.close(CLOSE_HELLO_TIMEOUT, 'hello timeout');
        return;
      case 'session.end':
        s.init.log.info({ reason: m.reason }, 'ending session');
        s.init.link.close(CLOSE_GOING_AWAY, m.reason.slice(0, 100));
        return;
      case 'session.closed':
        finish(s, `socket closed (${m.code})`);
        ctx.stopSelf();
        return;
      case 'session.info':
        return info(s);
    }
  },

  stop(s) {
    finish(s, 'session stopped');
  },
});

function onDevice(s: State, msg: DeviceMessage, now: number): void {
  const { link, log } = s.init;
  switch (msg.type) {
    case 'hello':
      return onHello(s, msg, now);
    case 'listen': {
      const state = msg['state'];
      if (state === 'start') {
        const mode = parseListenMode(msg['mode']) ?? s.view.mode;
        apply(s, { e: 'listen-start', mode });
      } else if (state === 'stop') {
        apply(s, { e: 'listen-stop' });
      } else if (state === 'detect') {
        log.info({ text: typeof msg['text'] === 'string' ? msg['text'] : undefined }, 'wake word detected');
      } else {
        log.warn({ code: FD.XZ_ERR_PROTO_UNKNOWN_TYPE, state }, 'listen with an unknown state: ignored');
      }
      return;
    }
    case 'abort':
      // The device stays in "speaking" until it hears tts stop (protocol.md §6.1), so an abort
      // is always answered, even when we believe nothing is playing.
      link.sendJson({ session_id: s.init.sessionId, type: 'tts', state: 'stop' });
      apply(s, { e: 'tts-stop' });
      return;
    case 'ping':
      link.sendJson({ session_id: s.init.sessionId, type: 'pong', timestamp: Date.now() });
      return;
    case 'mcp':
      log.debug({ id: (msg['payload'] as { id?: unknown } | undefined)?.id }, 'device MCP reply');
      return;
    case 'iot':
      if (Array.isArray(msg['descriptors'])) s.iotDescriptors.push(...(msg['descriptors'] as unknown[]));
      return;
    default:
      s.unknownTypes++;
      log.info({ code: FD.XZ_ERR_PROTO_UNKNOWN_TYPE, type: msg.type.slice(0, 40) }, 'unknown message type: ignored');
  }
}

function onHello(s: State, msg: DeviceMessage, now: number): void {
  const { init } = s;
  const parsed = parseClientHello(msg);
  if (!parsed.ok) {
    init.log.warn({ code: parsed.code, reason: parsed.reason }, 'bad hello: closing');
    init.link.close(CLOSE_BAD_HELLO, 'bad hello');
    return;
  }
  if (init.link.framing === undefined) {
    const choice = selectVersion({ hello: parsed.hello.version, fromGateway: init.fromGateway });
    if (!choice.ok) {
      init.log.warn({ code: choice.code, reason: choice.reason }, 'hello names an unsupported protocol version: closing');
      init.link.close(CLOSE_BAD_HELLO, 'unsupported protocol version');
      return;
    }
    init.link.framing = choice.framing;
  }
  const first = s.hello === undefined;
  s.hello = parsed.hello;
  s.helloAt ??= now;
  s.helloTimer?.cancel();
  init.link.sendText(
    encodeServerHello({ sessionId: init.sessionId, sampleRate: init.downlink.sampleRate, frameDurationMs: init.downlink.frameMs }),
  );
  apply(s, { e: 'hello' });
  if (first) {
    init.log.info(
      { framing: init.link.framing, features: parsed.hello.features, transport: parsed.hello.transport },
      'hello',
    );
  }
}

function apply(s: State, ev: DeviceEvent): void {
  const next = nextDeviceState(s.view, ev);
  if (!next) {
    s.init.log.debug({ state: s.view.state, event: ev.e }, 'device would ignore this transition');
    return;
  }
  s.view = next;
}

function finish(s: State, why: string): void {
  if (s.ended) return;
  s.ended = true;
  s.helloTimer?.cancel();
  s.init.log.info({ why, audioIn: s.audioIn, sent: s.init.link.stats }, 'session ended');
  s.init.onEnded(info(s));
}

function info(s: State): SessionInfo {
  return {
    sessionId: s.init.sessionId,
    deviceId: s.init.deviceId,
    clientId: s.init.clientId,
    state: s.view.state,
    mode: s.view.mode,
    helloAt: s.helloAt,
    framing: String(s.init.link.framing ?? 'undecided'),
    audioIn: s.audioIn,
    earlyAudio: s.earlyAudio,
    badFrames: 0,
    unknownTypes: s.unknownTypes,
  };
}

export const actors = { session };
