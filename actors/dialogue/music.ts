/**
 * A folder of music files the `play_music` tool picks from. Only names are looked at here: the
 * chosen file is handed to whoever streams it (decode, codec, pacer — like a spoken reply).
 *
 * The listing is cached and rescanned at most every `rescanMs`, so asking for a song does not walk
 * the disk on every turn, and files dropped into the folder show up within a minute. A path comes
 * only from the listing, never from the model's words, so no `../` can escape the folder.
 */
import { readdir } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';

export const MUSIC_EXTENSIONS: readonly string[] = ['.mp3', '.wav', '.ogg', '.opus'];

export interface Track {
  /** Absolute (or as configured) path of the file. */
  readonly path: string;
  /** The file name without extension, `_` shown as a space: what the assistant announces. */
  readonly title: string;
  /** `.mp3`, `.wav`, `.ogg` or `.opus` (lower case). */
  readonly ext: string;
}

export interface MusicLibraryOptions {
  /** Rescan interval; default 60 s. */
  readonly rescanMs?: number;
  /** Monotonic ms for the rescan interval. */
  readonly now?: () => number;
  /** For "play something": returns [0, 1). */
  readonly random?: () => number;
  /** Folder depth searched below `dir`; default 4. */
  readonly maxDepth?: number;
  /** Files listed at most; default 5000. */
  readonly maxFiles?: number;
}

const norm = (s: string) => s.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{S}\s]/gu, '');

/** Words people wrap a title in ("play the song X", "播放一首X") that are not part of it. */
const FILLER = /^(please|play|song|music|track|请|播放|放|来|一首|一曲|首|歌曲|音乐)+|(song|music|track|这首歌|歌曲|的歌|音乐|吧)+$/gu;

function bigrams(s: string): string[] {
  const cps = [...s];
  if (cps.length < 2) return cps;
  const out: string[] = [];
  for (let i = 0; i < cps.length - 1; i++) out.push(cps[i]! + cps[i + 1]!);
  return out;
}

/** Dice similarity of character bigrams: works alike for CJK titles and Latin ones. */
function dice(a: string, b: string): number {
  const x = bigrams(a);
  const y = bigrams(b);
  if (x.length === 0 || y.length === 0) return 0;
  const pool = new Map<string, number>();
  for (const g of y) pool.set(g, (pool.get(g) ?? 0) + 1);
  let hit = 0;
  for (const g of x) {
    const n = pool.get(g) ?? 0;
    if (n > 0) {
      hit++;
      pool.set(g, n - 1);
    }
  }
  return (2 * hit) / (x.length + y.length);
}

/** How well a query names a track, 0 (not at all) to 1 (exactly). */
export function matchScore(query: string, track: Track, relPath = ''): number {
  const q = norm(query);
  const t = norm(track.title);
  if (q === '' || t === '') return 0;
  const p = norm(relPath);
  // The query as said, and without the "play the song" wrapping (slightly less sure).
  return Math.max(score(q, t, p), 0.95 * score(q.replace(FILLER, ''), t, p));
}

function score(q: string, t: string, p: string): number {
  if (q === '') return 0;
  if (q === t) return 1;
  if (t.includes(q)) return 0.7 + 0.2 * (q.length / t.length);
  // A one-letter title is inside almost any query.
  if (t.length >= 2 && q.includes(t)) return 0.6 + 0.2 * (t.length / q.length);
  if (p.includes(q)) return 0.6;
  return 0.6 * dice(q, t);
}

export class MusicLibrary {
  readonly dir: string;
  readonly #rescanMs: number;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #maxDepth: number;
  readonly #maxFiles: number;
  #tracks: Track[] | undefined;
  #scannedAt = 0;
  #scanning: Promise<Track[]> | undefined;

  constructor(dir: string, opts: MusicLibraryOptions = {}) {
    this.dir = dir;
    this.#rescanMs = opts.rescanMs ?? 60_000;
    this.#now = opts.now ?? (() => performance.now());
    this.#random = opts.random ?? Math.random;
    this.#maxDepth = opts.maxDepth ?? 4;
    this.#maxFiles = opts.maxFiles ?? 5000;
  }

  /** Every playable file, sorted by title; empty when the folder is missing. */
  async list(): Promise<Track[]> {
    if (this.#tracks && this.#now() - this.#scannedAt < this.#rescanMs) return [...this.#tracks];
    // Concurrent callers share one scan.
    this.#scanning ??= this.#scan().finally(() => (this.#scanning = undefined));
    return [...(await this.#scanning)];
  }

  /**
   * The track a query names best, or undefined when nothing is close. An empty query (or
   * "something", "随便") picks one at random.
   */
  async find(query: string): Promise<Track | undefined> {
    const tracks = await this.list();
    if (tracks.length === 0) return undefined;
    const q = norm(query).replace(FILLER, '');
    if (q === '' || /^(any|anything|something|random|whatever|随便|随机|任意|都行|什么都行)$/u.test(q)) {
      return tracks[Math.min(tracks.length - 1, Math.floor(this.#random() * tracks.length))];
    }
    let best: Track | undefined;
    let bestScore = 0;
    for (const t of tracks) {
      const s = matchScore(query, t, relative(this.dir, t.path).slice(0, -t.ext.length));
      if (s > bestScore || (s === bestScore && best && t.title.length < best.title.length)) {
        best = t;
        bestScore = s;
      }
    }
    // Below this a match is a guess the user would not recognise as their song.
    return bestScore >= 0.3 ? best : undefined;
  }

  async #scan(): Promise<Track[]> {
    const out: Track[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (out.length >= this.#maxFiles) return;
        if (e.name.startsWith('.')) continue;
        const p = join(dir, e.name);
        // Symbolic links are not followed: a link to a parent would loop.
        if (e.isDirectory()) {
          if (depth < this.#maxDepth) await walk(p, depth + 1);
        } else if (e.isFile()) {
          const ext = extname(e.name).toLowerCase();
          if (MUSIC_EXTENSIONS.includes(ext)) out.push({ path: p, title: e.name.slice(0, -ext.length).replace(/_/g, ' ').trim(), ext });
        }
      }
    };
    await walk(this.dir, 0);
    // Code-point order, not localeCompare: the same on every host whatever its locale.
    const key = (t: Track) => `${t.title.toLowerCase()}\u0000${t.path}`;
    out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    this.#tracks = out;
    this.#scannedAt = this.#now();
    return out;
  }
}
