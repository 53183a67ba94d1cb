/**
 * A music file → mono 16-bit PCM chunks at the file's own rate, streamed: the `play_music` half
 * that turns the chosen track (actors/dialogue/music.ts) into audio for the codec and pacer,
 * which resample and pace it like speech.
 *
 * Formats are told by their first bytes, not the name: MP3 (ID3v2 tag or MPEG frame sync), WAV
 * (RIFF/RF64 … WAVE) and Ogg Opus (OggS whose first packet is OpusHead). Anything else — Ogg
 * Vorbis, FLAC, AAC, a text file named .mp3 — fails with XZ_ERR_MEDIA_UNSUPPORTED naming the file
 * and what it is.
 *
 * Memory is bounded whatever the length: the file is read 64 KiB at a time and decoded as it
 * comes, so the first chunk leaves after the first read or two. A truncated or damaged file
 * delivers what decoded and then fails with XZ_ERR_MEDIA_CORRUPT; it never hangs.
 *
 * Aborting the signal stops the track between two reads or chunks with XZ_ERR_ABORTED, and closes
 * the file and frees the wasm decoders at once, even while the consumer is not pulling (a paced
 * reader may sit on a chunk for a while). Everything is per call: no process-wide state, so it
 * runs in any worker thread.
 */
import { XzError, hasCode } from '../../runtime/errors.js';
import type { PcmChunk } from '../contracts/audio.js';
import { MEDIA } from './errors.js';
import { decodeMp3, findFrames, frameHeader, id3Size } from './mp3.js';
import { decodeOggOpus, oggCodecName } from './opus.js';
import { Chunker, type MonoPiece } from './pcm.js';
import { FileSource, READ_BYTES, abortedError } from './source.js';
import { decodeWav, readWavHeader } from './wav.js';

export interface TrackOptions {
  /** Stops the track (XZ_ERR_ABORTED) and releases the file and decoders. */
  signal: AbortSignal;
  /** Plays at most this many seconds; default: the whole track. 0 or less: nothing. */
  maxSeconds?: number;
  /** Length of each chunk; default DEFAULT_CHUNK_MS, clamped to 20–2000 ms. The last is shorter. */
  chunkMs?: number;
}

export const DEFAULT_CHUNK_MS = 250;

/**
 * Streams the track at `path` as owned mono PCM chunks (each in its own exact-size ArrayBuffer,
 * transferable) at the file's sample rate. Nothing is opened until the first `next()`.
 */
export function openTrack(path: string, opts: TrackOptions): AsyncIterable<PcmChunk> {
  return play(path, opts);
}

async function* play(path: string, opts: TrackOptions): AsyncGenerator<PcmChunk> {
  const { signal } = opts;
  if (signal.aborted) throw abortedError(path);
  const chunkMs = Number.isFinite(opts.chunkMs) ? Math.min(2000, Math.max(20, opts.chunkMs!)) : DEFAULT_CHUNK_MS;
  const maxSeconds = opts.maxSeconds === undefined || Number.isNaN(opts.maxSeconds) ? Infinity : opts.maxSeconds;
  const chunker = new Chunker({ chunkMs, maxSeconds });
  if (chunker.full) return;

  const frees: (() => void)[] = [];
  let src: FileSource | undefined;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    for (const free of frees) free();
    void src?.close();
  };
  // On abort the file and decoders go at once, not when the consumer next pulls: a paced reader
  // may hold a chunk for a while, or drop the iterator without calling return().
  signal.addEventListener('abort', release, { once: true });
  try {
    src = await FileSource.open(path, signal);
    if (released) throw abortedError(path); // aborted while opening: the listener missed src
    const pieces = await decoderFor(src, (free) => frees.push(free));
    try {
      for await (const piece of pieces) {
        for (const chunk of chunker.push(piece)) {
          yield chunk;
          if (signal.aborted) throw abortedError(path);
        }
        if (chunker.full) break; // maxSeconds reached: stop reading (the partial chunk follows)
      }
    } catch (e) {
      // A damaged file still plays up to the damage: hand out the partial chunk, then fail.
      const last = signal.aborted ? undefined : chunker.flush();
      if (last) yield last;
      throw coded(path, e);
    }
    const last = chunker.flush();
    if (last) yield last;
  } finally {
    signal.removeEventListener('abort', release);
    release();
    await src?.close();
  }
}

/**
 * Our decoders throw coded errors; anything else came out of a wasm decoder choking on the bytes
 * (the file's fault far more likely than ours), so it is reported as a damaged file.
 */
function coded(path: string, e: unknown): unknown {
  if (e instanceof XzError || hasCode(e)) return e;
  return new XzError(MEDIA.XZ_ERR_MEDIA_CORRUPT, `${path}: decoder failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e, details: { path } });
}

const unsupported = (path: string, what: string): XzError =>
  new XzError(MEDIA.XZ_ERR_MEDIA_UNSUPPORTED, `${path}: ${what}; playable are MP3, WAV (PCM or float) and Ogg Opus`, { details: { path } });

const ascii = (b: Uint8Array, at: number, n: number): string => String.fromCharCode(...b.subarray(at, at + n));

/** Sniffs the format from the first bytes and starts its decoder. */
async function decoderFor(src: FileSource, own: (free: () => void) => void): Promise<AsyncIterable<MonoPiece>> {
  const format = await sniff(src);
  switch (format.kind) {
    case 'wav':
      return decodeWav(src, await readWavHeader(src));
    case 'opus':
      return decodeOggOpus(src, own);
    case 'mp3':
      return decodeMp3(src, format.start, own);
  }
}

/** The format of `src` by its first bytes (and, for MP3 with leading junk, its name). */
export async function sniff(src: FileSource): Promise<{ kind: 'wav' | 'opus' } | { kind: 'mp3'; start: number }> {
  const h = src.head;
  const path = src.path;
  if (h.length === 0) throw unsupported(path, 'the file is empty');
  const magic = ascii(h, 0, 4);
  if ((magic === 'RIFF' || magic === 'RF64') && ascii(h, 8, 4) === 'WAVE') return { kind: 'wav' };
  if (magic === 'OggS') {
    // The first page holds the first packet alone: its opening bytes name the codec.
    const nseg = h[26] ?? 0;
    const codec = oggCodecName(h.subarray(27 + nseg));
    if (codec === 'Opus') return { kind: 'opus' };
    throw unsupported(path, `Ogg ${codec}, not Opus`);
  }
  // ID3v2 tags (perhaps with megabytes of cover art) come before the MPEG frames: skip them by
  // position and look for two frames in a row after them.
  let at = 0;
  let size = id3Size(h, 0);
  while (size > 0) {
    at += size;
    size = id3Size(await src.readAt(at, 10), 0);
  }
  const after = at === 0 ? h : await src.readAt(at, READ_BYTES);
  if (frameHeader(after, 0) || at > 0) {
    const start = findFrames(after, at);
    if (start !== undefined) return { kind: 'mp3', start };
  }
  const what = identify(after);
  if (what) throw unsupported(path, at > 0 ? `an ID3-tagged ${what}` : what);
  if (at > 0) throw unsupported(path, 'an ID3 tag followed by no MPEG audio frames');
  // An MP3 with junk before its first frame still plays if it is named like one.
  if (/\.mp3$/i.test(path)) {
    const start = findFrames(h, 0);
    if (start !== undefined) return { kind: 'mp3', start };
  }
  throw unsupported(path, describe(h));
}

/** Formats people have in a music folder that are not played, by their magic bytes. */
function identify(b: Uint8Array): string | undefined {
  const m = ascii(b, 0, 4);
  if (m === 'fLaC') return 'FLAC file';
  if (ascii(b, 4, 4) === 'ftyp') return 'MP4/M4A (AAC or ALAC) file';
  if (b[0] === 0xff && (b[1]! & 0xf6) === 0xf0) return 'AAC (ADTS) file';
  if (m === 'FORM' && /AIF[FC]/.test(ascii(b, 8, 4))) return 'AIFF file';
  if (m === 'MThd') return 'MIDI file';
  if (m === '0&\xb2u') return 'WMA/ASF file';
  if (m === 'RIFF') return `RIFF ${ascii(b, 8, 4).trim()} file, not WAVE`;
  if (m === 'wvpk') return 'WavPack file';
  if (m === 'MAC ') return "Monkey's Audio file";
  return undefined;
}

function describe(b: Uint8Array): string {
  const sample = b.subarray(0, 512);
  let printable = 0;
  for (const c of sample) if (c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127) || c >= 0x80) printable++;
  if (printable === sample.length && !sample.includes(0)) return 'a text file, not audio';
  const hex = [...b.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return `an unrecognised format (starts ${hex})`;
}
