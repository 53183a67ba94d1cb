/**
 * The session supervisor: one actor per device connection, on the main thread, cheap while idle.
 * It answers the hello (deciding the binary framing when the upgrade did not), mirrors the
 * device's state machine, answers `ping` and `abort`, and ends the session politely.
 *
 *   front door ── session.device / session.audio ──▶ session ── link ──▶ device
 *                                                       └── hooks ──▶ audio path, MCP (later actors)
 */
import type { Logger } from '../../runtime/log.js';
import { defineActor, detached } from '../../runtime/actor.js';
import { ToolRegistry, serverTools } from '../tools/registry.js';
import { DeviceToolbox } from '../mcp/toolbox.js';
import { syncDeviceTools } from '../mcp/registry.js';
import { DeviceFactsTracker } from '../mcp/device-facts.js';
import { syncExternalTools, type ExternalMcp } from '../mcp/external/index.js';
import type { ToolCache } from '../mcp/tool-cache.js';
import { resolveDevice, type DeviceConfigLike, type Role } from '../dialogue/roles.js';
import { dialogueTools, type MusicLibrary } from '../dialogue/index.js';
import type { IntentMatcher } from '../dialogue/intents.js';
import type { DeviceMemory } from '../dialogue/memory.js';
import type { DialogueSettings, ToolsSettings } from '../../config/dialogue.js';

/** Dialogue policy shared by every session of the process. */
export interface DialogueShared {
  settings: DialogueSettings;
  tools: ToolsSettings;
  /** The `tools.music.dir` listing, scanned once for every session. */
  music: MusicLibrary | undefined;
  roles: ReadonlyMap<string, Role>;
  devices: Readonly<Record<string, DeviceConfigLike>>;
  memory: DeviceMemory | undefined;
  intents: IntentMatcher;
  activation(deviceId: string, clientId: string | undefined): Promise<{ bound: true } | { bound: false; text: string | undefined }>;
}
import type { Timer } from '../../runtime/clock.js';
import { SlicedQueue } from '../../runtime/sliced.js';
import type { ActorSystem } from '../../runtime/system.js';
import type { Pacer } from '../pacer/pacer.js';
import { Conversation, type ConversationDeps } from './conversation.js';
import type { CrewSettings } from './crew.js';
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
  system: ActorSystem;
  pacer: Pacer;
  crew: CrewSettings;
  startGapMs: number;
  toolCache: ToolCache | undefined;
  dialogue: DialogueShared;
  externalMcp: ExternalMcp | undefined;
  quick: ConversationDeps['quick'];
  /** Where the device's camera uploads go (protocol.md §12), handed out in MCP initialize. */
  vision: { url: string; token: string } | undefined;
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
  talk: Conversation;
  /** Built at the first turn that needs tools: an idle connection never pays for one. */
  registry: { tools: ToolRegistry; unsync(): void } | undefined;
  /** The device's own tools: MCP (protocol.md §8) or legacy IoT (§9). */
  device: DeviceToolbox;
}

const CLOSE_HELLO_TIMEOUT = 4000;
const CLOSE_BAD_HELLO = 4001;
const CLOSE_GOING_AWAY = 1001;

export const session = defineActor<State, SessionInit, SessionIn>({
  // Audio arrives every 60 ms per device and is handled at once; a deep queue means the main
  // thread is stalled, and then fresh audio matters more than old.
  mailbox: { capacity: 256, overflow: 'drop-oldest' },

  start(ctx, init) {
    const s = {
      init,
      view: { state: 'connecting', mode: 'auto' },
      hello: undefined,
      helloAt: undefined,
      helloTimer: undefined,
      ended: false,
      audioIn: 0,
      earlyAudio: 0,
      unknownTypes: 0,
    } as Omit<State, 'talk' | 'registry' | 'device'> as State;
    const dlg = init.dialogue;
    const profile = resolveDevice(dlg.roles, dlg.devices, init.deviceId);
    s.device = new DeviceToolbox({
      deviceId: init.deviceId,
      sendMcp: (payload) => init.link.sendJson({ session_id: init.sessionId, type: 'mcp', payload }) !== -1,
      sendIot: (m) => init.link.sendJson(m) !== -1,
      clock: ctx.clock,
      log: init.log,
      ...(init.toolCache ? { cache: init.toolCache } : {}),
      ...(init.vision ? { visionUrl: init.vision.url, visionToken: init.vision.token } : {}),
    });
    s.registry = undefined;
    const facts = new DeviceFactsTracker(s.device, { now: () => ctx.clock.now(), log: init.log });
    s.talk = new Conversation({
      deviceId: init.deviceId,
      tools: () => (s.registry ??= buildTools(s)).tools,
      device: facts,
      sessionId: init.sessionId,
      self: ctx.self,
      link: init.link,
      log: init.log,
      system: init.system,
      pacer: init.pacer,
      clock: ctx.clock,
      crew: init.crew,
      startGapMs: init.startGapMs,
      quick: init.quick,
      dialogue: {
        settings: dlg.settings,
        roles: dlg.roles,
        profile,
        memory: dlg.memory,
        intents: dlg.intents,
        activation: () => dlg.activation(init.deviceId, init.clientId),
      },
      view: () => s.view,
      apply: (ev) => apply(s, ev),
    });
    s.helloTimer = ctx.clock.setTimer(init.helloTimeoutMs, () => ctx.send(ctx.self, { t: 'session.hello-timeout' }, { lane: 'system' }));
    return s;
  },

  // No `signal` parameter: audio arrives every 60 ms and needs none (see ActorContext.signal).
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
        s.talk.audio(m.opus);
        return;
      case 'session.hello-timeout':
        if (s.hello || s.ended) return;
        s.init.log.warn({ code: FD.XZ_ERR_PROTO_HELLO_TIMEOUT, ms: s.init.helloTimeoutMs }, 'no hello in time: closing');
        s.init.link.close(CLOSE_HELLO_TIMEOUT, 'hello timeout');
        return;
      case 'session.end':
        return endPolitely(s, m.reason, m.graceMs, ctx.clock);
      case 'session.closed':
        teardowns.push(() => {
          ctx.stopSelf();
          finish(s, `socket closed (${m.code})`).catch((e: unknown) => s.init.log.error({ err: e }, 'session teardown failed'));
        });
        return;
      case 'session.info':
        return info(s);
      case 'session.tool-call':
        // Answered later: the session keeps handling audio while a device runs the tool.
        return detached(s.talk.callTool(m.call, ctx.signal()));
      default:
        s.talk.handle(m);
        return;
    }
  },

  stop(s) {
    return finish(s, 'session stopped');
  },
});

/** Shutdown: let a reply in progress finish (up to the grace period), then close. */
async function endPolitely(s: State, reason: string, graceMs: number, clock: { now(): number; sleep(ms: number): Promise<void> }): Promise<void> {
  const deadline = clock.now() + graceMs;
  if (s.talk.replying) s.init.log.info({ reason }, 'ending session after the current reply');
  while (s.talk.replying && clock.now() < deadline && !s.init.link.closed) await clock.sleep(20);
  s.init.log.info({ reason }, 'ending session');
  s.init.link.close(CLOSE_GOING_AWAY, reason.slice(0, 100));
}

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
        s.talk.listenStart(mode);
      } else if (state === 'stop') {
        apply(s, { e: 'listen-stop' });
        s.talk.listenStop();
      } else if (state === 'detect') {
        if (typeof msg['text'] === 'string') s.talk.detect(msg['text'].slice(0, 2000));
      } else {
        log.warn({ code: FD.XZ_ERR_PROTO_UNKNOWN_TYPE, state }, 'listen with an unknown state: ignored');
      }
      return;
    }
    case 'abort':
      // The device stays in "speaking" until it hears tts stop (protocol.md §6.1), so an abort
      // is always answered, even when we believe nothing is playing.
      s.talk.abort(typeof msg['reason'] === 'string' ? msg['reason'] : undefined);
      return;
    case 'ping':
      link.sendJson({ session_id: s.init.sessionId, type: 'pong', timestamp: Date.now() });
      return;
    case 'mcp':
      s.device.receiveMcp(msg['payload']);
      return;
    case 'iot':
      s.device.receiveIot(msg);
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
  s.helloTimer = undefined;
  init.link.sendText(
    encodeServerHello({ sessionId: init.sessionId, sampleRate: init.downlink.sampleRate, frameDurationMs: init.downlink.frameMs }),
  );
  apply(s, { e: 'hello' });
  // Devices with an MCP server (FW ≥ 1.6.6) get initialize and a tool listing once per session.
  if (first && parsed.hello.features?.mcp) void s.device.start();
  if (first) s.talk.started();
  if (first) {
    init.log.info(
      { framing: init.link.framing, features: parsed.hello.features, transport: parsed.hello.transport },
      'hello',
    );
  }
}

/** Server functions, external MCP servers' tools, the dialogue's own tools, then the device's, kept in sync. */
function buildTools(s: State): { tools: ToolRegistry; unsync(): void } {
  const { init } = s;
  const dlg = init.dialogue;
  const tools = new ToolRegistry();
  for (const t of serverTools(dlg.settings.timezone ? { timezone: dlg.settings.timezone } : {})) tools.add(t);
  // External servers' tools go in before the device's, so device tools avoid their names.
  const unsyncExternal = init.externalMcp ? syncExternalTools(tools, init.externalMcp) : () => {};
  for (const t of dialogueTools(dlg.tools, {
    onEnd: () => s.talk.endAfterReply(),
    currentVoice: () => s.talk.voice,
    onVoice: (v) => s.talk.setVoice(v.id),
    onPlay: (track) => s.talk.playAfterReply(track, dlg.tools.music.max_seconds),
    roles: dlg.roles,
    currentRole: () => s.talk.role.name,
    onRole: (r) => s.talk.switchRole(r),
  }, dlg.music)) tools.add(t);
  const unsyncDevice = syncDeviceTools(tools, s.device);
  return {
    tools,
    unsync: () => {
      unsyncDevice();
      unsyncExternal();
    },
  };
}

function apply(s: State, ev: DeviceEvent): void {
  const next = nextDeviceState(s.view, ev);
  if (!next) {
    s.init.log.debug({ state: s.view.state, event: ev.e }, 'device would ignore this transition');
    return;
  }
  s.view = next;
}

async function finish(s: State, why: string): Promise<void> {
  if (s.ended) return;
  s.ended = true;
  s.helloTimer?.cancel();
  s.init.pacer.cancel(s.init.sessionId);
  s.device.close('session ended');
  s.registry?.unsync();
  await s.talk.end();
  s.init.log.info({ why, audioIn: s.audioIn, turns: s.talk.turns, sent: s.init.link.stats }, 'session ended');
  s.init.onEnded(info(s));
}

/**
 * Sessions whose socket closed, torn down 2 ms of them per loop turn: a mass disconnect must not
 * stall the sessions still talking (runtime/sliced.ts). Each task catches its own failures; what
 * reaches onError is stopSelf() failing, a runtime bug.
 */
const teardowns = new SlicedQueue(2, (e) => process.emitWarning(`session teardown: ${String(e)}`));

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
    turns: s.talk.turns,
    lastTurns: [...s.talk.records],
  };
}

export const actors = { session };
