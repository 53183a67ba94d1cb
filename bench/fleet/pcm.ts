/**
 * PCM plumbing for the speech fixtures: read a WAV file (what espeak-ng writes, or what a user
 * drops into a --speech folder), mix it to mono, resample it to the device's 16 kHz, and find
 * where the voice is. Runs once at startup over a few seconds of audio, so clarity beats speed.
 */

export interface Pcm {
  sampleRate: number;
  /** Mono samples in −1..1. */
  samples: Float32Array;
}

/** Parses RIFF/WAVE with PCM 8/16/24/32-bit integer or 32/64-bit float samples, any channel count. */
export function parseWav(buf: Uint8Array): Pcm {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number) => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  if (buf.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = tag(off);
    // Streamed WAVs (espeak-ng --stdout) carry a bogus length on the data chunk: clamp to the file.
    const size = Math.min(dv.getUint32(off + 4, true), buf.length - off - 8);
    const body = off + 8;
    if (id === 'fmt ') {
      let format = dv.getUint16(body, true);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (format === 0xfffe && size >= 26) format = dv.getUint16(body + 24, true);
      fmt = { format, channels: dv.getUint16(body + 2, true), rate: dv.getUint32(body + 4, true), bits: dv.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV data chunk before its fmt chunk');
      return { sampleRate: fmt.rate, samples: toMono(dv, body, size, fmt) };
    }
    off = body + size + (size & 1);
  }
  throw new Error('WAV file has no data chunk');
}

function toMono(dv: DataView, start: number, size: number, f: { format: number; channels: number; bits: number }): Float32Array {
  const bytes = f.bits / 8;
  if (f.channels < 1 || !Number.isInteger(bytes) || bytes < 1) throw new Error(`unsupported WAV layout: ${f.channels} channels of ${f.bits} bits`);
  const read = sampleReader(dv, f.format, f.bits);
  const n = Math.floor(size / (bytes * f.channels));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < f.channels; c++) sum += read(start + (i * f.channels + c) * bytes);
    out[i] = sum / f.channels;
  }
  return out;
}

function sampleReader(dv: DataView, format: number, bits: number): (o: number) => number {
  if (format === 1) {
    if (bits === 8) return (o) => (dv.getUint8(o) - 128) / 128;
    if (bits === 16) return (o) => dv.getInt16(o, true) / 32768;
    if (bits === 24) return (o) => ((dv.getUint8(o) | (dv.getUint8(o + 1) << 8) | (dv.getInt8(o + 2) << 16)) / 8388608);
    if (bits === 32) return (o) => dv.getInt32(o, true) / 2147483648;
  }
  if (format === 3 && bits === 32) return (o) => dv.getFloat32(o, true);
  if (format === 3 && bits === 64) return (o) => dv.getFloat64(o, true);
  throw new Error(`unsupported WAV sample format ${format} with ${bits} bits`);
}

/**
 * Band-limited resampling with a Blackman-windowed sinc (16 zero crossings each side), so speech
 * from 22.05 kHz espeak-ng or 44.1/48 kHz recordings does not alias into the 16 kHz stream.
 */
export function resample(pcm: Pcm, rate: number): Pcm {
  if (pcm.sampleRate === rate) return pcm;
  const ratio = rate / pcm.sampleRate;
  const fc = Math.min(1, ratio); // cutoff relative to the input Nyquist
  const half = 16 / fc;
  const src = pcm.samples;
  const n = Math.floor(src.length * ratio);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / ratio;
    const lo = Math.max(0, Math.ceil(t - half));
    const hi = Math.min(src.length - 1, Math.floor(t + half));
    let acc = 0;
    for (let k = lo; k <= hi; k++) {
      const x = k - t;
      const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / half) + 0.08 * Math.cos((2 * Math.PI * x) / half);
      const px = Math.PI * fc * x;
      acc += src[k]! * w * (x === 0 ? fc : Math.sin(px) / (Math.PI * x));
    }
    out[i] = acc;
  }
  return { sampleRate: rate, samples: out };
}

/** Cuts leading and trailing near-silence (below `threshold` absolute amplitude). */
export function trimSilence(pcm: Pcm, threshold = 0.01): Pcm {
  const s = pcm.samples;
  let a = 0;
  while (a < s.length && Math.abs(s[a]!) < threshold) a++;
  let b = s.length;
  while (b > a && Math.abs(s[b - 1]!) < threshold) b--;
  return { sampleRate: pcm.sampleRate, samples: s.subarray(a, b) };
}

/** 16-bit little-endian PCM frames of `frameSamples`, the last one zero-padded. */
export function toInt16Frames(samples: Float32Array, frameSamples: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let start = 0; start < samples.length; start += frameSamples) {
    const b = Buffer.alloc(frameSamples * 2);
    const end = Math.min(samples.length, start + frameSamples);
    for (let i = start; i < end; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32767))), (i - start) * 2);
    frames.push(b);
  }
  return frames;
}

/** RMS level of a 16-bit frame in dBFS (−Infinity for digital silence). */
export function frameDbfs(frame: Buffer): number {
  let sum = 0;
  const n = frame.length >> 1;
  for (let i = 0; i < n; i++) {
    const v = frame.readInt16LE(i * 2) / 32768;
    sum += v * v;
  }
  return 10 * Math.log10(sum / Math.max(1, n));
}
