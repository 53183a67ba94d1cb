/**
 * The ramp mode's judge: every window it differences the cumulative metrics against the previous
 * window and decides whether the server still kept up at the current device count. A window
 * fails when turns went unanswered or stalled, playback underran more than allowed, the end of
 * speech → first audio p99 exceeded the threshold, or devices failed to connect. Two failing
 * windows in a row end the ramp (one timer stall on a busy VM should not); the knee is the device
 * count of the last passing window before them. When the simulator itself was saturated in a
 * failing window (CPU near a full core, or its own sends running late), the outcome says so: the
 * knee may then be the client's, not the server's.
 *
 * With our server's own records sampled (--status-url), each window also carries what the server
 * said about it (decision → tts start / first frame p99, pacer send lateness, event-loop delay);
 * they are reported, at the knee too, but do not judge the window.
 */
import type { Histogram } from './histogram.js';
import type { Metrics } from './metrics.js';
import type { ServerWindow } from './server-own.js';

export interface RampWindow {
  t: number;
  devices: number;
  turns: number;
  failedTurns: number;
  underruns: number;
  connectFailures: number;
  p99Ms: number | null;
  clientCpuPct: number;
  clientSendLateP99Ms: number | null;
  /** null: nothing finished in this window, so nothing to judge. */
  ok: boolean | null;
  why: string[];
  /** The server's own figures for this window (null when not sampled). */
  server: ServerWindow | null;
}

export interface RampOutcome {
  kneeDevices: number | null;
  brokeAtDevices: number | null;
  reason: string;
  clientLimited: boolean;
  /**
   * The server's own figures in the knee window (without a knee: the last passing one) and in the
   * first failing one.
   */
  serverAtKnee: ServerWindow | null;
  serverAtBreak: ServerWindow | null;
  windows: RampWindow[];
}

interface Snap {
  answered: number;
  failed: number;
  underruns: number;
  connectFailures: number;
  eos: Histogram;
  late: Histogram;
}

const CONFIRM = 2;
const CLIENT_CPU_LIMIT = 90;
const CLIENT_LATE_LIMIT_MS = 20;

export class RampJudge {
  readonly windows: RampWindow[] = [];
  broken = false;
  #prev: Snap;
  #streak = 0;

  constructor(
    private readonly m: Metrics,
    private readonly th: { maxP99Ms: number; maxUnderruns: number },
  ) {
    this.#prev = this.#snap();
  }

  #snap(): Snap {
    const m = this.m;
    let connectFailures = 0;
    for (const k of ['ota', 'connect', 'upgrade-refused']) connectFailures += m.errors.get(k) ?? 0;
    return {
      answered: m.answered,
      failed: m.noReply + m.stalled,
      underruns: m.underruns,
      connectFailures,
      eos: m.h.eosToFirstAudio.clone(),
      late: m.h.sendLateness.clone(),
    };
  }

  evaluate(tS: number, clientCpuPct: number, server: ServerWindow | null = null): RampWindow {
    const now = this.#snap();
    const prev = this.#prev;
    this.#prev = now;
    const eos = now.eos.since(prev.eos);
    const late = now.late.since(prev.late);
    const w: RampWindow = {
      t: Math.round(tS * 10) / 10,
      devices: this.m.connected,
      turns: now.answered - prev.answered,
      failedTurns: now.failed - prev.failed,
      underruns: now.underruns - prev.underruns,
      connectFailures: now.connectFailures - prev.connectFailures,
      p99Ms: eos.count > 0 ? Math.round(eos.quantile(0.99) * 10) / 10 : null,
      clientCpuPct: Math.round(clientCpuPct),
      clientSendLateP99Ms: late.count > 0 ? Math.round(late.quantile(0.99) * 10) / 10 : null,
      ok: null,
      why: [],
      server,
    };
    if (w.failedTurns > 0) w.why.push(`${w.failedTurns} turns without a complete reply`);
    if (w.underruns > this.th.maxUnderruns) w.why.push(`${w.underruns} underruns`);
    if (w.p99Ms !== null && w.p99Ms > this.th.maxP99Ms) w.why.push(`p99 ${w.p99Ms} ms > ${this.th.maxP99Ms} ms`);
    if (w.connectFailures > 0) w.why.push(`${w.connectFailures} devices failed to connect`);
    if (w.why.length > 0) w.ok = false;
    else if (w.turns > 0) w.ok = true;
    this.windows.push(w);
    if (w.ok === false) {
      if (++this.#streak >= CONFIRM) this.broken = true;
    } else if (w.ok === true) this.#streak = 0;
    return w;
  }

  get last(): RampWindow | undefined {
    return this.windows.at(-1);
  }

  outcome(maxDevices: number): RampOutcome {
    const windows = this.windows;
    if (!this.broken) {
      const lastOk = windows.findLast((w) => w.ok === true);
      return {
        kneeDevices: null,
        brokeAtDevices: null,
        reason: lastOk ? `no knee: still within thresholds at ${lastOk.devices} devices (cap ${maxDevices} or duration reached)` : 'no window had finished turns to judge',
        clientLimited: false,
        serverAtKnee: lastOk?.server ?? null,
        serverAtBreak: null,
        windows,
      };
    }
    // The failing streak is the last CONFIRM judged windows.
    const judged = windows.filter((w) => w.ok !== null);
    const streak = judged.slice(-CONFIRM);
    const firstBad = streak[0]!;
    const lastOk = windows.slice(0, windows.indexOf(firstBad)).findLast((w) => w.ok === true);
    const clientLimited = streak.some((w) => w.clientCpuPct >= CLIENT_CPU_LIMIT || (w.clientSendLateP99Ms ?? 0) > CLIENT_LATE_LIMIT_MS);
    return {
      kneeDevices: lastOk?.devices ?? null,
      brokeAtDevices: firstBad.devices,
      reason: firstBad.why.join('; '),
      clientLimited,
      serverAtKnee: lastOk?.server ?? null,
      serverAtBreak: firstBad.server,
      windows,
    };
  }
}
