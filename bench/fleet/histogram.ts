/**
 * A log-bucketed histogram of non-negative millisecond values. A fleet run records millions of
 * samples (every downlink frame of every device), so samples are counted into ~1% wide buckets
 * instead of being kept: memory is fixed (one Float64Array) and recording never allocates.
 * Count, sum, min and max are exact; percentiles are accurate to a bucket (≈1%).
 */

/** Values at or below this are counted in bucket 0 (10 µs is below anything a socket resolves). */
const FLOOR_MS = 0.01;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** 0.01 ms … ~ 10 days: far beyond any run. */
const BUCKETS = 2600;

export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
}

export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  record(v: number): void {
    if (!(v >= 0)) v = 0; // negative or NaN: clock noise; count it as zero rather than lose it
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    const i = v <= FLOOR_MS ? 0 : Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(v / FLOOR_MS) / LOG_GROWTH));
    this.#counts[i]!++;
  }

  /** Value at quantile q (0..1): the upper edge of the bucket holding it, clamped to [min, max]. */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const edge = i === 0 ? FLOOR_MS : FLOOR_MS * GROWTH ** i;
        return Math.min(this.max, Math.max(this.min, edge));
      }
    }
    return this.max;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  /** A copy, to difference against later (`since`). */
  clone(): Histogram {
    const c = new Histogram();
    c.merge(this);
    return c;
  }

  /**
   * What was recorded after `earlier` (a clone of this histogram taken before). Min and max of
   * the difference are bucket edges, not exact values.
   */
  since(earlier: Histogram): Histogram {
    const d = new Histogram();
    let lo = -1;
    let hi = -1;
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.#counts[i]! - earlier.#counts[i]!;
      d.#counts[i] = n;
      if (n > 0) {
        if (lo < 0) lo = i;
        hi = i;
      }
    }
    d.count = this.count - earlier.count;
    d.sum = this.sum - earlier.sum;
    if (lo >= 0) {
      d.min = lo === 0 ? 0 : FLOOR_MS * GROWTH ** (lo - 1);
      d.max = Math.min(this.max, hi === 0 ? FLOOR_MS : FLOOR_MS * GROWTH ** hi);
    }
    return d;
  }

  reset(): void {
    this.#counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  summary(): Summary {
    if (this.count === 0) return { count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, min: NaN, max: NaN };
    return {
      count: this.count,
      mean: this.sum / this.count,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      min: this.min,
      max: this.max,
    };
  }
}

/** Rounds a summary for the JSON report; empty histograms become nulls (JSON has no NaN). */
export function roundSummary(s: Summary, digits = 2): Record<keyof Summary, number | null> {
  const r = (v: number) => (Number.isFinite(v) ? Math.round(v * 10 ** digits) / 10 ** digits : null);
  return { count: s.count, mean: r(s.mean), p50: r(s.p50), p90: r(s.p90), p99: r(s.p99), min: r(s.min), max: r(s.max) };
}
