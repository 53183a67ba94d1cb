/**
 * Ogg pages → packets of one logical stream (RFC 3533), fed in arbitrary byte pieces.
 *
 * A page: "OggS", version 0, header type (1 continued packet, 2 first page, 4 last page), the
 * granule position (int64: for Opus, 48 kHz samples up to the end of the last packet finished
 * on the page, -1 when none finishes there), serial, sequence number, CRC, a segment table of
 * lacing values, then the body. A packet is a run of segments ended by one shorter than 255, so
 * it may span pages.
 *
 * Memory stays bounded: at most one page (≤ 65,307 bytes) is buffered, and a packet longer than
 * `maxPacket` (OpusTags carrying cover art) is counted but not kept.
 */

export interface OggPacket {
  /** Undefined when the packet exceeded maxPacket: only its size is known. */
  readonly data: Uint8Array | undefined;
  readonly size: number;
  readonly serial: number;
  /** The first packet of a logical stream (on its BOS page). */
  readonly bos: boolean;
  /** Granule position of the page the packet ends on (-1: none). */
  readonly granule: number;
  /** The packet ends on its stream's last page (whose granule may trim the end, RFC 7845 §4.5). */
  readonly eos: boolean;
}

export class OggError extends Error {}

const HEADER = 27;
const CAPTURE = [0x4f, 0x67, 0x67, 0x53]; // "OggS"

/** CRC-32 as Ogg computes it: polynomial 0x04c11db7, not reflected, initial value 0. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

export function oggCrc(page: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < page.length; i++) {
    // The CRC field itself (bytes 22–25) counts as zeros.
    const b = i >= 22 && i < 26 ? 0 : page[i]!;
    c = ((c << 8) ^ CRC_TABLE[((c >>> 24) ^ b) & 0xff]!) >>> 0;
  }
  return c;
}

export class OggDemuxer {
  readonly #maxPacket: number;
  /** Unconsumed bytes: less than one page plus the latest piece. */
  #buf: Uint8Array = new Uint8Array(0);
  /** Serial of the stream followed; other streams multiplexed in are skipped. */
  #serial: number | undefined;
  #ended = false;
  /** The packet being assembled across pages. */
  #parts: Uint8Array[] = [];
  #partSize = 0;
  #partBos = false;
  #out: OggPacket[] = [];
  #pages = 0;
  #consumed = 0;
  #skipContinuation = false;
  /** Set once a damaged page was met; nothing after it is read. */
  failure: OggError | undefined;

  constructor(opts: { maxPacket: number }) {
    this.#maxPacket = opts.maxPacket;
  }

  /** True once the followed stream's last page arrived. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Feeds bytes; returns the packets they completed. At a damaged page it stops: the packets
   * before the damage are still returned, and `failure` says what went wrong (further pushes
   * return nothing).
   */
  push(bytes: Uint8Array): OggPacket[] {
    if (this.failure) return [];
    this.#buf = this.#buf.length === 0 ? bytes : concat(this.#buf, bytes);
    let at = 0;
    try {
      at = this.#pagesIn();
    } catch (e) {
      if (!(e instanceof OggError)) throw e;
      this.failure = e;
    }
    // Keep only the unconsumed tail, copied so the piece it came from can be collected.
    this.#consumed += at;
    this.#buf = at === 0 ? this.#buf : this.#buf.slice(at);
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Parses the whole pages in #buf; returns the bytes they took. */
  #pagesIn(): number {
    let at = 0;
    for (;;) {
      const b = this.#buf;
      if (b.length - at < HEADER) break;
      for (let i = 0; i < 4; i++) if (b[at + i] !== CAPTURE[i]) throw new OggError(`no Ogg page at byte ${this.#consumed + at}`);
      if (b[at + 4] !== 0) throw new OggError(`Ogg page version ${b[at + 4]}`);
      const nseg = b[at + 26]!;
      if (b.length - at < HEADER + nseg) break;
      let bodyLen = 0;
      for (let i = 0; i < nseg; i++) bodyLen += b[at + HEADER + i]!;
      const pageLen = HEADER + nseg + bodyLen;
      if (b.length - at < pageLen) break;
      this.#page(b.subarray(at, at + pageLen), nseg);
      at += pageLen;
    }
    return at;
  }

  /** Bytes left over that do not make a whole page (a truncated file when non-zero at its end). */
  get pendingBytes(): number {
    return this.#buf.length;
  }

  /** True when the file ended inside a packet that continues on a page that never came. */
  get pendingPacket(): boolean {
    return this.#partSize > 0;
  }

  #page(page: Uint8Array, nseg: number): void {
    const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
    const stored = dv.getUint32(22, true);
    if (oggCrc(page) !== stored) throw new OggError(`Ogg page ${this.#pages} fails its CRC check`);
    this.#pages++;
    const type = page[5]!;
    const serial = dv.getUint32(14, true);
    const bos = (type & 2) !== 0;
    const eos = (type & 4) !== 0;
    const continued = (type & 1) !== 0;
    // Granules beyond 2^53 do not occur in audio of any sane length; -1 reads as -1 here.
    const granule = dv.getInt32(10, true) * 2 ** 32 + dv.getUint32(6, true);
    if (this.#serial === undefined || (bos && this.#ended)) {
      // The first stream, or the next link of a chained file once the previous link ended.
      if (!bos) throw new OggError('first Ogg page is not a beginning-of-stream page');
      this.#serial = serial;
      this.#ended = false;
      this.#dropPart();
    } else if (serial !== this.#serial || this.#ended) {
      return; // another stream multiplexed in, or trailing pages after our stream's end
    }
    if (!continued && this.#partSize > 0) {
      // The previous page promised a continuation that did not come: that packet is lost.
      throw new OggError(`Ogg page ${this.#pages - 1} drops a packet continued from the previous page`);
    }
    if (continued && this.#partSize === 0) {
      // A continuation of a packet we never saw the start of (after a seek or a cut): skip it.
      this.#skipContinuation = true;
    }
    let at = HEADER + nseg;
    let first = true;
    for (let i = 0; i < nseg; i++) {
      const lace = page[HEADER + i]!;
      const seg = page.subarray(at, at + lace);
      at += lace;
      if (this.#skipContinuation) {
        if (lace < 255) this.#skipContinuation = false;
        first = false;
        continue;
      }
      if (first && !continued) this.#partBos = bos;
      first = false;
      this.#partSize += lace;
      if (this.#partSize <= this.#maxPacket) this.#parts.push(seg);
      else this.#parts = [];
      if (lace < 255) {
        const size = this.#partSize;
        const data = size <= this.#maxPacket ? concat(...this.#parts) : undefined;
        this.#out.push({ data, size, serial, bos: this.#partBos, granule, eos });
        this.#partBos = false;
        this.#dropPart();
      }
    }
    if (eos) this.#ended = true;
  }

  #dropPart(): void {
    this.#parts = [];
    this.#partSize = 0;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
