/** The last N latencies in a ring, for a cheap median in status snapshots. */
export class LatencyWindow {
  readonly #ring: number[] = [];
  #next = 0;

  constructor(readonly size: number) {}

  add(ms: number): void {
    if (!Number.isFinite(ms)) return;
    if (this.#ring.length < this.size) this.#ring.push(ms);
    else this.#ring[this.#next] = ms;
    this.#next = (this.#next + 1) % this.size;
  }

  p50(): number | null {
    if (this.#ring.length === 0) return null;
    const sorted = [...this.#ring].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }
}
