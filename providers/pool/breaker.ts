/**
 * One provider's circuit breaker, as a small state machine driven by a clock reading:
 *
 *   closed ──N consecutive failures / failure rate / retry-after──▶ open
 *   open ──cool-down over (or a probe succeeded)──▶ half-open ──trial ok──▶ closed
 *                                                        └──trial failed──▶ open
 *
 * Only verdicts count: cancelled attempts and our own overload say nothing about the provider.
 * While open or half-open, only the trial's verdict moves the state: a straggler that started
 * before the breaker opened proves little either way.
 */
import type { BreakerPolicy, BreakerState } from './state.js';

export type Admission = { readonly pass: true; readonly trial: boolean } | { readonly pass: false; readonly retryInMs: number };

export class Breaker {
  #state: BreakerState = 'closed';
  #consecutive = 0;
  /** When an open breaker may let a trial through. */
  #openUntil = 0;
  /** A vendor's retry-after deadline: not even a good probe lets a trial through earlier. */
  #notBefore = 0;
  #trialInFlight = false;
  /** Recent verdicts for the rate rule: [time, failed]. */
  #window: [number, boolean][] = [];

  constructor(
    readonly policy: BreakerPolicy,
    readonly onChange: (from: BreakerState, to: BreakerState, why: string) => void = () => {},
  ) {}

  get state(): BreakerState {
    return this.#state;
  }

  get consecutiveFailures(): number {
    return this.#consecutive;
  }

  retryInMs(now: number): number | null {
    return this.#state === 'closed' ? null : Math.max(0, Math.max(this.#openUntil, this.#notBefore) - now);
  }

  /** May an attempt start now? In half-open the first caller gets the trial, the rest skip. */
  admit(now: number): Admission {
    if (this.#state === 'closed') return { pass: true, trial: false };
    if (this.#state === 'open') {
      const until = Math.max(this.#openUntil, this.#notBefore);
      if (now < until) return { pass: false, retryInMs: until - now };
      this.#move('half-open', 'cool-down over');
    }
    if (this.#trialInFlight) return { pass: false, retryInMs: 0 };
    this.#trialInFlight = true;
    return { pass: true, trial: true };
  }

  /** The trial did not happen after all (no permit, cancelled): the next caller may try. */
  untrial(trial: boolean): void {
    if (trial) this.#trialInFlight = false;
  }

  success(now: number, trial: boolean): void {
    this.#record(now, false);
    if (this.#state === 'closed') {
      this.#consecutive = 0;
      return;
    }
    if (!trial) return;
    this.#trialInFlight = false;
    this.#consecutive = 0;
    this.#move('closed', 'trial succeeded');
  }

  failure(now: number, trial: boolean, retryAfterMs?: number): void {
    this.#record(now, true);
    if (trial) this.#trialInFlight = false;
    if (retryAfterMs !== undefined) {
      // The vendor said when to come back: that beats counting.
      this.#consecutive++;
      this.#notBefore = now + retryAfterMs;
      this.#open(now, retryAfterMs, `retry-after ${Math.round(retryAfterMs)} ms`);
      return;
    }
    if (this.#state === 'closed') {
      this.#consecutive++;
      if (this.#consecutive >= this.policy.failures) this.#open(now, this.policy.cooldownMs, `${this.#consecutive} consecutive failures`);
      else if (this.#rateTripped(now)) this.#open(now, this.policy.cooldownMs, 'failure rate');
      return;
    }
    if (trial) {
      this.#consecutive++;
      this.#open(now, this.policy.cooldownMs, 'trial failed');
    }
  }

  /** A health probe's verdict; only matters while not closed. */
  probed(now: number, ok: boolean): void {
    if (this.#state === 'closed') return;
    if (ok) {
      if (this.#state === 'open' && now >= this.#notBefore) {
        this.#openUntil = now;
        this.#move('half-open', 'probe succeeded');
      }
      return;
    }
    if (this.#state === 'open') this.#openUntil = Math.max(this.#openUntil, now + this.policy.cooldownMs);
    else if (!this.#trialInFlight) this.#open(now, this.policy.cooldownMs, 'probe failed');
  }

  #open(now: number, ms: number, why: string): void {
    this.#openUntil = now + ms;
    this.#trialInFlight = false;
    this.#move('open', why);
  }

  #move(to: BreakerState, why: string): void {
    const from = this.#state;
    this.#state = to;
    if (from !== to || to === 'open') this.onChange(from, to, why);
  }

  #record(now: number, failed: boolean): void {
    const rate = this.policy.rate;
    if (!rate) return;
    this.#window.push([now, failed]);
    const cutoff = now - rate.windowMs;
    let drop = 0;
    while (drop < this.#window.length && this.#window[drop]![0] < cutoff) drop++;
    if (drop > 0) this.#window.splice(0, drop);
  }

  #rateTripped(_now: number): boolean {
    const rate = this.policy.rate;
    if (!rate || this.#window.length < rate.minCalls) return false;
    let failed = 0;
    for (const [, f] of this.#window) if (f) failed++;
    return failed / this.#window.length >= rate.threshold;
  }
}
