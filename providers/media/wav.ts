/**
 * WAV files as people keep music: PCM of 8 (unsigned), 16, 24 or 32 bits, or IEEE float of 32 or
 * 64 bits, any rate and channel count, downmixed to mono by averaging.
 *
 * providers/tts/wav.ts reads the other kind of WAV, a synthesiser's pipe: 16-bit mono only, and
 * its `data` size is ignored because streaming writers leave a placeholder there. A file on disk
 * has a real size, which matters here: chunks after `data` (LIST, id3) must not be played as
 * noise, and a file shorter than its `data` size is truncated. Its parser is therefore not reused;
 * its 16-bit PcmReframer would cover one of the sample formats only.
 *
 * Chunks before `data` are skipped by position (a LIST with cover art is never held in memory).
 */
import { XzError } from '../../runtime/errors.js';
import { MEDIA } from './errors.js';
import type { FileSource } from './source.js';
import type { MonoPiece } from './pcm.js';

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;
const FORMAT_NAMES: Record<number, string> = { 2: 'MS ADPCM', 6: 'A-law', 7: 'µ-law', 0x11: 'IMA ADPCM', 0x31: 'GSM 6.10', 0x55: 'MP3', 0xff: 'AAC' };
/** Writers that do not know the length up front leave one of these as the `data` size. */
const PLACEHOLDER_MIN = 0x7fff_0000;
/** Chunks walked before `data`: a sane file has a handful. */
const MAX_CHUNKS = 256;

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bits: number;
  float: boolean;
  /** File offset of the first sample. */
  dataStart: number;
  /** File offset just past the last sample; undefined: until the end of the file. */
  dataEnd: number | undefined;
}

const corrupt = (path: string, why: string): XzError => new XzError(MEDIA.XZ_ERR_MEDIA_CORRUPT, `${path}: WAV ${why}`, { details: { path, format: 'wav' } });
const unsupported = (path: string, why: string): XzError =>
  new XzError(MEDIA.XZ_ERR_MEDIA_UNSUPPORTED, `${path}: WAV ${why}`, { details: { path, format: 'wav' } });

const latin1 = (b: Uint8Array, at: number, n: number): string => String.fromCharCode(...b.subarray(at, at + n));

/** Walks the RIFF chunks up to `data`; `src.head` starts with RIFF/RF64 … WAVE (sniffed). */
export async function readWavHeader(src: FileSource): Promise<WavInfo> {
  const path = src.path;
  const rf64 = latin1(src.head, 0, 4) === 'RF64';
  let fmt: Omit<WavInfo, 'dataStart' | 'dataEnd'> | undefined;
  let ds64Data: number | undefined;
  let at = 12;
  for (let i = 0; i < MAX_CHUNKS; i++) {
    const h = await src.readAt(at, 8);
    if (h.length < 8) throw corrupt(path, fmt ? 'has no data chunk' : 'has no fmt chunk');
    const dv = new DataView(h.buffer, h.byteOffset, 8);
    const id = latin1(h, 0, 4);
    const size = dv.getUint32(4, true);
    const body = at + 8;
    if (id === 'data') {
      if (!fmt) throw corrupt(path, 'has data before fmt');
      let len: number | undefined = size;
      if (rf64 && size === 0xffff_ffff) len = ds64Data;
      else if (size === 0 || size >= PLACEHOLDER_MIN) len = undefined;
      return { ...fmt, dataStart: body, dataEnd: len === undefined ? undefined : body + len };
    }
    if (id === 'fmt ' || id === 'ds64') {
      if (size < 16 || size > 1024) throw corrupt(path, `has a ${size}-byte ${id.trim()} chunk`);
      const b = await src.readAt(body, size);
      if (b.length < size) throw corrupt(path, 'ends inside its header');
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      if (id === 'ds64') ds64Data = v.getUint32(8, true) + v.getUint32(12, true) * 2 ** 32;
      else fmt = parseFmt(path, v);
    }
    at = body + size + (size & 1); // chunks are padded to even sizes
  }
  throw corrupt(path, `has no data chunk in its first ${MAX_CHUNKS} chunks`);
}

function parseFmt(path: string, v: DataView): Omit<WavInfo, 'dataStart' | 'dataEnd'> {
  let tag = v.getUint16(0, true);
  const channels = v.getUint16(2, true);
  const sampleRate = v.getUint32(4, true);
  const bits = v.getUint16(14, true);
  // WAVE_FORMAT_EXTENSIBLE names the real format in the first two bytes of its sub-format GUID.
  if (tag === FORMAT_EXTENSIBLE && v.byteLength >= 26) tag = v.getUint16(24, true);
  const name = `${FORMAT_NAMES[tag] ?? `format tag 0x${tag.toString(16)}`}`;
  if (tag !== FORMAT_PCM && tag !== FORMAT_FLOAT) throw unsupported(path, `encoded as ${name}; only PCM and float WAV are played`);
  const float = tag === FORMAT_FLOAT;
  if (float ? bits !== 32 && bits !== 64 : bits !== 8 && bits !== 16 && bits !== 24 && bits !== 32) {
    throw unsupported(path, `with ${bits}-bit ${float ? 'float' : 'integer'} samples`);
  }
  if (channels < 1 || channels > 64) throw corrupt(path, `declares ${channels} channels`);
  if (sampleRate < 1000 || sampleRate > 768_000) throw corrupt(path, `declares a sample rate of ${sampleRate} Hz`);
  return { sampleRate, channels, bits, float };
}

/** The samples of a parsed WAV, downmixed, one piece per read. */
export async function* decodeWav(src: FileSource, info: WavInfo): AsyncGenerator<MonoPiece> {
  const frameBytes = (info.bits / 8) * info.channels;
  const read = sampleReader(info);
  const pending = new Uint8Array(frameBytes);
  let held = 0; // bytes of a frame split across two reads
  let total = 0;
  for await (const piece of src.stream(info.dataStart, info.dataEnd)) {
    total += piece.length;
    let bytes = piece;
    if (held > 0) {
      const take = Math.min(frameBytes - held, bytes.length);
      pending.set(bytes.subarray(0, take), held);
      held += take;
      bytes = bytes.subarray(take);
      if (held < frameBytes) continue;
      held = 0;
      yield { pcm: downmix(pending, 1, info, read), sampleRate: info.sampleRate };
    }
    const frames = Math.floor(bytes.length / frameBytes);
    const rest = bytes.length - frames * frameBytes;
    if (rest > 0) {
      pending.set(bytes.subarray(bytes.length - rest));
      held = rest;
    }
    if (frames > 0) yield { pcm: downmix(bytes, frames, info, read), sampleRate: info.sampleRate };
  }
  if (info.dataEnd !== undefined && total < info.dataEnd - info.dataStart) {
    throw corrupt(src.path, `is truncated: ${total} of ${info.dataEnd - info.dataStart} data bytes present`);
  }
}

type SampleReader = (v: DataView, at: number) => number;

/** One sample at a byte offset, on the int16 scale (averaged and rounded afterwards). */
function sampleReader(info: WavInfo): SampleReader {
  if (info.float) {
    return info.bits === 32 ? (v, at) => v.getFloat32(at, true) * 32767 : (v, at) => v.getFloat64(at, true) * 32767;
  }
  switch (info.bits) {
    case 8:
      return (v, at) => (v.getUint8(at) - 128) * 256; // 8-bit WAV is unsigned, centred on 128
    case 16:
      return (v, at) => v.getInt16(at, true);
    case 24:
      return (v, at) => ((v.getInt8(at + 2) << 16) | (v.getUint8(at + 1) << 8) | v.getUint8(at)) / 256;
    default:
      return (v, at) => v.getInt32(at, true) / 65536;
  }
}

function downmix(bytes: Uint8Array, frames: number, info: WavInfo, read: SampleReader): Int16Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const step = info.bits / 8;
  const ch = info.channels;
  const out = new Int16Array(frames);
  let at = 0;
  for (let i = 0; i < frames; i++) {
    let s = 0;
    for (let c = 0; c < ch; c++, at += step) s += read(v, at);
    s /= ch;
    out[i] = s >= 32767 ? 32767 : s <= -32768 ? -32768 : Math.round(s);
  }
  return out;
}
