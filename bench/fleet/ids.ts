/**
 * Deterministic randomness and device identities. A run with the same --seed reuses the same
 * Device-Ids and Client-Ids, so repeated runs against one server do not grow its device registry
 * without bound, and a failing run can be repeated exactly; two simulators running at once against
 * one server need different seeds.
 */

/** mulberry32: tiny, fast, good enough for jitter and ids (not for secrets). */
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

const hex = (n: number) => n.toString(16).padStart(2, '0');

/**
 * A locally administered unicast MAC (protocol.md §1 format: lower-case hex with colons), unique
 * per (seed, index): 14 bits of the seed's hash in the first two bytes, the index in the last four.
 */
export function deviceMac(seed: number, index: number): string {
  const h = Math.floor(rng(seed ^ 0x5eed)() * 0x10000);
  const b0 = ((h >> 8) & 0xfc) | 0x02;
  const bytes = [b0, h & 0xff, (index >>> 24) & 0xff, (index >>> 16) & 0xff, (index >>> 8) & 0xff, index & 0xff];
  return bytes.map(hex).join(':');
}

/** A UUID v4 (lower case, 8-4-4-4-12) drawn from the seeded generator. */
export function deviceUuid(seed: number, index: number): string {
  const r = rng((seed * 2654435761) ^ (index * 40503) ^ 0xc11e);
  const b = Array.from({ length: 16 }, () => Math.floor(r() * 256));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.map(hex).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
