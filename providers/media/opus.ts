/**
 * Ogg Opus files (RFC 7845) → mono PCM at 48 kHz, decoded by libopus compiled to wasm
 * (`opus-decoder`): each decoder owns its wasm instance, so it is safe in any worker thread.
 * (native/opus.ts is the faster libopus, but it decodes the 16 kHz mono uplink only.)
 *
 * The header packets are read, not decoded: OpusHead gives channels, channel mapping, pre-skip
 * and output gain; OpusTags is skipped whatever its size. Pre-skip (the encoder's priming
 * samples) is dropped from the start and the last page's granule trims the encoder's padding
 * from the end, so a track lasts exactly as long as what was encoded.
 */
import { OpusDecoder } from 'opus-decoder';
import { XzError } from '../../runtime/errors.js';
import { MEDIA } from './errors.js';
import { OggDemuxer } from './ogg.js';
import { downmixFloat, type MonoPiece } from './pcm.js';
import type { FileSource } from './source.js';

const RATE = 48_000;
/** Largest Opus packet kept: 120 ms at the maximum of 1275 bytes per 20 ms frame, per stream. */
const MAX_PACKET = 64 * 1024;
/** Bytes per channel opus-decoder copies a packet into (its input buffer: 32000 · 0.12). */
const DECODER_INPUT_PER_CHANNEL = 3840;

interface OpusHead {
  channels: number;
  preSkip: number;
  gain: number;
  mapping: { streamCount: number; coupledStreamCount: number; channelMappingTable: number[] } | undefined;
}

const corrupt = (path: string, why: string, cause?: unknown): XzError =>
  new XzError(MEDIA.XZ_ERR_MEDIA_CORRUPT, `${path}: Ogg Opus ${why}`, { details: { path, format: 'opus' }, ...(cause === undefined ? {} : { cause }) });

/** What the first packet of an Ogg stream says it carries, for the unsupported-format message. */
export function oggCodecName(first: Uint8Array): string {
  const s = String.fromCharCode(...first.subarray(0, 8));
  if (s.startsWith('OpusHead')) return 'Opus';
  if (s.startsWith('\x01vorbis')) return 'Vorbis';
  if (s.startsWith('\x7fFLAC')) return 'FLAC';
  if (s.startsWith('Speex   ')) return 'Speex';
  if (s.startsWith('\x80theora')) return 'Theora video';
  return 'an unknown codec';
}

function parseHead(path: string, p: Uint8Array): OpusHead {
  if (p.length < 19 || oggCodecName(p) !== 'Opus') throw corrupt(path, 'stream does not start with OpusHead');
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const version = p[8]!;
  if (version >> 4 !== 0) throw new XzError(MEDIA.XZ_ERR_MEDIA_UNSUPPORTED, `${path}: Ogg Opus version ${version}`, { details: { path, format: 'opus' } });
  const channels = p[9]!;
  const family = p[18]!;
  if (channels === 0) throw corrupt(path, 'header declares 0 channels');
  let mapping: OpusHead['mapping'];
  if (family === 0) {
    if (channels > 2) throw corrupt(path, `header declares ${channels} channels in mapping family 0`);
  } else {
    if (channels > 8) throw new XzError(MEDIA.XZ_ERR_MEDIA_UNSUPPORTED, `${path}: Ogg Opus with ${channels} channels`, { details: { path, format: 'opus' } });
    if (p.length < 21 + channels) throw corrupt(path, 'header is cut short');
    mapping = { streamCount: p[19]!, coupledStreamCount: p[20]!, channelMappingTable: [...p.subarray(21, 21 + channels)] };
  }
  // Output gain: Q7.8 dB, to be applied on output (RFC 7845 §5.1); almost always 0.
  const gain = 10 ** (v.getInt16(16, true) / 256 / 20);
  return { channels, preSkip: v.getUint16(10, true), gain, mapping };
}

/** A wasm decoder that can be freed from outside (an abort) without a double free. */
class Decoder {
  readonly #dec: OpusDecoder<typeof RATE>;
  readonly channels: number;
  #freed = false;

  private constructor(dec: OpusDecoder<typeof RATE>, channels: number) {
    this.#dec = dec;
    this.channels = channels;
  }

  static async create(head: OpusHead): Promise<Decoder> {
    const dec = new OpusDecoder({ sampleRate: RATE, channels: head.channels, preSkip: 0, ...(head.mapping ?? {}) });
    await dec.ready;
    return new Decoder(dec, head.channels);
  }

  decode(packet: Uint8Array): { channelData: Float32Array[]; samplesDecoded: number; error: string | undefined } {
    if (this.#freed) return { channelData: [], samplesDecoded: 0, error: 'decoder freed' };
    const r = this.#dec.decodeFrame(packet);
    return { channelData: r.channelData, samplesDecoded: r.samplesDecoded, error: r.errors[0]?.message };
  }

  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#dec.free();
  }
}

/**
 * Decodes the Ogg Opus file `src`. `own` registers a cleanup the caller also runs on abort.
 * Throws XZ_ERR_MEDIA_UNSUPPORTED when a chained link is not Opus.
 */
export async function* decodeOggOpus(src: FileSource, own: (free: () => void) => void): AsyncGenerator<MonoPiece> {
  const path = src.path;
  const demux = new OggDemuxer({ maxPacket: MAX_PACKET });
  let head: OpusHead | undefined;
  let dec: Decoder | undefined;
  /** Packets of the current link seen (0: OpusHead next, 1: OpusTags next). */
  let index = 0;
  /** 48 kHz samples of the current link decoded, pre-skip included (what granules count). */
  let decoded = 0;
  let sawAudio = false;
  try {
    for await (const bytes of src.stream(0)) {
      for (const p of demux.push(bytes)) {
        if (p.bos) {
          // A new link (the first, or a chained one): its own header, decoder and pre-skip.
          if (!p.data || oggCodecName(p.data) !== 'Opus') {
            const what = p.data ? oggCodecName(p.data) : 'an unknown codec';
            throw new XzError(MEDIA.XZ_ERR_MEDIA_UNSUPPORTED, `${path}: Ogg stream of ${what}, not Opus`, { details: { path, format: 'ogg' } });
          }
          head = parseHead(path, p.data);
          dec?.free();
          dec = await Decoder.create(head);
          own(dec.free.bind(dec));
          index = 1;
          decoded = 0;
          continue;
        }
        if (!head || !dec) throw corrupt(path, 'audio before OpusHead');
        if (index++ === 1) continue; // OpusTags (comments, perhaps cover art): not needed
        if (!p.data) throw corrupt(path, `packet of ${p.size} bytes`);
        if (p.data.length === 0) continue; // a lost packet in the file: nothing to play for it
        if (p.data.length > DECODER_INPUT_PER_CHANNEL * dec.channels) throw corrupt(path, `packet of ${p.data.length} bytes`);
        const r = dec.decode(p.data);
        if (r.error) throw corrupt(path, `packet does not decode (${r.error})`);
        let from = 0;
        let to = r.samplesDecoded;
        // Pre-skip: the first samples are the encoder's warm-up, not music.
        if (decoded < head.preSkip) from = Math.min(to, head.preSkip - decoded);
        // On the last page the granule says where the music ends; the rest is padding.
        if (p.eos && p.granule >= 0) to = Math.max(from, Math.min(to, p.granule - decoded));
        decoded += r.samplesDecoded;
        if (to <= from) continue;
        sawAudio = true;
        const pcm = downmixFloat(
          r.channelData.map((c) => c.subarray(from, to)),
          to - from,
          head.gain,
        );
        yield { pcm, sampleRate: RATE };
      }
      // Damage ends the track after the packets before it have played.
      if (demux.failure) throw corrupt(path, demux.failure.message, demux.failure);
    }
    if (demux.pendingBytes > 0) throw corrupt(path, `is truncated: the file ends inside an Ogg page (${demux.pendingBytes} bytes left over)`);
    if (demux.pendingPacket) throw corrupt(path, 'is truncated: the file ends inside a packet');
    if (!head) throw corrupt(path, 'has no OpusHead');
    if (!demux.ended) throw corrupt(path, sawAudio ? 'is truncated: no end-of-stream page' : 'has no audio');
  } finally {
    dec?.free();
  }
}
