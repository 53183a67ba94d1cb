/**
 * Runs a fleet: builds the devices, launches them at the requested rate and concurrency, drives
 * the chosen mode (talk, idle, ramp, soak), samples the simulator's own CPU, the server's RSS and
 * (talking modes, our server) the server's own turn records, and returns the report. The CLI (`cli.ts`) is a thin wrapper; tests call `runFleet` directly
 * when they want the report object.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import { SimDevice, type DeviceEnv } from './device.js';
import { deviceMac, deviceUuid, rng } from './ids.js';
import { Metrics } from './metrics.js';
import type { FleetOptions } from './options.js';
import { Scheduler } from './scheduler.js';
import { readServerRss, settledRss, type RssSample } from './server-status.js';
import { ServerOwn, ServerOwnSampler, serverOwnReport, sessionsUrlFor, type ServerWindow } from './server-own.js';
import { frameSpeech, loadSpeech, type SpeechSet } from './speech.js';
import { RampJudge, type RampOutcome } from './ramp.js';
import { buildReport, progressLine, type ClientStats, type FleetReport, type IdleMemory } from './report.js';

export interface RunHooks {
  /** Progress output (one line); the CLI writes it to stderr. */
  progress?(line: string, final: boolean): void;
  /** Aborts the run early; what was measured is still reported. */
  signal?: AbortSignal;
}

const LOOP_RESOLUTION_MS = 5;
/** Idle mode: wait this long after reaching a size before reading the server's RSS. */
const SETTLE_MS = 2000;
const CONNECT_ERRORS = new Set(['ota', 'connect', 'upgrade-refused', 'config']);

export async function runFleet(opts: FleetOptions, hooks: RunHooks = {}): Promise<FleetReport> {
  const startedAt = new Date();
  const t0 = performance.now();
  const talking = opts.mode !== 'idle';
  const speech = talking ? await loadSpeech(opts.speech, opts.cacheDir) : undefined;
  const framed = new Map<number, SpeechSet>();
  const metrics = new Metrics();
  const sched = new Scheduler();
  const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  const random = rng(opts.seed);
  const env: DeviceEnv = {
    sched,
    metrics,
    dispatcher,
    rand: random,
    opts: {
      wsUrl: opts.url,
      otaUrl: opts.ota,
      token: opts.token,
      authOff: opts.authOff,
      protocolVersion: opts.protocolVersion,
      listenMode: opts.listenMode,
      talk: talking,
      replyTimeoutMs: opts.replyTimeoutS * 1000,
      helloTimeoutMs: opts.helloTimeoutS * 1000,
      mcpExtraTools: opts.mcpExtraTools,
    },
    speech(version) {
      if (!speech) return undefined;
      let s = framed.get(version);
      if (!s) framed.set(version, (s = frameSpeech(speech, version)));
      return s;
    },
  };
  // The server's own view (talking modes): its turn records, pacer and event loop. Only sessions
  // of this run's devices count.
  const ownDevices = new Set<string>();
  const sessionsUrl = opts.sessionsUrl ?? (opts.statusUrl ? sessionsUrlFor(opts.statusUrl) : undefined);
  const own = talking && sessionsUrl ? new ServerOwnSampler(new ServerOwn(opts.startGapMs, (id) => ownDevices.has(id)), sessionsUrl, opts.statusUrl, dispatcher, t0) : undefined;
  const decodeEvery = opts.decodeSample > 0 ? Math.max(1, Math.round(1 / opts.decodeSample)) : 0;
  const devices: SimDevice[] = [];
  const stopRequested = () => hooks.signal?.aborted === true;

  // The simulator's own health: CPU share of one core, event-loop delay.
  // The histogram counts the sampling period itself; it is subtracted when reporting.
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  loop.enable();
  const client: ClientStats = { cpuPctMean: 0, cpuPctPeak: 0, rssMbPeak: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0, wakeups: 0 };
  const cpu0 = process.cpuUsage();
  let lastCpu = process.cpuUsage();
  let lastTick = performance.now();
  let cpuNow = 0;
  let ramp: RampJudge | undefined;
  let rampOutcome: RampOutcome | undefined;
  const tick = (final: boolean) => {
    const now = performance.now();
    const c = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    cpuNow = ((c.user + c.system) / 1000 / Math.max(1, now - lastTick)) * 100;
    lastTick = now;
    client.cpuPctPeak = Math.max(client.cpuPctPeak, cpuNow);
    client.rssMbPeak = Math.max(client.rssMbPeak, process.memoryUsage.rss() / 1048576);
    const srvFfP99 = !own?.own.available ? undefined : ramp ? (ramp.last?.server?.firstFrameP99Ms ?? null) : own.own.h.firstFrameNet.count ? own.own.h.firstFrameNet.quantile(0.99) : null;
    const line = progressLine({ elapsedS: (now - t0) / 1000, mode: opts.mode, requested: opts.devices, metrics, cpuPct: cpuNow, ramp, srvFfP99 });
    hooks.progress?.(line, final);
  };
  const ticker = setInterval(() => tick(false), 1000);

  // Server RSS over time, when the server exposes it.
  const rss: RssSample[] = [];
  const sampleRss = async () => {
    if (!opts.statusUrl) return;
    try {
      const r = await readServerRss(opts.statusUrl, dispatcher);
      rss.push({ t: round((performance.now() - t0) / 1000), rssMb: r.rssMb, sessions: r.sessions, devices: metrics.connected });
    } catch (e) {
      metrics.error('status-url', (e as Error).message);
    }
  };
  const sampler = opts.statusUrl ? setInterval(() => void sampleRss(), opts.sampleS * 1000) : undefined;
  // Ramp mode reads the server's records at each window instead, so each window gets its own.
  const ownSampler = own && opts.mode !== 'ramp' ? setInterval(() => void own.sample(), opts.sessionsSampleS * 1000) : undefined;

  let next = 0;
  const makeDevice = (i: number) => {
    const mac = deviceMac(opts.seed, i);
    ownDevices.add(mac);
    const d = new SimDevice(i, mac, deviceUuid(opts.seed, i), env, decodeEvery > 0 && i % decodeEvery === 0);
    devices.push(d);
    return d;
  };
  /** Starts devices up to index `upTo` (exclusive), paced by --ramp-per-s and --concurrency. */
  const launch = async (upTo: number, perS: number, halt: () => boolean) => {
    let inflight = 0;
    const freed: (() => void)[] = [];
    const begin = performance.now();
    const first = next;
    while (next < upTo && !halt() && !stopRequested()) {
      if (perS > 0) {
        const wait = begin + ((next - first) * 1000) / perS - performance.now();
        if (wait > 0) await pause(wait, hooks.signal);
        if (halt() || stopRequested()) break;
      }
      while (inflight >= opts.concurrency) await new Promise<void>((r) => freed.push(r));
      inflight++;
      void makeDevice(next++)
        .start()
        .catch((e: unknown) => metrics.error('internal', (e as Error).stack ?? String(e)))
        .finally(() => {
          inflight--;
          freed.shift()?.();
        });
    }
    while (inflight > 0) await new Promise<void>((r) => freed.push(r));
  };

  let idleMemory: IdleMemory | undefined;
  try {
    if (opts.statusUrl) await sampleRss();
    // Baseline: the pacer's frame count and the server's start gap before any of our turns.
    if (own) {
      await own.readStatus();
      await own.readSessions();
    }
    switch (opts.mode) {
      case 'idle': {
        // Memory per device is the RSS slope between half and all devices, each read once the
        // server has settled (the connection storm leaves garbage that a GC later returns).
        const baseline = opts.statusUrl ? await settled(opts.statusUrl, dispatcher, metrics) : undefined;
        const half = Math.floor(opts.devices / 2);
        let halfPoint: { devices: number; rssMb: number } | undefined;
        if (baseline && half >= 1 && opts.devices - half >= 1) {
          await launch(half, opts.rampPerS, () => false);
          await pause(SETTLE_MS, hooks.signal);
          const r = await settled(opts.statusUrl!, dispatcher, metrics);
          if (r) halfPoint = { devices: metrics.connected, rssMb: r.rssMb };
        }
        await launch(opts.devices, opts.rampPerS, () => false);
        tick(false);
        const hold = performance.now() + opts.durationS * 1000;
        let full: { rssMb: number } | undefined;
        if (opts.statusUrl) {
          await pause(SETTLE_MS, hooks.signal);
          full = await settled(opts.statusUrl, dispatcher, metrics);
        }
        if (baseline && full) idleMemory = { baselineMb: baseline.rssMb, half: halfPoint, full: { devices: metrics.connected, rssMb: full.rssMb } };
        await pause(hold - performance.now(), hooks.signal);
        break;
      }
      case 'talk':
      case 'soak': {
        const end = t0 + opts.durationS * 1000;
        const deadline = () => performance.now() >= end;
        await launch(opts.devices, opts.rampPerS, deadline);
        await pause(end - performance.now(), hooks.signal);
        break;
      }
      case 'ramp': {
        const judge = new RampJudge(metrics, { maxP99Ms: opts.maxP99Ms, maxUnderruns: opts.maxUnderruns });
        ramp = judge;
        const end = t0 + opts.durationS * 1000;
        let lastOwnRead = performance.now();
        let judging: Promise<void> = Promise.resolve();
        const evaluate = async () => {
          const tS = (performance.now() - t0) / 1000;
          const cpu = cpuNow;
          let srv: ServerWindow | null = null;
          if (own) {
            if (performance.now() - lastOwnRead >= opts.sessionsSampleS * 1000 - 250) {
              lastOwnRead = performance.now();
              // A slow read lands in the next window rather than hold this one up.
              await capped(own.sample(), 2000);
            }
            if (own.own.available) srv = own.own.window();
          }
          judge.evaluate(tS, cpu, srv);
        };
        const window = setInterval(() => (judging = judging.then(evaluate).catch((e: unknown) => metrics.error('internal', (e as Error).stack ?? String(e)))), opts.windowS * 1000);
        try {
          await launch(opts.devices, opts.rampPerS, () => judge.broken || performance.now() >= end);
          // All added and still healthy: keep judging at full size until the duration is up.
          while (!judge.broken && performance.now() < end && !stopRequested()) await pause(250, hooks.signal);
        } finally {
          clearInterval(window);
          await judging;
        }
        rampOutcome = judge.outcome(opts.devices);
        break;
      }
    }
  } finally {
    clearInterval(ticker);
    if (sampler) clearInterval(sampler);
    if (ownSampler) clearInterval(ownSampler);
    if (opts.statusUrl && !stopRequested()) await sampleRss();
    // The last turns, read while the sessions still exist (a closed session's records go with it).
    if (own && !stopRequested()) await capped(own.sample(), 5000);
    for (const d of devices) d.stop();
    sched.clear();
    loop.disable();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(cpu0);
    client.cpuPctMean = ((c.user + c.system) / 1000 / wall) * 100;
    client.loopDelayP99Ms = Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS);
    client.loopDelayMaxMs = Math.max(0, loop.max / 1e6 - LOOP_RESOLUTION_MS);
    client.wakeups = sched.wakeups;
    tick(true);
    await dispatcher.close().catch(() => {});
  }
  const connectFailures = [...metrics.errors].filter(([k]) => CONNECT_ERRORS.has(k)).reduce((a, [, n]) => a + n, 0);
  return buildReport({
    opts,
    startedAt,
    durationS: (performance.now() - t0) / 1000,
    metrics,
    client,
    speech,
    rss,
    idleMemory,
    ramp: rampOutcome,
    serverOwn: own ? serverOwnReport(own) : null,
    connectFailures,
  });
}

async function settled(url: string, dispatcher: Agent, metrics: Metrics): Promise<{ rssMb: number } | undefined> {
  try {
    return await settledRss(url, dispatcher);
  } catch (e) {
    metrics.error('status-url', (e as Error).message);
    return undefined;
  }
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (ms <= 0) return;
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    /* aborted: the caller checks the signal */
  }
}

/** Waits for `p` at most `ms` (it carries on in the background). */
async function capped(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
