/**
 * Reads the server's resident memory from its status document over time. Our server's /status
 * reports `memory_mb.rss` and `sessions.total`; a peer server exposing a similar document with a
 * top-level `rss_mb` or `memory.rss` (bytes) is read too. Without --status-url this is off and
 * the report says so.
 */
import { request, type Dispatcher } from 'undici';

export interface RssSample {
  /** Seconds since the run started. */
  t: number;
  rssMb: number;
  sessions: number | null;
  /** Simulated devices connected at that moment. */
  devices: number;
}

export async function readServerRss(url: string, dispatcher: Dispatcher): Promise<{ rssMb: number; sessions: number | null }> {
  return rssFromStatus(await readStatusDoc(url, dispatcher), url);
}

/** The status document itself (ours also carries the pacer and event-loop figures). */
export async function readStatusDoc(url: string, dispatcher: Dispatcher): Promise<Record<string, unknown>> {
  const res = await request(url, { dispatcher, headersTimeout: 5000, bodyTimeout: 5000 });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`${url} answered ${res.statusCode}`);
  }
  return (await res.body.json()) as Record<string, unknown>;
}

export function rssFromStatus(doc: Record<string, unknown>, url: string): { rssMb: number; sessions: number | null } {
  const mem = doc['memory_mb'] as Record<string, unknown> | undefined;
  const memory = doc['memory'] as Record<string, unknown> | undefined;
  const rssMb =
    typeof mem?.['rss'] === 'number' ? mem['rss'] : typeof doc['rss_mb'] === 'number' ? doc['rss_mb'] : typeof memory?.['rss'] === 'number' ? memory['rss'] / 1048576 : NaN;
  if (!Number.isFinite(rssMb)) throw new Error(`${url} has no memory_mb.rss, rss_mb or memory.rss`);
  const s = doc['sessions'];
  const sessions = typeof s === 'number' ? s : typeof s === 'object' && s !== null && typeof (s as Record<string, unknown>)['total'] === 'number' ? ((s as Record<string, unknown>)['total'] as number) : null;
  return { rssMb, sessions };
}

/** Median of a few reads a moment apart: one read can land mid-GC. */
export async function settledRss(url: string, dispatcher: Dispatcher, reads = 5, gapMs = 400): Promise<{ rssMb: number; sessions: number | null }> {
  const got: { rssMb: number; sessions: number | null }[] = [];
  for (let i = 0; i < reads; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
    got.push(await readServerRss(url, dispatcher));
  }
  got.sort((a, b) => a.rssMb - b.rssMb);
  return got[Math.floor(got.length / 2)]!;
}

/** Least-squares slope of y over x (NaN with fewer than two distinct x). */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  let sx = 0;
  let sy = 0;
  for (const p of points) {
    sx += p.x;
    sy += p.y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
