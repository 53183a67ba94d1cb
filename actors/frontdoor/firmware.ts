/**
 * Firmware images offered through OTA (protocol.md §2.3, §2.4).
 *
 * Folder layout: flat, one file per image, named `<board-type>_<version>.bin` — the reference
 * server's naming (§2.4), so an existing firmware folder can be reused as is. `board-type` is the
 * device's `board.type` (e.g. `bread-compact-wifi`; may itself hold `_`, `-` and `.`); the version
 * is everything after the LAST `_` and must be numeric dotted (`2.4.3`). Examples:
 *   bread-compact-wifi_2.4.3.bin
 *   waveshare-esp32-s3-touch-amoled-1.8_2.4.3.bin
 * Other names, empty files, hidden files and sub-folders are skipped and reported.
 *
 * Versions compare as the firmware compares them (ota.cc `IsNewVersionAvailable`): segment by
 * segment as integers, and on an equal prefix the longer version is newer (`1.0.1` > `1.0`).
 * Image versions must be strictly numeric because the device parses each segment with `stoi` and
 * a non-numeric segment can abort it.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FD, refuse, type Refusal } from './errors.js';

export interface FirmwareImage {
  readonly board: string;
  readonly version: string;
  /** File name inside the folder; also the download name. */
  readonly file: string;
  readonly path: string;
  readonly size: number;
}

/** Newest image per board type. */
export type FirmwareIndex = ReadonlyMap<string, FirmwareImage>;

const INT_MAX = 2147483647; // stoi's range on the device

/** Strict numeric dotted version (`1.10.0`); undefined for anything else. */
export function parseVersion(v: string): number[] | undefined {
  if (!/^\d{1,10}(\.\d{1,10})*$/.test(v)) return undefined;
  const parts = v.split('.').map(Number);
  return parts.every((n) => n <= INT_MAX) ? parts : undefined;
}

/**
 * Parses a version the way the device parses its own: each `.`-separated segment through `stoi`
 * (leading whitespace, optional sign, digits, rest ignored; `2-dirty` reads as 2), a trailing empty
 * segment dropped as `getline` does. Undefined when a segment has no leading number — the device
 * itself could not compare it.
 */
export function parseVersionLikeDevice(v: string): number[] | undefined {
  const segs = v.split('.');
  if (segs.length > 1 && segs[segs.length - 1] === '') segs.pop();
  const out: number[] = [];
  for (const s of segs) {
    const m = /^[\t\n\v\f\r ]*([+-]?\d+)/.exec(s);
    if (!m) return undefined;
    const n = Number(m[1]);
    if (n > INT_MAX || n < -INT_MAX - 1) return undefined;
    out.push(n);
  }
  return out.length > 0 ? out : undefined;
}

/** -1, 0 or 1 with the firmware's ordering. */
export function compareVersions(a: readonly number[], b: readonly number[]): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i]! > b[i]!) return 1;
    if (a[i]! < b[i]!) return -1;
  }
  return a.length === b.length ? 0 : a.length > b.length ? 1 : -1;
}

/** Would a device running `current` take `candidate` as an upgrade? False when either is unusable. */
export function isNewerVersion(candidate: string, current: string): boolean {
  const c = parseVersion(candidate);
  const d = parseVersionLikeDevice(current);
  return c !== undefined && d !== undefined && compareVersions(c, d) > 0;
}

const BOARD = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** `<board>_<version>.bin` → its parts; undefined when the name does not follow the scheme. */
export function parseFirmwareName(name: string): { board: string; version: string } | undefined {
  if (!name.endsWith('.bin')) return undefined;
  const stem = name.slice(0, -4);
  const us = stem.lastIndexOf('_');
  if (us <= 0) return undefined;
  const board = stem.slice(0, us);
  const version = stem.slice(us + 1);
  if (!BOARD.test(board) || parseVersion(version) === undefined) return undefined;
  return { board, version };
}

/** Newest image per board out of `images`. */
export function indexImages(images: Iterable<FirmwareImage>): Map<string, FirmwareImage> {
  const index = new Map<string, FirmwareImage>();
  for (const img of images) {
    const cur = index.get(img.board);
    if (!cur || compareVersions(parseVersion(img.version)!, parseVersion(cur.version)!) > 0) index.set(img.board, img);
  }
  return index;
}

export interface FirmwareScan {
  readonly ok: true;
  readonly index: FirmwareIndex;
  /** Every usable image found, newest first per board. */
  readonly images: readonly FirmwareImage[];
  /** Entries ignored, with why. */
  readonly skipped: readonly { readonly name: string; readonly why: string }[];
}

/**
 * Scans `dir`. A missing folder is an empty index (the feature is simply unused); any other
 * failure to read it is `XZ_ERR_FIRMWARE_SCAN_FAILED`. Never throws.
 */
export async function scanFirmwareFolder(dir: string): Promise<FirmwareScan | Refusal> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: true, index: new Map(), images: [], skipped: [] };
    return refuse(FD.XZ_ERR_FIRMWARE_SCAN_FAILED, `cannot read ${dir}: ${code ?? String(err)}`);
  }
  const images: FirmwareImage[] = [];
  const skipped: { name: string; why: string }[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const parsed = parseFirmwareName(e.name);
    if (!parsed) {
      skipped.push({ name: e.name, why: 'name is not <board-type>_<numeric.version>.bin' });
      continue;
    }
    const path = join(dir, e.name);
    try {
      const st = await stat(path); // follows symlinks, so linked images count
      if (!st.isFile()) {
        skipped.push({ name: e.name, why: 'not a regular file' });
        continue;
      }
      // The device refuses a download without a non-zero Content-Length.
      if (st.size === 0) {
        skipped.push({ name: e.name, why: 'empty file' });
        continue;
      }
      images.push({ board: parsed.board, version: parsed.version, file: e.name, path, size: st.size });
    } catch (err) {
      skipped.push({ name: e.name, why: `stat failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    }
  }
  images.sort((a, b) => (a.board === b.board ? compareVersions(parseVersion(b.version)!, parseVersion(a.version)!) : a.board < b.board ? -1 : 1));
  return { ok: true, index: indexImages(images), images, skipped };
}

/**
 * The image a download request names, looked up in the index rather than joined onto the folder
 * path, so a crafted name cannot reach any other file.
 */
export function findImageByFile(images: readonly FirmwareImage[], file: string): FirmwareImage | undefined {
  return images.find((img) => img.file === file);
}
