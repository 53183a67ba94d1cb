/**
 * Starts and stops the whole server in-process: logger, store, actor system, the one uWS App
 * (WebSocket + HTTP on one or two ports), and the lifecycle. `actors/server.ts` is the command
 * line wrapper; tests call `startServer` directly with port 0.
 *
 * Stop order: refuse new sockets → let sessions finish (bounded by shutdown.grace_ms) → close
 * what remains → drain and stop the actor system → flush the store → flush the logs.
 */
import type { Config } from '../config/index.js';
import { uws, type TemplatedApp, type us_listen_socket } from '../native/uws.js';
import { createLogger, type Logger, type RootLogger } from '../runtime/log.js';
import { LoopDelayMonitor } from '../runtime/loop-delay.js';
import { ActorSystem } from '../runtime/system.js';
import { openStore, type Store } from '../providers/store/index.js';
import { DeviceRegistry } from '../providers/store/devices.js';
import { Authenticator } from './frontdoor/auth.js';
import { compileTrustedProxies } from './frontdoor/trusted-proxies.js';
import { opsRoutes } from './frontdoor/ops-routes.js';
import { otaRoutes, type OtaSettings } from './frontdoor/ota-routes.js';
import { replyTo } from './frontdoor/http.js';
import { FD } from './frontdoor/errors.js';
import { wsBehavior, type LiveSession, type SessionDefaults } from './frontdoor/ws.js';
import { VISION_PATH, issueVisionToken, visionRoutes, type VisionService } from './frontdoor/vision-route.js';
import { originUrl, resolveOrigin } from './frontdoor/origin.js';
import { ToolCache } from './mcp/tool-cache.js';
import { QuickReplies } from './speak/quick-replies.js';
import { startPools } from './pools/pools.js';
import { providersStatus } from '../providers/pool/status.js';
import type { PolicyInput } from '../providers/pool/state.js';
import type { HttpProbe } from '../providers/http/probe.js';
import { Pacer } from './pacer/pacer.js';
import { Spawner, sharedSpawnClient } from '../runtime/spawner.js';
import { ExternalMcp } from './mcp/external/index.js';
import { realClock } from '../runtime/clock.js';
import type { FramingVersion } from './frontdoor/framing.js';
import type { SessionInfo } from './session/messages.js';
import type { DialogueShared } from './session/session.js';
import { ActivationPrompter, IntentMatcher } from './dialogue/intents.js';
import { DeviceMemory } from './dialogue/memory.js';
import { rolesFrom } from './dialogue/roles.js';
import { MusicLibrary } from './dialogue/music.js';
import { probeFor, ttsStreamsText, type ProviderConfig } from '../providers/registry.js';
import type { DialogueSettings, ToolsSettings } from '../config/dialogue.js';
// Error codes that worker modules raise, registered here too so logs and replies on the main
// thread name them exactly.
import './codec/errors.js';
import '../providers/asr/errors.js';
import '../providers/tts/errors.js';
import '../providers/llm/registry.js';

export interface ServerHandle {
  readonly wsPort: number;
  readonly httpPort: number;
  readonly system: ActorSystem;
  readonly log: Logger;
  readonly store: Store;
  readonly devices: DeviceRegistry;
  readonly sessions: ReadonlyMap<string, LiveSession>;
  status(): Promise<Record<string, unknown>>;
  /** Graceful stop; resolves when everything is flushed. Safe to call twice. */
  stop(reason?: string): Promise<void>;
}

export interface StartOptions {
  /** Use this logger instead of creating one from `config.log`. */
  logger?: RootLogger;
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<ServerHandle> {
  const log = opts.logger ?? createLogger({ level: config.log.level, file: config.log.file, console: config.log.console });
  const proxies = compileTrustedProxies(config.server.trusted_proxies);
  if (!proxies.ok) throw new Error(proxies.reason);

  const store = await openStore(config.store);
  const devices = new DeviceRegistry(store);
  const secret = config.auth.secret ?? (await devices.getOrCreateSecret());
  const auth = new Authenticator({ mode: config.auth.mode, allowDevices: config.auth.allow_devices, secret, ttlSeconds: config.auth.token_ttl_s });

  // Subprocesses (espeak-ng, pocketsphinx, MCP servers) start from this small helper process,
  // never from the main thread of a running server (fork time grows with our memory).
  // Each stdio MCP server holds one spawner slot for its whole life.
  const stdioServers = Object.values(config.mcp_servers).filter((m) => m.transport === 'stdio').length;
  const spawner = await Spawner.start({ log: (msg) => log.info({ component: 'spawner' }, msg), maxProcs: 16 + stdioServers });
  const mcp = new ExternalMcp({ servers: config.mcp_servers, spawnClient: () => sharedSpawnClient(spawner.address), log: log.child({ mod: 'mcp-external' }) });
  await mcp.start({ waitMs: 3000 });

  const system = new ActorSystem();
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const mod = (p: string) => new URL(`./${p}${ext}`, import.meta.url);
  const providerSlice = (stage: 'asr' | 'tts' | 'llm') => ({
    instances: Object.fromEntries(config.pipeline[stage].map((n) => [n, config.providers[stage][n]])),
    chain: [...config.pipeline[stage]],
  });
  // The codec worker loads only worker-safe native code (libopus via @discordjs/opus), so it may be
  // terminated if it hangs; the listen worker may not (onnxruntime aborts the process).
  system.addPool({ name: 'codec', size: config.workers.codec, modules: [mod('codec/module')], terminable: true });
  const asr = providerSlice('asr');
  system.addPool({ name: 'listen', size: config.workers.listen, modules: [mod('listen/module')], data: { asr: asr.instances, chain: asr.chain, spawner: spawner.address, hints: config.dialogue.hotwords } });
  const llm = providerSlice('llm');
  const vllm = {
    instances: Object.fromEntries(config.pipeline.vllm.map((n) => [n, config.providers.vllm[n]])),
    chain: [...config.pipeline.vllm],
  };
  system.addPool({
    name: 'think',
    size: config.workers.think,
    modules: [mod('think/module')],
    data: { llm: llm.instances, chain: llm.chain, vllm: vllm.instances, vllmChain: vllm.chain, hedgeMs: config.pools.llm.hedge_ms },
  });
  const tts = providerSlice('tts');
  system.addPool({ name: 'speak', size: config.workers.speak, modules: [mod('speak/module')], data: { tts: tts.instances, chain: tts.chain, spawner: spawner.address, hedgeMs: config.pools.tts.hedge_ms } });
  system.on('restarted', (x: { actors: string[] }) => {
    // A worker came back: tell each affected session, which resends what its actors need.
    const bySession = new Map<string, string[]>();
    for (const a of x.actors) {
      const id = a.slice(a.indexOf('/') + 1);
      bySession.set(id, [...(bySession.get(id) ?? []), a]);
    }
    for (const [id, actors] of bySession) {
      if (sessions.has(id)) system.send(`session/${id}`, { t: 'session.crew-restarted', actors }, { lane: 'system', session: id });
    }
  });
  system.on('fault', (f: { addr: string; error: { code: string; message: string } }) => {
    log.error({ actor: f.addr, code: f.error.code }, `actor fault: ${f.error.message}`);
    // An exception in one session ends that session only.
    if (f.addr.startsWith('session/')) sessions.get(f.addr.slice('session/'.length))?.data.link?.close(1011, 'internal error');
  });
  system.on('crashed', (x: { pool: string; slot: string; error: { message: string } }) => log.error({ pool: x.pool, slot: x.slot }, `worker crashed: ${x.error.message}`));
  system.on('escalated', (x: { pool: string; slot: string; error: { message: string } }) => log.fatal({ pool: x.pool, slot: x.slot }, `worker gave up: ${x.error.message}`));
  await system.start();
  const poolState = await startPools(system, { providers: poolPolicies(config), probes: await poolProbes(config, log), leaseMs: config.pools.lease_ms, log });
  // One shared vision actor per think worker, answering camera uploads in turn.
  const visionActors = await Promise.all(
    system.pool('think').slots.map(async (slot, i) => {
      await system.spawn(`vision/${i}`, 'vision', undefined, { pool: 'think', slot: i });
      return `vision/${i}`;
    }),
  );
  let visionNext = 0;
  const explain: VisionService = async (req) => {
    const addr = visionActors[visionNext++ % visionActors.length]!;
    const r = await system.request<{ text: string; fallback: boolean }>(
      addr,
      { t: 'vision.explain', question: req.question, image: req.image, mimeType: req.mimeType, deviceId: req.deviceId },
      { lane: 'system', transfer: [req.image.buffer as ArrayBuffer], signal: req.signal, timeoutMs: 60_000 },
    );
    return r.text;
  };

  const sessions = new Map<string, LiveSession>();
  const pacer = new Pacer({ frameMs: config.audio.frame_ms, leadFrames: config.audio.lead_frames, clock: realClock });
  const activationPrompter = new ActivationPrompter({ clock: realClock, template: config.dialogue.activation_prompt });
  const dialogue: DialogueShared = {
    settings: config.dialogue as DialogueSettings,
    tools: config.tools as ToolsSettings,
    music: config.tools.music.dir ? new MusicLibrary(config.tools.music.dir) : undefined,
    roles: rolesFrom(config.roles),
    devices: config.devices,
    memory: config.dialogue.memory.enabled ? new DeviceMemory(store, { recentTurns: config.dialogue.memory.recent_turns }) : undefined,
    intents: new IntentMatcher(config.dialogue.exit_phrases),
    activation: async (deviceId, clientId) => {
      if (!config.activation.enabled || (await devices.isBound(deviceId))) return { bound: true };
      const offer = await devices.offerActivation(deviceId, clientId);
      return { bound: false, text: activationPrompter.due(deviceId, offer.code) };
    },
  };
  const sessionDefaults: SessionDefaults = {
    system,
    pacer,
    crew: {
      downlink: { sampleRate: config.audio.downlink_rate, frameMs: config.audio.frame_ms, complexity: config.audio.encoder_complexity },
      vad: { threshold: config.vad.threshold, min_speech_ms: config.vad.min_speech_ms, end_silence_ms: config.vad.end_silence_ms, early_asr_ms: config.vad.early_asr_ms },
      echo: { threshold: config.vad.echo.threshold, maxLagMs: config.vad.echo.max_lag_ms, windowMs: config.vad.echo.window_ms },
      ttsStreamsText: config.pipeline.tts.every((name) => ttsStreamsText(config.providers.tts[name]?.type ?? '')),
    },
    startGapMs: config.audio.start_gap_ms,
    dialogue,
    toolCache: new ToolCache(store),
    externalMcp: mcp,
    quick: config.pipeline.tts[0]
      ? {
          cache: new QuickReplies(store),
          // The provider's whole config is part of the key: another vendor or voice under the same name must miss.
          key: { provider: `${config.pipeline.tts[0]}:${JSON.stringify(config.providers.tts[config.pipeline.tts[0]] ?? {})}`, sampleRate: config.audio.downlink_rate, frameMs: config.audio.frame_ms },
        }
      : undefined,
  };
  const loop = new LoopDelayMonitor();
  let accepting = true;
  let wsPort = 0;
  let httpPort = 0;
  const listenSockets: us_listen_socket[] = [];

  const app: TemplatedApp = config.server.tls
    ? uws.SSLApp({ cert_file_name: config.server.tls.cert, key_file_name: config.server.tls.key })
    : uws.App();

  app.ws(
    '/*',
    wsBehavior({
      sessionDefaults,
      system,
      log,
      auth,
      sessions,
      accepting: () => accepting,
      vision: (origin, deviceId, clientId) => {
        let base = config.server.public_http_url;
        if (!base) {
          const o = resolveOrigin(origin, { tls: !!config.server.tls, trustedProxies: proxies.matcher });
          if (!o.ok) return undefined;
          base = originUrl(o.origin, 'http', httpPort, '/');
        }
        return { url: new URL(VISION_PATH, base).href, token: issueVisionToken(visionSettings, deviceId, clientId, Date.now()) };
      },
      settings: {
        maxPayloadBytes: config.server.max_payload_bytes,
        idleTimeoutS: config.server.idle_timeout_s,
        helloTimeoutMs: config.server.hello_timeout_ms,
        downlink: { sampleRate: config.audio.downlink_rate, frameMs: config.audio.frame_ms },
      },
    }),
  );
  const otaSettings = (): OtaSettings => ({
    publicWsUrl: config.server.public_ws_url,
    publicHttpUrl: config.server.public_http_url,
    wsPort,
    httpPort,
    wsPath: config.server.ws_path,
    version: config.websocket.version as FramingVersion,
    tls: !!config.server.tls,
    trustedProxies: proxies.matcher,
    activationEnabled: config.activation.enabled,
    firmwareDir: config.server.firmware_dir,
  });
  otaRoutes(app, { log, auth, devices, settings: otaSettings });
  const visionSettings = { secret, tokenTtlS: 24 * 3600, maxBytes: 2 * 1024 * 1024, budgetMs: 28_000 };
  visionRoutes(app, { log, settings: visionSettings, explain });

  const workerStats = async (): Promise<[string, unknown][]> =>
    Promise.all(
      system.stats().pools.flatMap((p) =>
        system.pool(p.name).slots.filter((s) => s.alive).map(async (slot) => {
          const st = await system.pool(p.name).control<{ heapUsedMb: number; externalMb: number; actors: number; counters?: Record<string, number> }>(slot, { t: 'host.stats' }).catch(() => undefined);
          return [slot.name, st ? { actors: st.actors, heap_mb: st.heapUsedMb, external_mb: st.externalMb, ...(st.counters ? { counters: st.counters } : {}) } : 'unresponsive'] as [string, unknown];
        }),
      ),
    );
  const status = async (): Promise<Record<string, unknown>> => {
    const byState: Record<string, number> = {};
    for (const s of sessions.values()) {
      const k = s.data.link?.framing === undefined ? 'awaiting-hello' : 'connected';
      byState[k] = (byState[k] ?? 0) + 1;
    }
    const mem = process.memoryUsage();
    return {
      accepting,
      uptime_s: Math.round(process.uptime()),
      sessions: { total: sessions.size, ...byState },
      pacer: pacer.stats(),
      // What a load tester needs to read our turn records (first frame minus the start gap).
      audio: { start_gap_ms: config.audio.start_gap_ms, frame_ms: config.audio.frame_ms, downlink_rate: config.audio.downlink_rate, encoder_complexity: config.audio.encoder_complexity },
      event_loop_ms: { current: loop.peek(), last_window: loop.last() },
      actors: system.stats(),
      // Each worker's own heap: the main thread's figures alone hide where memory grows.
      workers: Object.fromEntries(await workerStats()),
      memory_mb: { rss: mb(mem.rss), heap_used: mb(mem.heapUsed), heap_total: mb(mem.heapTotal), external: mb(mem.external), array_buffers: mb(mem.arrayBuffers) },
    };
  };
  opsRoutes(app, {
    ready: () => {
      if (!accepting) return { ready: false, why: 'shutting down' };
      const down = system.stats().pools.flatMap((p) => p.slots.filter((s) => s.state !== 'ready').map((s) => `${s.name} ${s.state}`));
      return down.length ? { ready: false, why: down.join(', ') } : { ready: true };
    },
    status,
    providers: () => providersStatus(poolState),
    mcp: () => mcp.snapshot(),
    sessions: () =>
      Promise.all(
        [...sessions.values()].map((s) =>
          system.request<SessionInfo>(s.data.addr, { t: 'session.info' }, { lane: 'system', timeoutMs: 2000 }).then(
            (info) => ({ ...info, badFrames: s.data.badFrames, badJson: s.data.badJson, peer: s.data.peer }),
            () => ({ sessionId: s.data.sessionId, deviceId: s.data.identity.deviceId, state: 'unresponsive' }),
          ),
        ),
      ),
  });
  app.any('/*', (res, req) => {
    const url = req.getUrl();
    replyTo(res).json(404, { error: { code: FD.XZ_ERR_HTTP_NOT_FOUND, message: `no route for ${req.getMethod().toUpperCase()} ${url.slice(0, 200)}` } });
  });

  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      app.listen(config.server.host, port, (sock) => {
        if (!sock) return reject(new Error(`cannot listen on ${config.server.host}:${port} (in use, or not permitted)`));
        listenSockets.push(sock);
        resolve(uws.us_socket_local_port(sock as unknown as import('uWebSockets.js').us_socket));
      });
    });
  try {
    wsPort = await listen(config.server.ws_port);
    httpPort = config.server.http_port === config.server.ws_port && config.server.ws_port !== 0 ? wsPort : await listen(config.server.http_port);
  } catch (e) {
    for (const s of listenSockets) uws.us_listen_socket_close(s);
    await system.shutdown();
    await mcp.close();
    await spawner.close();
    await store.close();
    throw e;
  }

  const loopTimer = setInterval(() => {
    const d = loop.rotate();
    const lateness = pacer.rotate();
    log.info({ event_loop_ms: d, send_lateness_ms: lateness, sessions: sessions.size, rss_mb: mb(process.memoryUsage().rss) }, 'event loop');
  }, 60_000);
  loopTimer.unref();
  log.info({ host: config.server.host, ws_port: wsPort, http_port: httpPort, tls: !!config.server.tls, auth: config.auth.mode }, 'listening');

  let stopping: Promise<void> | undefined;
  const stop = (reason = 'shutdown'): Promise<void> => {
    stopping ??= (async () => {
      accepting = false;
      for (const s of listenSockets) uws.us_listen_socket_close(s);
      listenSockets.length = 0;
      const grace = config.shutdown.grace_ms;
      log.info({ reason, sessions: sessions.size, grace_ms: grace }, 'stopping');
      for (const s of sessions.values()) system.send(s.data.addr, { t: 'session.end', reason, graceMs: grace }, { lane: 'system', session: s.data.sessionId });
      const deadline = Date.now() + grace;
      while (sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const s of sessions.values()) s.data.link?.close(1001, 'server stopping');
      // Close callbacks run synchronously inside end(); give the session actors a moment to finish.
      for (let i = 0; i < 50 && sessions.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
      clearInterval(loopTimer);
      loop.stop();
      pacer.close();
      await system.shutdown({ drainTimeoutMs: Math.max(1000, deadline - Date.now()) });
      await mcp.close();
      await spawner.close();
      await store.close();
      log.info({ reason }, 'stopped');
      if (!opts.logger) await (log as RootLogger).close();
    })();
    return stopping;
  };

  return { wsPort, httpPort, system, log, store, devices, sessions, status, stop };
}

/** Per-provider pool limits from each instance's optional `pool:` block, keyed `<stage>.<name>`. */
function poolPolicies(config: Config): Record<string, PolicyInput> {
  const out: Record<string, PolicyInput> = {};
  for (const stage of ['llm', 'asr', 'tts'] as const) {
    for (const [name, inst] of Object.entries(config.providers[stage])) {
      const p = (inst as { pool?: Record<string, any> }).pool;
      if (!p) continue;
      out[`${stage}.${name}`] = {
        maxConcurrency: p['max_concurrency'] ?? null,
        ...(p['max_queue'] !== undefined ? { maxQueue: p['max_queue'] } : {}),
        ...(p['queue_timeout_ms'] !== undefined ? { queueTimeoutMs: p['queue_timeout_ms'] } : {}),
        ...(p['breaker'] ? { breaker: { ...(p['breaker'].failures !== undefined ? { failures: p['breaker'].failures } : {}), ...(p['breaker'].cooldown_ms !== undefined ? { cooldownMs: p['breaker'].cooldown_ms } : {}) } } : {}),
        ...(p['probe_interval_ms'] !== undefined ? { probeIntervalMs: p['probe_interval_ms'] } : {}),
      };
    }
  }
  return out;
}

/** Health probes for every instance that has a service to knock on, keyed `<stage>.<name>`. */
async function poolProbes(config: Config, log: Logger): Promise<Record<string, HttpProbe>> {
  const out: Record<string, HttpProbe> = {};
  for (const stage of ['llm', 'asr', 'tts'] as const) {
    for (const [name, inst] of Object.entries(config.providers[stage])) {
      try {
        const p = await probeFor(stage, name, inst as ProviderConfig);
        if (p) out[`${stage}.${name}`] = p;
      } catch (err) {
        // A config the provider itself rejects is reported when its worker builds it.
        log.debug({ err, provider: `${stage}.${name}` }, 'no health probe');
      }
    }
  }
  return out;
}

function mb(n: number): number {
  return Math.round((n / 1048576) * 10) / 10;
}
