/**
 * Fleet-wide counters and histograms. Devices record into one `Metrics` as things happen (one
 * thread, so plain increments); everything is cumulative, and the ramp mode gets per-window
 * figures by differencing snapshots (`Histogram.since`). Nothing here allocates per frame.
 */
import { Histogram } from './histogram.js';
import type { PlaybackTurn } from './playback.js';
import type { TurnResult } from './turn.js';
import type { Problem, ViolationKind } from './checks.js';

export interface ViolationExample {
  kind: ViolationKind;
  device: string;
  detail: string;
}

const MAX_EXAMPLES = 25;

export class Metrics {
  // devices
  started = 0;
  otaOk = 0;
  connected = 0;
  connectedPeak = 0;
  helloOk = 0;
  mcpInitialized = 0;
  mcpListed = 0;
  mcpCalls = 0;
  mcpIgnored = 0;
  closedByServer = 0;
  readonly errors = new Map<string, number>();
  /** First message seen for each error kind, so a report says what went wrong, not just how often. */
  readonly errorDetails = new Map<string, string>();
  readonly closeCodes = new Map<number, number>();
  /** Binary framing version of each device that completed the hello. */
  readonly framings = new Map<number, number>();
  // turns
  turnsStarted = 0;
  answered = 0;
  /** Replies the server started without a user turn (greetings, pushes). */
  unsolicited = 0;
  noReply = 0;
  stalled = 0;
  earlyStops = 0;
  overflowFrames = 0;
  underruns = 0;
  underrunMs = 0;
  turnsWithUnderrun = 0;
  // audio
  downFrames = 0;
  downBytes = 0;
  decoded = 0;
  upFrames = 0;
  upBytes = 0;
  // protocol
  violations = 0;
  readonly byKind = new Map<ViolationKind, number>();
  readonly examples: ViolationExample[] = [];
  readonly unknownTypes = new Map<string, number>();

  readonly h = {
    otaMs: new Histogram(),
    connectMs: new Histogram(),
    helloMs: new Histogram(),
    eosToStt: new Histogram(),
    eosToTtsStart: new Histogram(),
    eosToFirstAudio: new Histogram(),
    ttsStartToFirstAudio: new Histogram(),
    ttsStopAfterPlayout: new Histogram(),
    ttsStopEarlyBy: new Histogram(),
    interArrival: new Histogram(),
    jitter: new Histogram(),
    minHeadroom: new Histogram(),
    replyMs: new Histogram(),
    sendLateness: new Histogram(),
  };

  error(kind: string, detail?: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
    if (detail !== undefined && !this.errorDetails.has(kind)) this.errorDetails.set(kind, detail.slice(0, 300));
  }

  violation(device: string, p: Problem): void {
    this.violations++;
    this.byKind.set(p.kind, (this.byKind.get(p.kind) ?? 0) + 1);
    if (this.examples.length < MAX_EXAMPLES) this.examples.push({ kind: p.kind, device, detail: p.detail });
  }

  unknownType(type: string): void {
    const k = type.slice(0, 40);
    this.unknownTypes.set(k, (this.unknownTypes.get(k) ?? 0) + 1);
  }

  connectedDelta(d: number): void {
    this.connected += d;
    if (this.connected > this.connectedPeak) this.connectedPeak = this.connected;
  }

  closed(code: number): void {
    this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
  }

  uplink(bytes: number, latenessMs: number): void {
    this.upFrames++;
    this.upBytes += bytes;
    this.h.sendLateness.record(latenessMs);
  }

  downlink(bytes: number, gapMs: number): void {
    this.downFrames++;
    this.downBytes += bytes;
    if (gapMs === gapMs) this.h.interArrival.record(gapMs); // NaN for a turn's first frame
  }

  turn(r: TurnResult, p: Readonly<PlaybackTurn>): void {
    if (r.outcome === 'answered') this.answered++;
    else if (r.outcome === 'unsolicited') this.unsolicited++;
    else if (r.outcome === 'no-reply') this.noReply++;
    else this.stalled++;
    rec(this.h.eosToStt, r.eosToStt);
    rec(this.h.eosToTtsStart, r.eosToTtsStart);
    rec(this.h.eosToFirstAudio, r.eosToFirstAudio);
    rec(this.h.ttsStartToFirstAudio, r.ttsStartToFirstAudio);
    rec(this.h.jitter, r.jitterMs);
    rec(this.h.replyMs, r.replyMs);
    if (r.ttsStopAfterPlayout === r.ttsStopAfterPlayout) {
      if (r.ttsStopAfterPlayout < 0) {
        this.earlyStops++;
        this.h.ttsStopEarlyBy.record(-r.ttsStopAfterPlayout);
      } else this.h.ttsStopAfterPlayout.record(r.ttsStopAfterPlayout);
    }
    this.overflowFrames += p.overflows;
    this.underruns += p.underruns;
    this.underrunMs += p.underrunMs;
    if (p.underruns > 0) this.turnsWithUnderrun++;
    if (Number.isFinite(p.minHeadroomMs)) this.h.minHeadroom.record(p.minHeadroomMs);
  }
}

function rec(h: Histogram, v: number): void {
  if (v === v) h.record(v);
}
