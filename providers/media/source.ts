/**
 * A music file read in bounded pieces: positioned reads of at most READ_BYTES into fresh buffers
 * (decoders may keep views into them, so a buffer is never reused), with the abort check after
 * every read so a barge-in stops a track between two reads. The first piece is kept for format
 * sniffing and header parsing, so headers cost no second read.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { E, XzError } from '../../runtime/errors.js';
import { MEDIA } from './errors.js';

export const READ_BYTES = 64 * 1024;

export function abortedError(path: string): XzError {
  return new XzError(E.XZ_ERR_ABORTED, `${path}: playback aborted`);
}

function ioError(path: string, e: unknown): XzError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new XzError(MEDIA.XZ_ERR_MEDIA_NOT_FOUND, `${path}: no such file`, { cause: e, details: { path } });
  return new XzError(MEDIA.XZ_ERR_MEDIA_UNREADABLE, `${path}: cannot read (${code ?? (e as Error)?.message})`, { cause: e, details: { path } });
}

export class FileSource {
  readonly path: string;
  /** Bytes read from disk so far (the memory bound is checked against this). */
  bytesRead = 0;
  /** The file's first bytes (up to READ_BYTES; fewer only for a shorter file). */
  head: Uint8Array = new Uint8Array(0);
  readonly #signal: AbortSignal;
  #fh: FileHandle | undefined;
  #closing: Promise<void> | undefined;

  private constructor(path: string, fh: FileHandle, signal: AbortSignal) {
    this.path = path;
    this.#fh = fh;
    this.#signal = signal;
  }

  static async open(path: string, signal: AbortSignal): Promise<FileSource> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw ioError(path, e);
    }
    const src = new FileSource(path, fh, signal);
    try {
      src.head = await src.#read(0, READ_BYTES);
    } catch (e) {
      await src.close();
      throw e;
    }
    return src;
  }

  /** Up to `len` bytes at `pos` in a buffer the caller owns; shorter only at the end of the file. */
  async readAt(pos: number, len: number): Promise<Uint8Array> {
    if (pos + len <= this.head.length) return this.head.slice(pos, pos + len);
    return this.#read(pos, len);
  }

  /** The file from `from` to `end` (default: its end) in pieces of at most READ_BYTES. */
  async *stream(from: number, end = Infinity): AsyncGenerator<Uint8Array> {
    let pos = from;
    while (pos < end) {
      const len = Math.min(READ_BYTES, end - pos);
      // The head was read already: serve the part of it past `pos` instead of reading it again.
      const piece = pos < this.head.length ? this.head.slice(pos, Math.min(this.head.length, pos + len)) : await this.#read(pos, len);
      if (piece.length === 0) return;
      pos += piece.length;
      yield piece;
    }
  }

  async #read(pos: number, len: number): Promise<Uint8Array> {
    const fh = this.#fh;
    if (!fh || this.#signal.aborted) throw abortedError(this.path);
    const buf = new Uint8Array(len);
    let n: number;
    try {
      ({ bytesRead: n } = await fh.read(buf, 0, len, pos));
    } catch (e) {
      if (this.#signal.aborted) throw abortedError(this.path);
      throw ioError(this.path, e);
    }
    // Checked after the read as well: an abort during it must not reach a decoder that the abort
    // already freed.
    if (this.#signal.aborted) throw abortedError(this.path);
    this.bytesRead += n;
    return n === len ? buf : buf.slice(0, n);
  }

  /** Idempotent; safe while a read is in flight (the handle closes once the read is done). */
  close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    this.#closing ??= fh ? fh.close().catch(() => undefined) : Promise.resolve();
    return this.#closing;
  }
}
