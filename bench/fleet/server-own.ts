/**
 * The server's own view of latency, when the server is ours: issue #8 measures server-added
 * latency from the end-of-speech decision, which only the server knows exactly (the device-side
 * figures include the end-silence window and the network). Two documents are sampled:
 *
 * - `GET /status/sessions`: per session `lastTurns`, the last 5 finished turns, each
 *   `{turn, speechEndAt, asrFinalMs?, ttsStartMs?, firstFrameMs?, interrupted, …}` with every
 *   `*Ms` counted from `speechEndAt` (the decision). A turn appears once it has ended (tts stop
 *   or interruption), so a record is final when first seen; records are deduplicated by
 *   (session id, turn). Only sessions of this fleet's devices (by Device-Id) are counted, so a
 *   second simulator or a real device on the same server does not leak in.
 * - `GET /status`: `pacer {framesSent, latenessP99, latenessMax, latenessWindowMs, streams,
 *   backpressured}` (lateness over every frame of the server's current window, about a minute;
 *   servers before `latenessWindowMs` kept a ring of their last 2,048 frames) and `event_loop_ms {current,
 *   last_window}` (main-thread delay; `current` runs since the server's last rotation, every
 *   minute or so).
 *
 * Decision → first frame is reported net of the configured start gap (`audio.start_gap_ms`, the
 * silence the server deliberately leaves before a reply): what remains is the server's own delay.
 * A peer server without these routes or fields gets "not available", never an error.
 *
 * `ServerOwn` is pure bookkeeping (fed parsed documents; tests use canned ones); `ServerOwnSampler`
 * does the HTTP reads, never two of a kind at once, and counts failures instead of throwing.
 */
import { request, type Dispatcher } from 'undici';
import { Histogram, roundSummary } from './histogram.js';

/** Older builds of our server kept the lateness of their last 2,048 frames instead of a window. */
export const PACER_RING = 2048;
/** Our server's default `audio.start_gap_ms` (config/schema.ts). */
export const DEFAULT_START_GAP_MS = 40;

/** What the server said about a window of the run (ramp mode), or the figures at the knee. */
export interface ServerWindow {
  /** Turn records that arrived in this window. */
  records: number;
  ttsStartP99Ms: number | null;
  /** Decision → first frame minus the start gap, p99. */
  firstFrameP99Ms: number | null;
  /** Highest pacer lateness p99 among the /status reads of this window. */
  sendLateP99Ms: number | null;
  /** Highest main event-loop delay p99 among the /status reads of this window. */
  loopP99Ms: number | null;
}

interface LoopSample {
  p99: number;
  max: number;
  windowMs: number;
  /** The window began before the run's first read: it includes time before the run. */
  predatesRun: boolean;
}

type Doc = Record<string, unknown>;
const isObj = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const r2 = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? Math.round(v * 100) / 100 : null);
const median = (xs: number[]) => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};
const maxOf = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);

export class ServerOwn {
  readonly h = { ttsStart: new Histogram(), firstFrameNet: new Histogram(), firstFrame: new Histogram(), asrFinal: new Histogram() };
  /** Distinct turn records collected. */
  records = 0;
  interrupted = 0;
  /** Records whose first frame came sooner than the start gap: --start-gap-ms is likely wrong. */
  belowGap = 0;
  /** Sum of asrFinalMs and of ttsStartMs over records having both (the ASR share of tts start). */
  #asrSum = 0;
  #ttsWithAsrSum = 0;
  /** session id → turns seen; session id → the server's count of replies begun. */
  readonly #seen = new Map<string, Set<number>>();
  readonly #begun = new Map<string, number>();
  /** session id → whether its last read showed a reply in progress (not yet recorded). */
  readonly #speaking = new Map<string, boolean>();
  readonly #foreign = new Set<string>();
  /** Whether each document had what we need: null until read once. */
  sessionsAvailable: boolean | null = null;
  pacerAvailable: boolean | null = null;
  loopAvailable: boolean | null = null;
  /** The server's start gap if its /status exposes one. */
  statusStartGapMs: number | undefined;

  // pacer
  #pacerBase: number | undefined;
  #pacerPrev: number | undefined;
  #pacerLast: Doc | undefined;
  readonly pacerP99: number[] = [];
  readonly pacerMax: number[] = [];
  pacerStale = 0;
  streamsPeak = 0;
  #backpressuredBase: number | undefined;
  // event loop
  #runStartMs: number | undefined;
  readonly loop: LoopSample[] = [];
  /** When the completed windows already taken ended (run ms), to take each once. */
  readonly #lastWindowsTaken: number[] = [];
  // ramp windows
  readonly #win = { ttsStart: new Histogram(), firstFrameNet: new Histogram(), records: 0 };
  #winLate: number[] = [];
  #winLoop: number[] = [];

  constructor(
    /** --start-gap-ms; undefined: the server's /status figure if it has one, else our default. */
    readonly gapOption: number | undefined,
    /** Counts a session only if its deviceId is one of ours (undefined: every session). */
    private readonly isOwnDevice?: (deviceId: string) => boolean,
  ) {}

  get startGapMs(): number {
    return this.gapOption ?? this.statusStartGapMs ?? DEFAULT_START_GAP_MS;
  }

  get startGapSource(): 'option' | 'status' | 'default' {
    return this.gapOption !== undefined ? 'option' : this.statusStartGapMs !== undefined ? 'status' : 'default';
  }

  /** Feeds a `/status/sessions` document; returns how many new turn records it held. */
  ingestSessions(doc: unknown): number {
    const list = isObj(doc) ? doc['sessions'] : undefined;
    if (!Array.isArray(list)) {
      if (this.sessionsAvailable === null) this.sessionsAvailable = false;
      return 0;
    }
    let fresh = 0;
    let own = 0;
    let sawTurnRecords = false;
    let unresponsive = false;
    for (const s of list) {
      if (!isObj(s) || typeof s['sessionId'] !== 'string') continue;
      const sid = s['sessionId'];
      const dev = s['deviceId'];
      if (this.isOwnDevice && !(typeof dev === 'string' && this.isOwnDevice(dev))) {
        this.#foreign.add(sid);
        continue;
      }
      own++;
      // Ours lists a session too busy to answer as {sessionId, deviceId, state: 'unresponsive'}.
      if (s['state'] === 'unresponsive') unresponsive = true;
      const begun = num(s['turns']);
      if (begun !== undefined) this.#begun.set(sid, Math.max(begun, this.#begun.get(sid) ?? 0));
      this.#speaking.set(sid, s['state'] === 'speaking');
      const turns = s['lastTurns'];
      if (!Array.isArray(turns)) continue;
      sawTurnRecords = true;
      let seen = this.#seen.get(sid);
      for (const t of turns) {
        const turn = isObj(t) ? num(t['turn']) : undefined;
        if (turn === undefined) continue;
        if (!seen) this.#seen.set(sid, (seen = new Set()));
        if (seen.has(turn)) continue;
        seen.add(turn);
        fresh++;
        this.#record(t as Doc);
      }
    }
    // No session of ours yet says nothing; sessions of ours without lastTurns are a peer's.
    if (sawTurnRecords) this.sessionsAvailable = true;
    else if (own > 0 && !unresponsive && this.sessionsAvailable === null) this.sessionsAvailable = false;
    return fresh;
  }

  #record(t: Doc): void {
    this.records++;
    this.#win.records++;
    if (t['interrupted'] === true) this.interrupted++;
    const tts = num(t['ttsStartMs']);
    const ff = num(t['firstFrameMs']);
    const asr = num(t['asrFinalMs']);
    if (tts !== undefined) {
      this.h.ttsStart.record(tts);
      this.#win.ttsStart.record(tts);
    }
    if (ff !== undefined) {
      this.h.firstFrame.record(ff);
      const net = ff - this.startGapMs;
      if (net < 0) this.belowGap++;
      this.h.firstFrameNet.record(Math.max(0, net));
      this.#win.firstFrameNet.record(Math.max(0, net));
    }
    if (asr !== undefined) {
      this.h.asrFinal.record(asr);
      if (tts !== undefined) {
        this.#asrSum += asr;
        this.#ttsWithAsrSum += tts;
      }
    }
  }

  /**
   * Feeds a `/status` document read `atMs` after the run began (the first read is the baseline).
   * A pacer figure counts only once it covers nothing from before the run: the server had sent no
   * frame before, or its lateness window began after the run did (or, for a server that keeps a
   * ring, it has sent a ring's worth since); an event-loop window that
   * began before the run is kept but marked, and used only when no clean window exists.
   */
  ingestStatus(doc: unknown, atMs: number): void {
    if (!isObj(doc)) return;
    const gap = num(isObj(doc['audio']) ? (doc['audio'] as Doc)['start_gap_ms'] : undefined) ?? num(doc['start_gap_ms']);
    if (gap !== undefined) this.statusStartGapMs = gap;
    const p = doc['pacer'];
    const sent = isObj(p) ? num(p['framesSent']) : undefined;
    const p99 = isObj(p) ? num(p['latenessP99']) : undefined;
    if (isObj(p) && sent !== undefined && p99 !== undefined) {
      this.pacerAvailable = true;
      this.#pacerLast = p;
      this.streamsPeak = Math.max(this.streamsPeak, num(p['streams']) ?? 0);
      if (this.#pacerBase === undefined || sent < (this.#pacerPrev ?? 0)) {
        // First read, or the server restarted: a new baseline.
        this.#pacerBase = sent;
        this.#backpressuredBase = num(p['backpressured']);
      } else if (sent > this.#pacerPrev!) {
        const windowMs = num(p['latenessWindowMs']);
        const clean = windowMs !== undefined ? atMs - windowMs >= 0 : sent - this.#pacerBase >= PACER_RING;
        if (this.#pacerBase === 0 || clean) {
          this.pacerP99.push(p99);
          this.pacerMax.push(num(p['latenessMax']) ?? p99);
          this.#winLate.push(p99);
        } else this.pacerStale++;
      }
      this.#pacerPrev = sent;
    } else if (this.pacerAvailable === null) this.pacerAvailable = false;

    const el = doc['event_loop_ms'];
    const cur = isObj(el) && isObj(el['current']) ? (el['current'] as Doc) : undefined;
    const cp99 = cur ? num(cur['p99']) : undefined;
    if (cur && cp99 !== undefined) {
      this.loopAvailable = true;
      this.#runStartMs ??= atMs;
      const windowMs = num(cur['windowMs']) ?? Infinity;
      this.loop.push({ p99: cp99, max: num(cur['max']) ?? cp99, windowMs, predatesRun: atMs - windowMs < this.#runStartMs });
      this.#winLoop.push(cp99);
      // A completed window that lay wholly inside the run is a clean sample too (once).
      const last = isObj(el) && isObj(el['last_window']) ? (el['last_window'] as Doc) : undefined;
      const lw = last ? num(last['windowMs']) : undefined;
      const lp99 = last ? num(last['p99']) : undefined;
      if (last && lw !== undefined && lw > 0 && lp99 !== undefined && Number.isFinite(windowMs)) {
        const endedAt = atMs - windowMs;
        // Reads of one window differ in when it ended by the request latency only.
        if (endedAt - lw >= this.#runStartMs && !this.#lastWindowsTaken.some((e) => Math.abs(e - endedAt) < 2000)) {
          this.#lastWindowsTaken.push(endedAt);
          this.loop.push({ p99: lp99, max: num(last['max']) ?? lp99, windowMs: lw, predatesRun: false });
        }
      }
    } else if (this.loopAvailable === null) this.loopAvailable = false;
  }

  get available(): boolean {
    return this.sessionsAvailable === true || this.pacerAvailable === true || this.loopAvailable === true;
  }

  /** Figures since the previous call (ramp windows). */
  window(): ServerWindow {
    const { ttsStart: tts, firstFrameNet: ff } = this.#win;
    const w: ServerWindow = {
      records: this.#win.records,
      ttsStartP99Ms: tts.count ? r2(tts.quantile(0.99)) : null,
      firstFrameP99Ms: ff.count ? r2(ff.quantile(0.99)) : null,
      sendLateP99Ms: r2(maxOf(this.#winLate)),
      loopP99Ms: r2(maxOf(this.#winLoop)),
    };
    tts.reset();
    ff.reset();
    this.#win.records = 0;
    this.#winLate = [];
    this.#winLoop = [];
    return w;
  }

  /** The JSON report's `server_own.turns`, `latency_ms`, `pacer` and `event_loop_ms`. */
  summary(): { turns: Doc | null; latency_ms: Doc | null; pacer: Doc | null; event_loop_ms: Doc | null } {
    let begun = 0;
    let missed = 0;
    for (const [sid, n] of this.#begun) {
      begun += n;
      missed += Math.max(0, n - (this.#seen.get(sid)?.size ?? 0) - (this.#speaking.get(sid) ? 1 : 0));
    }
    const turns =
      this.sessionsAvailable === true
        ? {
            records: this.records,
            interrupted: this.interrupted,
            replies_begun: begun,
            missed,
            sessions: this.#seen.size,
            foreign_sessions_ignored: this.#foreign.size,
            first_frame_before_gap: this.belowGap,
            asr_share_of_tts_start_pct: this.#ttsWithAsrSum > 0 ? Math.round((this.#asrSum / this.#ttsWithAsrSum) * 1000) / 10 : null,
          }
        : null;
    const lat = (h: Histogram) => roundSummary(h.summary());
    const latency =
      this.sessionsAvailable === true
        ? {
            decision_to_tts_start: lat(this.h.ttsStart),
            decision_to_first_frame_net: lat(this.h.firstFrameNet),
            decision_to_first_frame: lat(this.h.firstFrame),
            decision_to_asr_final: lat(this.h.asrFinal),
          }
        : null;
    const last = this.#pacerLast;
    const pacer =
      this.pacerAvailable === true && last
        ? {
            samples: this.pacerP99.length,
            stale_samples: this.pacerStale,
            lateness_p99_ms_max: r2(maxOf(this.pacerP99)),
            lateness_p99_ms_median: r2(median(this.pacerP99)),
            lateness_max_ms: r2(maxOf(this.pacerMax)),
            frames_sent: (num(last['framesSent']) ?? 0) - (this.#pacerBase ?? 0),
            backpressured: (num(last['backpressured']) ?? 0) - (this.#backpressuredBase ?? 0),
            streams_peak: this.streamsPeak,
          }
        : null;
    const clean = this.loop.filter((s) => !s.predatesRun);
    const used = clean.length ? clean : this.loop;
    const loop =
      this.loopAvailable === true
        ? {
            samples: used.length,
            windows_predate_run: used.length > 0 && clean.length === 0,
            p99_max: r2(maxOf(used.map((s) => s.p99))),
            p99_median: r2(median(used.map((s) => s.p99))),
            max: r2(maxOf(used.map((s) => s.max))),
          }
        : null;
    return { turns, latency_ms: latency, pacer, event_loop_ms: loop };
  }
}

/** `/status/sessions` next to a `/status` URL (query kept). */
export function sessionsUrlFor(statusUrl: string): string {
  const u = new URL(statusUrl);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/sessions`;
  return u.toString();
}

export interface ReadCounts {
  ok: number;
  failed: number;
  /** Ticks skipped because the previous read was still in flight. */
  skipped: number;
  /** The route answered 404 (or not our document): no more reads. */
  notAvailable: boolean;
  lastError: string | undefined;
  /** Largest document, KiB, and slowest read, ms. */
  maxKb: number;
  maxMs: number;
}

const counts = (): ReadCounts => ({ ok: 0, failed: 0, skipped: 0, notAvailable: false, lastError: undefined, maxKb: 0, maxMs: 0 });

/**
 * Reads `/status` (when given) and `/status/sessions` into a `ServerOwn`. A read of a kind never
 * overlaps the previous one (the tick is counted as skipped), a failure is counted, never thrown,
 * and a 404 or a document that is not ours stops that kind of read for the rest of the run.
 */
export class ServerOwnSampler {
  readonly sessions = counts();
  readonly status = counts();
  #busy: { sessions?: Promise<void>; status?: Promise<void> } = {};
  /** performance.now() of the run's start: /status reads are timed from it. */
  readonly #t0: number;

  constructor(
    readonly own: ServerOwn,
    readonly sessionsUrl: string,
    readonly statusUrl: string | undefined,
    private readonly dispatcher: Dispatcher,
    t0 = performance.now(),
    private readonly timeoutMs = 10_000,
  ) {
    this.#t0 = t0;
  }

  /** Both reads at once; resolves when both are done. */
  sample(): Promise<void> {
    return Promise.all([this.readStatus(), this.readSessions()]).then(() => undefined);
  }

  readStatus(): Promise<void> {
    if (!this.statusUrl) return Promise.resolve();
    return this.#read('status', this.statusUrl, (doc) => {
      this.own.ingestStatus(doc, performance.now() - this.#t0);
      return this.own.pacerAvailable === true || this.own.loopAvailable === true;
    });
  }

  readSessions(): Promise<void> {
    return this.#read('sessions', this.sessionsUrl, (doc) => {
      this.own.ingestSessions(doc);
      return this.own.sessionsAvailable !== false;
    });
  }

  #unavailable(kind: 'sessions' | 'status'): void {
    this[kind].notAvailable = true;
    const o = this.own;
    if (kind === 'sessions') o.sessionsAvailable ??= false;
    else {
      o.pacerAvailable ??= false;
      o.loopAvailable ??= false;
    }
  }

  /** `ingest` says whether the document is one we can use. */
  #read(kind: 'sessions' | 'status', url: string, ingest: (doc: unknown) => boolean): Promise<void> {
    const c = this[kind];
    if (c.notAvailable) return Promise.resolve();
    const busy = this.#busy[kind];
    if (busy) {
      c.skipped++;
      return busy;
    }
    const t0 = performance.now();
    const run = (async () => {
      try {
        const res = await request(url, { dispatcher: this.dispatcher, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
        if (res.statusCode === 404) {
          await res.body.dump();
          this.#unavailable(kind);
          return;
        }
        if (res.statusCode !== 200) {
          await res.body.dump();
          throw new Error(`${url} answered ${res.statusCode}`);
        }
        const text = await res.body.text();
        c.maxKb = Math.max(c.maxKb, Math.round(Buffer.byteLength(text) / 102.4) / 10);
        c.maxMs = Math.max(c.maxMs, Math.round(performance.now() - t0));
        let doc: unknown;
        try {
          doc = JSON.parse(text);
        } catch {
          this.#unavailable(kind);
          return;
        }
        c.ok++;
        if (!ingest(doc)) this.#unavailable(kind);
      } catch (e) {
        c.failed++;
        c.lastError = (e as Error).message;
      } finally {
        this.#busy[kind] = undefined;
      }
    })();
    this.#busy[kind] = run;
    return run;
  }
}

/**
 * The JSON report's `server_own` block (null without --status-url / --sessions-url, or in idle
 * mode). `available` is false when the server exposes none of it (a peer server).
 */
export function serverOwnReport(x: ServerOwnSampler): Record<string, unknown> {
  const o = x.own;
  const reads = (c: ReadCounts) => ({ ok: c.ok, failed: c.failed, skipped: c.skipped, not_available: c.notAvailable, last_error: c.lastError ?? null, max_kb: c.maxKb, max_ms: c.maxMs });
  return {
    available: o.available,
    sessions_url: x.sessionsUrl,
    status_url: x.statusUrl ?? null,
    start_gap_ms: o.startGapMs,
    start_gap_source: o.startGapSource,
    reads: { sessions: reads(x.sessions), status: x.statusUrl ? reads(x.status) : null },
    ...o.summary(),
  };
}
