/**
 * The recent uplink audio of one session, addressed by absolute sample position on the session's
 * audio clock. It holds the chunks as they arrived (no copying on the way in) and lets go of
 * whole chunks once nothing can need them, so a start declared a few hundred ms after its onset
 * can still take its pre-roll from here.
 */
export class AudioLog {
  readonly #chunks: { start: number; pcm: Int16Array }[] = [];
  #end = 0;

  /** Position just past the newest sample. */
  get end(): number {
    return this.#end;
  }

  /** Oldest position still held. */
  get start(): number {
    return this.#chunks[0]?.start ?? this.#end;
  }

  get samples(): number {
    return this.#end - this.start;
  }

  /** Appends a chunk at the end (the log keeps the array). */
  append(pcm: Int16Array): void {
    if (pcm.length === 0) return;
    this.#chunks.push({ start: this.#end, pcm });
    this.#end += pcm.length;
  }

  /** Moves the clock on without audio: the log restarts empty at the new position. */
  skip(samples: number): void {
    this.#chunks.length = 0;
    this.#end += samples;
  }

  /** A copy of [from, to), clamped to what is held. */
  slice(from: number, to: number): Int16Array {
    const a = Math.max(from, this.start);
    const b = Math.min(to, this.#end);
    const out = new Int16Array(Math.max(0, b - a));
    for (const c of this.#chunks) {
      const cEnd = c.start + c.pcm.length;
      if (cEnd <= a || c.start >= b) continue;
      const s = Math.max(a, c.start);
      const e = Math.min(b, cEnd);
      out.set(c.pcm.subarray(s - c.start, e - c.start), s - a);
    }
    return out;
  }

  /** Drops chunks that end at or before `pos`. */
  trimBefore(pos: number): void {
    let n = 0;
    while (n < this.#chunks.length && this.#chunks[n]!.start + this.#chunks[n]!.pcm.length <= pos) n++;
    if (n > 0) this.#chunks.splice(0, n);
  }

  clear(): void {
    this.#chunks.length = 0;
  }
}
