/**
 * Echo rejection for devices without acoustic echo cancellation: is the speech the VAD just
 * found the user, or the device's own loudspeaker coming back through its microphone?
 *
 *   reference (what the server plays) ──▶ log-energy envelope, 10 ms frames ─┐
 *                                                                            ├─▶ normalised cross-
 *   uplink (what the microphone hears) ──▶ log-energy envelope, 10 ms frames ─┘   correlation at
 *                                                                               lags 0…maxLag
 *
 * Both envelopes live on one timeline: the uplink's audio clock (samples received). A reference
 * chunk is placed right after the previous one while playback runs without a gap (a paced
 * downlink is contiguous on the device too), or at the uplink's current position after a gap.
 * The echo then shows up in the uplink some fixed delay later (downlink lead, device buffering,
 * uplink latency), attenuated and noisy but with the same syllable rhythm; a high correlation at
 * some lag therefore means echo. The user talking over playback has a rhythm of their own and
 * dominates the uplink envelope wherever they are louder than the echo, so the correlation drops.
 *
 * Log energies make the measure indifferent to the echo path's gain; the correlation is taken
 * over the segment the VAD called speech (plus a little lead-in), not the whole history, so
 * earlier echo cannot vouch for later speech.
 */

export const ECHO_FRAME_MS = 10;
/** dBFS given to silence and to frames without reference audio. */
const FLOOR_DB = -70;
/** How far the reference may fall behind the uplink clock mid-playback before it counts as a gap. */
const JITTER_FRAMES = 10;

/** Log energy (dBFS, floored) of `pcm[from, to)`. */
export function logEnergy(pcm: Int16Array, from = 0, to = pcm.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += pcm[i]! * pcm[i]!;
  return toDb(sum, to - from);
}

function toDb(sumSquares: number, n: number): number {
  if (n <= 0) return FLOOR_DB;
  const ms = sumSquares / n / (32768 * 32768);
  return ms > 0 ? Math.max(FLOOR_DB, 10 * Math.log10(ms)) : FLOOR_DB;
}

/**
 * The compact reference a speaker can send instead of PCM: one log energy per 10 ms of `pcm` at
 * any sample rate (a trailing partial frame is dropped).
 */
export function energyEnvelope(pcm: Int16Array, sampleRate: number): Float32Array {
  const frame = Math.round((sampleRate * ECHO_FRAME_MS) / 1000);
  const out = new Float32Array(Math.floor(pcm.length / frame));
  for (let f = 0; f < out.length; f++) out[f] = logEnergy(pcm, f * frame, (f + 1) * frame);
  return out;
}

/** Defaults of the detector and of the window listen judges with (config.yaml's vad.echo). */
export const ECHO_DEFAULTS = { threshold: 0.7, maxLagMs: 600, windowMs: 750 } as const;

export interface EchoOptions {
  sampleRate?: number;
  /** Longest echo delay searched, ms (downlink lead + device buffer + uplink latency). */
  maxLagMs?: number;
  /** Correlation at or above which speech counts as echo. */
  threshold?: number;
  /** Envelope history kept, ms; bounds the longest segment judged. */
  historyMs?: number;
}

export interface EchoVerdict {
  echo: boolean;
  /** Best normalised correlation found (−1…1; 0 when there was nothing to compare). */
  corr: number;
  /** Lag of the best correlation, ms. */
  lagMs: number;
  /** Frames compared. */
  frames: number;
}

/** An energy envelope on an absolute frame timeline, keeping the last `size` frames. */
class EnvelopeRing {
  readonly #db: Float32Array;
  readonly #at: Float64Array;
  constructor(readonly size: number) {
    this.#db = new Float32Array(size);
    this.#at = new Float64Array(size).fill(-1);
  }
  set(frame: number, db: number): void {
    const i = frame % this.size;
    this.#db[i] = db;
    this.#at[i] = frame;
  }
  /** The frame's energy, or undefined when it was never written or has been overwritten. */
  get(frame: number): number | undefined {
    if (frame < 0) return undefined;
    const i = frame % this.size;
    return this.#at[i] === frame ? this.#db[i] : undefined;
  }
  clear(): void {
    this.#at.fill(-1);
  }
}

export class EchoDetector {
  readonly frameSamples: number;
  readonly maxLagFrames: number;
  readonly threshold: number;
  readonly #up: EnvelopeRing;
  readonly #ref: EnvelopeRing;
  /** Uplink: frames completed, and the partial frame being summed. */
  #upFrames = 0;
  #upSum = 0;
  #upN = 0;
  /** Reference: next frame to write, partial frame, and whether playback is running. */
  #refNext = 0;
  #refSum = 0;
  #refN = 0;
  #refFrames = 0;
  #playing = false;
  #noiseAt = -1;
  #noiseDb = FLOOR_DB;

  constructor(opts: EchoOptions = {}) {
    const rate = opts.sampleRate ?? 16_000;
    this.frameSamples = Math.round((rate * ECHO_FRAME_MS) / 1000);
    this.maxLagFrames = Math.round((opts.maxLagMs ?? ECHO_DEFAULTS.maxLagMs) / ECHO_FRAME_MS);
    this.threshold = opts.threshold ?? ECHO_DEFAULTS.threshold;
    const history = Math.round((opts.historyMs ?? 4000) / ECHO_FRAME_MS);
    this.#up = new EnvelopeRing(history);
    // The reference must reach back a segment plus the longest lag.
    this.#ref = new EnvelopeRing(history + this.maxLagFrames);
  }

  /** Uplink samples received so far (the shared timeline), in whole frames. */
  get uplinkFrames(): number {
    return this.#upFrames;
  }

  get playing(): boolean {
    return this.#playing;
  }

  /**
   * The device may be playing or echoing now: the reference reaches up to within maxLag of the
   * uplink's position. (A playback that was announced but never given reference audio counts as
   * long as it is announced, so speech over it is still flagged, just never judged echo.)
   */
  get active(): boolean {
    if (this.#refFrames === 0) return this.#playing;
    return this.#upFrames < this.#refNext + this.maxLagFrames;
  }

  /** Appends uplink audio (consecutive with what came before). */
  pushUplink(pcm: Int16Array): void {
    const F = this.frameSamples;
    let sum = this.#upSum;
    let n = this.#upN;
    for (let i = 0; i < pcm.length; i++) {
      sum += pcm[i]! * pcm[i]!;
      if (++n === F) {
        this.#up.set(this.#upFrames++, toDb(sum, n));
        sum = 0;
        n = 0;
      }
    }
    this.#upSum = sum;
    this.#upN = n;
  }

  /** Uplink time moved on without audio (a gap): keep the timelines aligned. */
  skipUplink(samples: number): void {
    const total = this.#upN + samples;
    this.#upFrames += Math.floor(total / this.frameSamples);
    this.#upN = 0;
    this.#upSum = 0;
  }

  /** Reference PCM at the uplink's sample rate, as the server sends it for playback. */
  pushReference(pcm: Int16Array): void {
    this.startReference();
    const F = this.frameSamples;
    for (let i = 0; i < pcm.length; i++) {
      this.#refSum += pcm[i]! * pcm[i]!;
      if (++this.#refN === F) {
        this.#writeRef(toDb(this.#refSum, F));
        this.#refSum = 0;
        this.#refN = 0;
      }
    }
  }

  /** Reference as an energy envelope (see energyEnvelope), one value per 10 ms. */
  pushReferenceEnvelope(db: Float32Array): void {
    this.startReference();
    for (const v of db) this.#writeRef(Math.max(FLOOR_DB, Math.min(0, v)));
  }

  /** Playback ended (or was cut): its echo may still arrive for up to maxLag. */
  stopReference(): void {
    this.#playing = false;
    this.#refSum = 0;
    this.#refN = 0;
  }

  reset(): void {
    this.#up.clear();
    this.#ref.clear();
    this.#upSum = this.#upN = 0;
    this.#refSum = this.#refN = this.#refFrames = 0;
    this.#refNext = this.#upFrames;
    this.#playing = false;
    this.#noiseAt = -1;
  }

  /**
   * Judges uplink samples [from, to) (positions on the uplink clock): echo of the reference, or
   * not. Segments with no reference audio in reach are never echo.
   */
  judge(fromSample: number, toSample: number): EchoVerdict {
    const F = this.frameSamples;
    const f1 = Math.min(this.#upFrames, Math.floor(toSample / F));
    const f0 = Math.max(Math.ceil(fromSample / F), f1 - this.#up.size + 1, 0);
    const n = f1 - f0;
    const none: EchoVerdict = { echo: false, corr: 0, lagMs: 0, frames: Math.max(0, n) };
    if (n < 8) return none;
    const x = new Float64Array(n);
    let mx = 0;
    for (let i = 0; i < n; i++) mx += x[i] = this.#up.get(f0 + i) ?? FLOOR_DB;
    mx /= n;
    let vx = 0;
    for (let i = 0; i < n; i++) vx += (x[i]! - mx) ** 2;
    if (vx <= 1e-9) return none;
    // The reference over every lag at once: ref[j] is frame f0 − maxLag + j.
    const m = this.maxLagFrames;
    const ref = new Float64Array(n + m);
    const power = new Float64Array(n + m);
    const present = new Int32Array(n + m + 1);
    for (let j = 0; j < n + m; j++) {
      const v = this.#ref.get(f0 - m + j);
      ref[j] = v ?? FLOOR_DB;
      power[j] = 10 ** (ref[j]! / 10);
      present[j + 1] = present[j]! + (v !== undefined && v > FLOOR_DB ? 1 : 0);
    }
    const ctx: LagContext = { x, mx, vx, n, ref, power, noise: 10 ** (this.#noiseFloor() / 10), y: new Float64Array(n) };
    // Coarse search every other lag, then the neighbours of the best: half the work, same peak
    // (envelopes of 10 ms frames change little over one frame).
    let best = 0;
    let bestLag = -1;
    const tryLag = (lag: number) => {
      if (lag < 0 || lag > m) return;
      const base = m - lag;
      // Mostly no playback at this lag: the echo cannot come from there.
      if (present[base + n]! - present[base]! < n / 4) return;
      const r = correlateAt(ctx, base);
      if (r > best) {
        best = r;
        bestLag = lag;
      }
    };
    for (let lag = 0; lag <= m; lag += 2) tryLag(lag);
    if (bestLag >= 0) {
      const c = bestLag;
      tryLag(c - 1);
      tryLag(c + 1);
    }
    return { echo: best >= this.threshold, corr: best, lagMs: Math.max(0, bestLag) * ECHO_FRAME_MS, frames: n };
  }

  /** The uplink's noise floor, dBFS: a low percentile of the energies held (cached per frame). */
  #noiseFloor(): number {
    if (this.#noiseAt === this.#upFrames) return this.#noiseDb;
    this.#noiseAt = this.#upFrames;
    this.#noiseDb = this.#computeNoiseFloor();
    return this.#noiseDb;
  }

  #computeNoiseFloor(): number {
    const have = Math.min(this.#upFrames, this.#up.size);
    const v: number[] = [];
    for (let f = this.#upFrames - have; f < this.#upFrames; f++) {
      const db = this.#up.get(f);
      if (db !== undefined) v.push(db);
    }
    if (v.length === 0) return FLOOR_DB;
    v.sort((a, b) => a - b);
    return v[Math.floor(v.length * 0.1)]!;
  }

  /** Playback (re)starts; reference chunks that follow are placed from the uplink's position. */
  startReference(): void {
    const wasPlaying = this.#playing;
    this.#playing = true;
    // After a gap (playback started again, or the downlink ran dry) the device plays what arrives
    // now, not where the last chunk ended. Within a run, a little uplink jitter is not a gap.
    const behind = this.#upFrames - this.#refNext;
    if (!wasPlaying ? behind > 0 : behind > JITTER_FRAMES) {
      this.#refNext = this.#upFrames;
      this.#refSum = 0;
      this.#refN = 0;
    }
  }

  #writeRef(db: number): void {
    this.#ref.set(this.#refNext++, db);
    this.#refFrames++;
  }
}

interface LagContext {
  x: Float64Array;
  mx: number;
  vx: number;
  n: number;
  ref: Float64Array;
  power: Float64Array;
  noise: number;
  y: Float64Array;
}

/**
 * Correlation of the uplink with what the microphone would hear if it were echo at this lag: the
 * reference through the echo path's gain (estimated on the loud frames), on top of the uplink's
 * own noise floor. Without the noise term a quiet echo looks unlike its reference wherever it
 * sinks into the noise.
 */
function correlateAt(c: LagContext, base: number): number {
  const { x, n, ref, power, y } = c;
  let peak = FLOOR_DB;
  for (let i = 0; i < n; i++) if (ref[base + i]! > peak) peak = ref[base + i]!;
  let gain = 0;
  let loud = 0;
  for (let i = 0; i < n; i++) {
    if (ref[base + i]! < peak - 6) continue;
    gain += x[i]! - ref[base + i]!;
    loud++;
  }
  const g = 10 ** (gain / loud / 10);
  let my = 0;
  for (let i = 0; i < n; i++) my += y[i] = 10 * Math.log10(power[base + i]! * g + c.noise);
  my /= n;
  let sxy = 0;
  let vy = 0;
  for (let i = 0; i < n; i++) {
    const dy = y[i]! - my;
    sxy += (x[i]! - c.mx) * dy;
    vy += dy * dy;
  }
  return vy <= 1e-9 ? 0 : sxy / Math.sqrt(c.vx * vy);
}
