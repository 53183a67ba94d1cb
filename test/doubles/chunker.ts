/**
 * How a fake writes a response body to the socket (vendors.md §10: one reusable chunker for every
 * HTTP streaming fake). Network reads never line up with events, so fakes cut the canonical bytes
 * at seeded random points — inside `data:`, inside the blank line, inside JSON strings, inside a
 * multi-byte UTF-8 character — and sometimes coalesce several events into one write.
 *
 *   'whole'    one write for the whole body (fastest; the bench uses it)
 *   'events'   one write per event / NDJSON line
 *   { min, max, seed, gapMs, splitChars }
 *              random piece sizes in [min, max] bytes from a seeded RNG; `splitChars` also cuts
 *              after the first byte of every multi-byte character; `gapMs` pauses between writes
 *              (0 = yield one event-loop turn, enough for the client to read pieces separately)
 */

export type ChunkPlan =
  | 'whole'
  | 'events'
  | { readonly min: number; readonly max: number; readonly seed?: number; readonly gapMs?: number; readonly splitChars?: boolean };

/** The adversarial default: 1–7 byte pieces, every Chinese character split. */
export const ADVERSARIAL: ChunkPlan = { min: 1, max: 7, seed: 7, splitChars: true };

/** mulberry32: tiny, seedable, good enough to choose split points reproducibly. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Cuts the bytes of `events` into the pieces to write. `events` are the vendor's framed events
 * (each a complete `data: …\n\n` or NDJSON line), so 'events' can keep their boundaries.
 */
export function pieces(events: readonly Buffer[], plan: ChunkPlan): Buffer[] {
  if (plan === 'events') return events.filter((e) => e.length > 0);
  const all = Buffer.concat(events);
  if (plan === 'whole' || all.length === 0) return all.length ? [all] : [];
  const next = rng(plan.seed ?? 1);
  const cuts = new Set<number>();
  const span = Math.max(1, plan.max - plan.min + 1);
  for (let at = 0; at < all.length; ) {
    at += Math.max(1, plan.min + Math.floor(next() * span));
    if (at < all.length) cuts.add(at);
  }
  if (plan.splitChars) {
    for (let i = 0; i < all.length; i++) {
      // A lead byte of a 2–4 byte sequence: cut right after it, leaving the character in halves.
      if ((all[i]! & 0xc0) === 0xc0 && i + 1 < all.length) cuts.add(i + 1);
    }
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of sorted) {
    out.push(all.subarray(from, c));
    from = c;
  }
  out.push(all.subarray(from));
  return out;
}

export function gapOf(plan: ChunkPlan): number | undefined {
  return typeof plan === 'object' ? (plan.gapMs ?? 0) : undefined;
}
