/**
 * Runs a fleet: builds the devices, launches them at the requested rate and concurrency, drives
 * the chosen mode (talk, idle, ramp, soak), samples the simulator's own CPU and the server's RSS,
 * and returns the report. The CLI (`cli.ts`) is a thin wrapper; tests call `runFleet` directly
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
    const line = progressLine({ elapsedS: (now - t0) / 1000, mode: opts.mode, requested: opts.devices, metrics, cpuPct: cpuNow, ramp });
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

  let next = 0;
  const makeDevice = (i: number) => {
    const d = new SimDevice(i, deviceMac(opts.seed, i), deviceUuid(opts.seed, i), env, decodeEvery > 0 && i % decodeEvery === 0);
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
        const window = setInterval(() => judge.evaluate((performance.now() - t0) / 1000, cpuNow), opts.windowS * 1000);
        try {
          await launch(opts.devices, opts.rampPerS, () => judge.broken || performance.now() >= end);
          // All added and still healthy: keep judging at full size until the duration is up.
          while (!judge.broken && performance.now() < end && !stopRequested()) await pause(250, hooks.signal);
        } finally {
          clearInterval(window);
        }
        rampOutcome = judge.outcome(opts.devices);
        break;
      }
    }
  } finally {
    clearInterval(ticker);
    if (sampler) clearInterval(sampler);
    if (opts.statusUrl && !stopRequested()) await sampleRss();
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

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
