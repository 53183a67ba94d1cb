// Music files → mono PCM chunks (providers/media): what a listener would notice — the length and
// pitch survive, stereo folds to mono by averaging, a barge-in stops the track at once and lets go
// of the file, maxSeconds cuts, damaged files play up to the damage and then fail with a code,
// and a long file streams instead of being read whole.
//
// WAV and Ogg files are made here at test time (Ogg Opus with opusenc from opus-tools, which
// native/setup.sh installs). No MP3 encoder is installed by setup, so one small MP3 is committed:
// test/fixtures/media/sine440-stereo-antiphase.mp3 (8.5 KB), 1.0 s of a 440 Hz sine at half
// scale, 44.1 kHz stereo, L = R for the first 0.5 s and L = -R for the second; made with
//   lame -b 64 --resample 44.1 fx.wav sine440-stereo-antiphase.mp3   (LAME 3.100, joint stereo)
// Its LAME/Info header lets mpg123 trim encoder delay and padding, so it decodes to exactly 44,100
// samples.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PcmChunk } from '../../providers/contracts/audio.js';
import { DEFAULT_CHUNK_MS, openTrack } from '../../providers/media/track.js';
import { frameHeader } from '../../providers/media/mp3.js';
import { OggDemuxer, oggCrc } from '../../providers/media/ogg.js';
import { T, concatPcm, inWorker, needTools, rms } from './helpers.js';

const MP3 = fileURLToPath(new URL('../fixtures/media/sine440-stereo-antiphase.mp3', import.meta.url));

let dir: string;
before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'xz-track-')));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};

// ---------------------------------------------------------------------------------------------
// Fixture makers

interface WavSpec {
  rate: number;
  channels: number;
  bits: 8 | 16 | 24 | 32 | 64;
  float?: boolean;
  /** Use WAVE_FORMAT_EXTENSIBLE. */
  extensible?: boolean;
  /** Overrides the data chunk's declared size. */
  dataSize?: number;
  /** Bytes after the data chunk (a LIST chunk, say). */
  trailer?: Uint8Array;
  /** A chunk before fmt/data of this many bytes (cover art in a LIST). */
  junkBefore?: number;
}

/** A WAV whose sample (frame i, channel c) is sample(i, c) in [-1, 1]. */
function wav(spec: WavSpec, frames: number, sample: (i: number, c: number) => number): Buffer {
  const bytes = spec.bits / 8;
  const data = Buffer.alloc(frames * spec.channels * bytes);
  let at = 0;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < spec.channels; c++, at += bytes) {
      const x = Math.max(-1, Math.min(1, sample(i, c)));
      if (spec.float) {
        if (spec.bits === 32) data.writeFloatLE(x, at);
        else data.writeDoubleLE(x, at);
      } else if (spec.bits === 8) data.writeUInt8(Math.round(x * 127) + 128, at);
      else if (spec.bits === 16) data.writeInt16LE(Math.round(x * 32767), at);
      else if (spec.bits === 24) data.writeIntLE(Math.round(x * 8_388_607), at, 3);
      else data.writeInt32LE(Math.round(x * 2_147_483_647), at);
    }
  }
  const tag = spec.float ? 3 : 1;
  const fmt = Buffer.alloc(spec.extensible ? 48 : 24);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(spec.extensible ? 40 : 16, 4);
  fmt.writeUInt16LE(spec.extensible ? 0xfffe : tag, 8);
  fmt.writeUInt16LE(spec.channels, 10);
  fmt.writeUInt32LE(spec.rate, 12);
  fmt.writeUInt32LE(spec.rate * spec.channels * bytes, 16);
  fmt.writeUInt16LE(spec.channels * bytes, 20);
  fmt.writeUInt16LE(spec.bits, 22);
  if (spec.extensible) {
    fmt.writeUInt16LE(22, 24); // cbSize
    fmt.writeUInt16LE(spec.bits, 26); // valid bits
    fmt.writeUInt32LE(0, 28); // channel mask
    fmt.writeUInt16LE(tag, 32); // sub-format GUID, first two bytes
  }
  const chunks: Buffer[] = [fmt];
  if (spec.junkBefore) {
    const j = Buffer.alloc(8 + spec.junkBefore);
    j.write('LIST', 0, 'latin1');
    j.writeUInt32LE(spec.junkBefore, 4);
    chunks.unshift(j);
  }
  const dh = Buffer.alloc(8);
  dh.write('data', 0, 'latin1');
  dh.writeUInt32LE(spec.dataSize ?? data.length, 4);
  chunks.push(dh, data);
  if (spec.trailer) chunks.push(Buffer.from(spec.trailer));
  const body = Buffer.concat(chunks);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(body.length + 4, 4);
  riff.write('WAVE', 8, 'latin1');
  return Buffer.concat([riff, body]);
}

const sine = (hz: number, rate: number, amp = 0.5) => (i: number) => amp * Math.sin((2 * Math.PI * hz * i) / rate);

/** One Ogg page carrying `segments` (lacing values) over `body`, with a valid CRC. */
function oggPage(o: { type: number; granule: number; serial: number; seq: number; lacing: number[]; body: Uint8Array }): Buffer {
  const h = Buffer.alloc(27 + o.lacing.length);
  h.write('OggS', 0, 'latin1');
  h[5] = o.type;
  h.writeUInt32LE(o.granule >>> 0, 6);
  h.writeInt32LE(Math.floor(o.granule / 2 ** 32), 10);
  h.writeUInt32LE(o.serial, 14);
  h.writeUInt32LE(o.seq, 18);
  h[26] = o.lacing.length;
  o.lacing.forEach((l, i) => (h[27 + i] = l));
  const page = Buffer.concat([h, o.body]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

/** Lacing values for one whole packet of `n` bytes. */
const lace = (n: number): number[] => [...Array<number>(Math.floor(n / 255)).fill(255), n % 255];

/** The opening of an Ogg Vorbis file: an identification header page, as oggenc writes it. */
function vorbisOgg(): Buffer {
  const id = Buffer.alloc(30);
  id.write('\x01vorbis', 0, 'latin1');
  id[11] = 2; // channels
  id.writeUInt32LE(44_100, 12);
  return oggPage({ type: 2, granule: 0, serial: 7, seq: 0, lacing: lace(id.length), body: id });
}

// ---------------------------------------------------------------------------------------------
// Measuring what a listener hears

interface Played {
  chunks: PcmChunk[];
  pcm: Int16Array;
  rate: number;
  error: (Error & { code?: string }) | undefined;
}

async function play(path: string, opts: { maxSeconds?: number; chunkMs?: number; signal?: AbortSignal } = {}): Promise<Played> {
  const chunks: PcmChunk[] = [];
  let error: Played['error'];
  try {
    for await (const c of openTrack(path, { signal: opts.signal ?? new AbortController().signal, ...opts })) chunks.push(c);
  } catch (e) {
    error = e as Played['error'];
  }
  const rates = new Set(chunks.map((c) => c.sampleRate));
  assert.ok(rates.size <= 1, `one rate per track, got ${[...rates].join(', ')}`);
  return { chunks, pcm: concatPcm(chunks.map((c) => c.pcm)), rate: chunks[0]?.sampleRate ?? 0, error };
}

/** The pitch of a steady tone, from its zero crossings. */
function pitch(pcm: Int16Array, rate: number): number {
  let crossings = 0;
  for (let i = 1; i < pcm.length; i++) if (pcm[i - 1]! < 0 !== pcm[i]! < 0) crossings++;
  return crossings / 2 / (pcm.length / rate);
}

function assertOwned(chunks: readonly PcmChunk[]): void {
  const buffers = new Set<ArrayBufferLike>();
  for (const c of chunks) {
    assert.equal(c.pcm.byteOffset, 0, 'chunk starts its buffer');
    assert.equal(c.pcm.buffer.byteLength, c.pcm.byteLength, 'chunk is its whole buffer (transferable as is)');
    assert.ok(!buffers.has(c.pcm.buffer), 'no two chunks share a buffer');
    buffers.add(c.pcm.buffer);
  }
}

/** File descriptors of this process open on `path` (Linux; undefined elsewhere). */
function fdsOn(path: string): number | undefined {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fd');
  } catch {
    return undefined;
  }
  let n = 0;
  for (const fd of names) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

async function until(cond: () => boolean, ms: number): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) break;
    await new Promise((r) => setTimeout(r, 1));
  }
  return performance.now() - t0;
}

/** Counts reads through every FileHandle while `fn` runs. */
async function countingReads<R>(fn: (reads: number[]) => Promise<R>): Promise<R> {
  const probe = await open(MP3, 'r');
  const proto = Object.getPrototypeOf(probe) as { read: (...a: unknown[]) => Promise<{ bytesRead: number }> };
  await probe.close();
  const orig = proto.read;
  const reads: number[] = [];
  proto.read = async function (this: unknown, ...a: unknown[]) {
    const r = await orig.apply(this, a);
    reads.push(r.bytesRead);
    return r;
  };
  try {
    return await fn(reads);
  } finally {
    proto.read = orig;
  }
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------------------------------------
// WAV

test('WAV: a stereo 44.1 kHz sine plays whole, at its rate and pitch, in owned ~250 ms chunks', T, async () => {
  const rate = 44_100;
  const s = sine(440, rate);
  const path = file('stereo.wav', wav({ rate, channels: 2, bits: 16 }, 2 * rate, (i, c) => (c === 0 ? s(i) : s(i) * 0.5)));
  const r = await play(path);
  assert.equal(r.error, undefined);
  assert.equal(r.rate, rate);
  assert.equal(r.pcm.length, 2 * rate, 'exactly 2.000 s');
  assert.ok(Math.abs(pitch(r.pcm, rate) - 440) < 2, `pitch ${pitch(r.pcm, rate)}`);
  // averaged: (x + x/2) / 2, in 16-bit steps
  for (const i of [100, 1234, 50_000]) assert.ok(Math.abs(r.pcm[i]! - Math.round(s(i) * 0.75 * 32767)) <= 1);
  const size = Math.round((rate * DEFAULT_CHUNK_MS) / 1000);
  assert.ok(DEFAULT_CHUNK_MS >= 200 && DEFAULT_CHUNK_MS <= 500);
  assert.deepEqual(
    r.chunks.slice(0, -1).map((c) => c.pcm.length),
    r.chunks.slice(0, -1).map(() => size),
  );
  assertOwned(r.chunks);
  const shorter = await play(path, { chunkMs: 100 });
  assert.ok(shorter.chunks.every((c, i) => c.pcm.length === 4410 || i === shorter.chunks.length - 1));
});

test('WAV: stereo with L = +x and R = -x averages to silence (16-bit and float)', T, async () => {
  const rate = 48_000;
  for (const spec of [{ bits: 16 as const }, { bits: 32 as const, float: true }]) {
    const s = sine(1000, rate, 0.9);
    const r = await play(file(`anti-${spec.bits}.wav`, wav({ rate, channels: 2, ...spec }, rate, (i, c) => (c === 0 ? s(i) : -s(i)))));
    assert.equal(r.error, undefined);
    assert.equal(r.pcm.length, rate);
    assert.equal(rms(r.pcm), 0, JSON.stringify(spec));
  }
});

test('WAV: 8-, 24- and 32-bit integer and 32/64-bit float, extensible, many channels: the same tone', T, async () => {
  const rate = 22_050;
  const s = sine(300, rate, 0.6);
  const ref = (await play(file('ref.wav', wav({ rate, channels: 1, bits: 16 }, rate, s)))).pcm;
  const specs: (Omit<WavSpec, 'rate'> & { tol: number })[] = [
    { channels: 1, bits: 8, tol: 400 }, // 8-bit: steps of 256, and ×127 is not quite ×32767/256
    { channels: 2, bits: 24, tol: 1 },
    { channels: 3, bits: 32, tol: 1 },
    { channels: 2, bits: 32, float: true, tol: 1 },
    { channels: 1, bits: 64, float: true, tol: 1 },
    { channels: 6, bits: 24, extensible: true, tol: 1 },
    { channels: 2, bits: 32, float: true, extensible: true, tol: 1 },
  ];
  for (const { tol, ...spec } of specs) {
    const r = await play(file(`f-${spec.bits}-${spec.channels}-${spec.float ? 'f' : 'i'}-${spec.extensible ? 'x' : ''}.wav`, wav({ rate, ...spec }, rate, s)));
    const what = JSON.stringify(spec);
    assert.equal(r.error, undefined, what);
    assert.equal(r.rate, rate, what);
    assert.equal(r.pcm.length, rate, what);
    let worst = 0;
    for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(r.pcm[i]! - ref[i]!));
    assert.ok(worst <= tol, `${what}: off by ${worst}`);
  }
});

test('WAV: chunks after data are not played, chunks before it are skipped, a placeholder size plays to the end', T, async () => {
  const rate = 16_000;
  const list = Buffer.concat([Buffer.from('LIST', 'latin1'), Buffer.from([200, 0, 0, 0]), Buffer.alloc(200, 0x7f)]);
  const r = await play(file('trailer.wav', wav({ rate, channels: 1, bits: 16, trailer: list, junkBefore: 300_000 }, rate, sine(500, rate))));
  assert.equal(r.error, undefined);
  assert.equal(r.pcm.length, rate, 'the LIST after data is not read as samples');
  const open = await play(file('placeholder.wav', wav({ rate, channels: 1, bits: 16, dataSize: 0xffff_ffff }, rate, sine(500, rate))));
  assert.equal(open.error, undefined);
  assert.equal(open.pcm.length, rate);
});

test('WAV: a truncated file plays what is there, then fails with XZ_ERR_MEDIA_CORRUPT naming it', T, async () => {
  const rate = 44_100;
  const full = wav({ rate, channels: 2, bits: 16 }, 2 * rate, sine(440, rate));
  const path = file('cut.wav', full.subarray(0, 44 + 4 * rate + 3)); // 1 s and a split frame
  const r = await play(path);
  assert.equal(r.pcm.length, rate);
  assert.equal(r.error?.code, 'XZ_ERR_MEDIA_CORRUPT');
  assert.match(r.error!.message, /cut\.wav/);
  assert.ok(Math.abs(pitch(r.pcm, rate) - 440) < 2);
});

// ---------------------------------------------------------------------------------------------
// MP3

test('MP3: stereo 44.1 kHz plays its exact length and pitch; anti-phase stereo averages to silence', T, async () => {
  const r = await play(MP3);
  assert.equal(r.error, undefined);
  assert.equal(r.rate, 44_100);
  assert.equal(r.pcm.length, 44_100, 'gapless: encoder delay and padding trimmed');
  const inPhase = r.pcm.subarray(2000, 20_000);
  const antiPhase = r.pcm.subarray(24_000, 42_000);
  assert.ok(Math.abs(pitch(inPhase, 44_100) - 440) < 4.4, `pitch ${pitch(inPhase, 44_100)}`);
  assert.ok(rms(inPhase) > 0.8 * (0.5 * 32767) / Math.SQRT2, `level ${rms(inPhase)}`);
  assert.ok(rms(antiPhase) < 30, `anti-phase half is silent: rms ${rms(antiPhase)}`);
  assertOwned(r.chunks);
  assert.ok(r.chunks.slice(0, -1).every((c) => c.pcm.length === Math.round((44_100 * DEFAULT_CHUNK_MS) / 1000)));
});

test('MP3: a cut file plays up to the cut, then XZ_ERR_MEDIA_CORRUPT (mid-frame and on a frame boundary)', T, async () => {
  const bytes = readFileSync(MP3);
  const r = await play(file('cut-mid.mp3', bytes.subarray(0, Math.floor(bytes.length * 0.6) + 7)));
  assert.equal(r.error?.code, 'XZ_ERR_MEDIA_CORRUPT');
  assert.match(r.error!.message, /cut-mid\.mp3/);
  assert.ok(r.pcm.length > 0.45 * 44_100 && r.pcm.length < 0.7 * 44_100, `${r.pcm.length} samples`);
  assert.ok(Math.abs(pitch(r.pcm.subarray(2000, 20_000), 44_100) - 440) < 4.4);
  // Cut exactly between frames: only the Info header's frame count can tell.
  const bounds: number[] = [];
  for (let at = 0; at < bytes.length; ) {
    const h = frameHeader(bytes, at);
    if (!h) break;
    bounds.push(at);
    at += h.length;
  }
  const b = await play(file('cut-frame.mp3', bytes.subarray(0, bounds[20])));
  assert.equal(b.error?.code, 'XZ_ERR_MEDIA_CORRUPT');
  assert.match(b.error!.message, /frames present/);
  assert.ok(b.pcm.length > 0);
});

test('MP3: a large ID3v2 tag in front (cover art) and an ID3v1 tag behind change nothing', T, async () => {
  const bytes = readFileSync(MP3);
  const tagBody = 300_000; // beyond the first read
  const id3 = Buffer.alloc(10 + tagBody);
  id3.write('ID3', 0, 'latin1');
  id3[3] = 3;
  [21, 14, 7, 0].forEach((shift, i) => (id3[6 + i] = (tagBody >> shift) & 0x7f));
  id3.fill(0xff, 10, 2000); // frame-sync-looking bytes inside the tag must not be taken for audio
  const v1 = Buffer.alloc(128, 0);
  v1.write('TAG', 0, 'latin1');
  v1[40] = 0xff; // a stray sync pattern in the title
  v1[41] = 0xfb;
  v1[42] = 0x90;
  const r = await play(file('tagged.mp3', Buffer.concat([id3, bytes, v1])));
  assert.equal(r.error, undefined);
  assert.deepEqual(r.pcm, (await play(MP3)).pcm);
});

// ---------------------------------------------------------------------------------------------
// Ogg Opus

function opusenc(wavPath: string, out: string, args: string[] = []): string {
  const p = spawnSync('opusenc', ['--quiet', ...args, wavPath, out]);
  assert.equal(p.status, 0, String(p.stderr));
  return out;
}

test('Ogg Opus: stereo 44.1 kHz → 48 kHz mono of the exact length (pre-skip and end trim) and pitch', T, async (t) => {
  if (!needTools(t, 'opusenc')) return;
  const rate = 44_100;
  const s = sine(440, rate);
  const src = file('o.wav', wav({ rate, channels: 2, bits: 16 }, 2 * rate, s));
  const r = await play(opusenc(src, join(dir, 'o.opus')));
  assert.equal(r.error, undefined);
  assert.equal(r.rate, 48_000);
  assert.equal(r.pcm.length, 96_000, 'exactly 2.000 s');
  assert.ok(Math.abs(pitch(r.pcm.subarray(4800), 48_000) - 440) < 2);
  assert.ok(Math.abs(rms(r.pcm.subarray(4800, 90_000)) - (0.5 * 32767) / Math.SQRT2) < 1000);
  assertOwned(r.chunks);

  const anti = file('oa.wav', wav({ rate, channels: 2, bits: 16 }, rate, (i, c) => (c === 0 ? s(i) : -s(i))));
  const a = await play(opusenc(anti, join(dir, 'oa.opus')));
  assert.ok(rms(a.pcm) < 0.02 * rms(r.pcm), `anti-phase: rms ${rms(a.pcm)}`);

  // 6 channels (mapping family 1) and mono at 16 kHz; cover art in OpusTags is skipped
  const six = file('six.wav', wav({ rate: 48_000, channels: 6, bits: 16 }, 48_000, sine(440, 48_000)));
  const m = await play(opusenc(six, join(dir, 'six.opus')));
  assert.equal(m.error, undefined);
  assert.equal(m.pcm.length, 48_000);
  assert.ok(Math.abs(pitch(m.pcm.subarray(4800), 48_000) - 440) < 2);
  const art = file('cover.png', Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(150_000, 7)]));
  const mono = file('m16.wav', wav({ rate: 16_000, channels: 1, bits: 16 }, 16_000, sine(300, 16_000)));
  const c = await play(opusenc(mono, join(dir, 'm16.opus'), ['--picture', art]));
  assert.equal(c.error, undefined);
  assert.equal(c.pcm.length, 48_000);

  // a chained file (one stream after another) plays both, each with its own header and pre-skip
  const chained = file('chained.opus', Buffer.concat([readFileSync(join(dir, 'o.opus')), readFileSync(join(dir, 'm16.opus'))]));
  const both = await play(chained);
  assert.equal(both.error, undefined);
  assert.equal(both.pcm.length, 96_000 + 48_000);
});

test('Ogg Opus: a cut or damaged file plays up to the damage, then XZ_ERR_MEDIA_CORRUPT', T, async (t) => {
  if (!needTools(t, 'opusenc')) return;
  const src = file('d.wav', wav({ rate: 48_000, channels: 1, bits: 16 }, 3 * 48_000, sine(440, 48_000)));
  const bytes = readFileSync(opusenc(src, join(dir, 'd.opus'), ['--max-delay', '100']));
  const cut = await play(file('cut.opus', bytes.subarray(0, Math.floor(bytes.length / 2))));
  assert.equal(cut.error?.code, 'XZ_ERR_MEDIA_CORRUPT');
  assert.match(cut.error!.message, /cut\.opus/);
  assert.ok(cut.pcm.length > 1.0 * 48_000 && cut.pcm.length < 1.6 * 48_000, `${cut.pcm.length} samples`);
  const bad = Buffer.from(bytes);
  bad[Math.floor(bad.length * 0.7)]! ^= 0x55;
  const damaged = await play(file('damaged.opus', bad));
  assert.equal(damaged.error?.code, 'XZ_ERR_MEDIA_CORRUPT');
  assert.match(damaged.error!.message, /CRC/);
  assert.ok(damaged.pcm.length > 1.5 * 48_000 && damaged.pcm.length < 2.4 * 48_000, `${damaged.pcm.length} samples`);
});

test('Ogg demuxer: packets across pages, 255-byte multiples, other streams skipped, any split', T, () => {
  const p1 = Buffer.alloc(19, 1);
  const big = Buffer.alloc(700, 2); // spans three pages
  const even = Buffer.alloc(510, 3); // a multiple of 255: ends with a 0 lacing value
  const small = Buffer.from([4, 4, 4]);
  const bigLace = lace(700); // [255, 255, 190]
  const pages = Buffer.concat([
    oggPage({ type: 2, granule: 0, serial: 1, seq: 0, lacing: lace(19), body: p1 }),
    oggPage({ type: 2, granule: 0, serial: 9, seq: 0, lacing: [5], body: Buffer.alloc(5, 9) }), // another stream
    oggPage({ type: 0, granule: -1, serial: 1, seq: 1, lacing: [255], body: big.subarray(0, 255) }),
    oggPage({ type: 1, granule: -1, serial: 1, seq: 2, lacing: [255], body: big.subarray(255, 510) }),
    oggPage({ type: 0, granule: 0, serial: 9, seq: 1, lacing: [5], body: Buffer.alloc(5, 9) }),
    oggPage({ type: 1, granule: 960, serial: 1, seq: 3, lacing: [bigLace[2]!, ...lace(510)], body: Buffer.concat([big.subarray(510), even]) }),
    oggPage({ type: 4, granule: 1920, serial: 1, seq: 4, lacing: lace(3), body: small }),
  ]);
  for (const step of [1, 7, 27, 300, pages.length]) {
    const d = new OggDemuxer({ maxPacket: 600 });
    const got = [];
    for (let at = 0; at < pages.length; at += step) got.push(...d.push(pages.subarray(at, at + step)));
    assert.deepEqual(
      got.map((p) => [p.size, p.data === undefined ? 'dropped' : p.data[0], p.serial, p.bos, p.granule, p.eos]),
      [
        [19, 1, 1, true, 0, false],
        [700, 'dropped', 1, false, 960, false], // over maxPacket: counted, not kept
        [510, 3, 1, false, 960, false],
        [3, 4, 1, false, 1920, true],
      ],
      `step ${step}`,
    );
    assert.ok(d.ended);
    assert.equal(d.pendingBytes, 0);
  }
});

// ---------------------------------------------------------------------------------------------
// What is not played

test('unsupported, missing and unreadable files fail with coded errors naming the file', T, async () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['song.ogg', vorbisOgg(), /Vorbis/],
    ['song.opus', vorbisOgg(), /Vorbis/], // the extension says Opus; the bytes say otherwise
    ['lyrics.mp3', Buffer.from('These are the words of the song, not the song.\n'.repeat(20)), /text/],
    ['song.flac.mp3', Buffer.concat([Buffer.from('fLaC', 'latin1'), Buffer.alloc(100)]), /FLAC/],
    ['empty.wav', Buffer.alloc(0), /empty/],
    ['noise.wav', Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 251)), /unrecognised/],
    ['alaw.wav', (() => {
      const w = wav({ rate: 8000, channels: 1, bits: 8 }, 100, () => 0);
      w.writeUInt16LE(6, 20); // format tag: A-law
      return w;
    })(), /A-law/],
  ];
  for (const [name, bytes, why] of cases) {
    const r = await play(file(name, bytes));
    assert.equal(r.error?.code, 'XZ_ERR_MEDIA_UNSUPPORTED', name);
    assert.ok(r.error!.message.includes(name), `${name}: ${r.error!.message}`);
    assert.match(r.error!.message, why);
    assert.equal(r.chunks.length, 0);
  }
  const missing = await play(join(dir, 'no-such-song.mp3'));
  assert.equal(missing.error?.code, 'XZ_ERR_MEDIA_NOT_FOUND');
  assert.match(missing.error!.message, /no-such-song\.mp3/);
  mkdirSync(join(dir, 'album.mp3'));
  const folder = await play(join(dir, 'album.mp3'));
  assert.equal(folder.error?.code, 'XZ_ERR_MEDIA_UNREADABLE');
  assert.equal(fdsOn(join(dir, 'album.mp3')) ?? 0, 0, 'closed after the failure');
});

// ---------------------------------------------------------------------------------------------
// Control: maxSeconds, abort, bounded reads, worker threads

test('maxSeconds cuts each format at exactly that length and stops reading', T, async () => {
  const rate = 44_100;
  const long = file('long-cap.wav', wav({ rate, channels: 2, bits: 16 }, 20 * rate, sine(440, rate)));
  await countingReads(async (reads) => {
    const r = await play(long, { maxSeconds: 0.5 });
    assert.equal(r.error, undefined);
    assert.equal(r.pcm.length, rate / 2);
    assert.ok(sum(reads) < 256 * 1024, `read ${sum(reads)} bytes of ${20 * rate * 4}`);
  });
  const m = await play(MP3, { maxSeconds: 0.3 });
  assert.equal(m.pcm.length, 13_230);
  assert.equal((await play(MP3, { maxSeconds: 0 })).pcm.length, 0);
  assert.equal((await play(MP3, { maxSeconds: 5 })).pcm.length, 44_100, 'a cap beyond the end changes nothing');
});

test('maxSeconds on Ogg Opus', T, async (t) => {
  if (!needTools(t, 'opusenc')) return;
  const src = file('cap.wav', wav({ rate: 24_000, channels: 1, bits: 16 }, 48_000, sine(440, 24_000)));
  const r = await play(opusenc(src, join(dir, 'cap.opus')), { maxSeconds: 1.25 });
  assert.equal(r.error, undefined);
  assert.equal(r.pcm.length, 60_000);
});

test('abort stops the track at once and lets go of the file, even if the reader never pulls again', T, async () => {
  const rate = 44_100;
  const path = file('abort.wav', wav({ rate, channels: 2, bits: 16 }, 30 * rate, sine(440, rate)));
  for (const pullAgain of [true, false]) {
    const ac = new AbortController();
    const it = openTrack(path, { signal: ac.signal })[Symbol.asyncIterator]();
    assert.equal((await it.next()).done, false);
    assert.equal(fdsOn(path) ?? 1, 1, 'file open while playing');
    ac.abort();
    if (pullAgain) {
      const t0 = performance.now();
      await assert.rejects(it.next(), { code: 'XZ_ERR_ABORTED' });
      assert.ok(performance.now() - t0 < 50, `stopped after ${performance.now() - t0} ms`);
      assert.equal(fdsOn(path) ?? 0, 0, 'closed once the iterator ends');
      assert.equal((await it.next()).done, true);
    } else {
      // The reader is sitting on its chunk (a pacer does): the abort alone releases the file.
      const waited = await until(() => fdsOn(path) === 0, 200);
      assert.equal(fdsOn(path) ?? 0, 0);
      assert.ok(waited < 50, `closed after ${waited} ms`);
      await it.return?.();
    }
  }
  // aborted before it starts: nothing opened, nothing played
  const ac = new AbortController();
  ac.abort();
  const r = await play(path, { signal: ac.signal });
  assert.equal(r.error?.code, 'XZ_ERR_ABORTED');
  assert.equal(r.chunks.length, 0);
  // an MP3 and an Opus decoder are freed on abort too: the next track still decodes
  const ac2 = new AbortController();
  const it2 = openTrack(MP3, { signal: ac2.signal })[Symbol.asyncIterator]();
  await it2.next();
  ac2.abort();
  await assert.rejects(it2.next(), { code: 'XZ_ERR_ABORTED' });
  assert.equal((await play(MP3)).pcm.length, 44_100);
});

test('breaking out of the loop closes the file', T, async () => {
  const path = file('break.wav', wav({ rate: 16_000, channels: 1, bits: 16 }, 10 * 16_000, sine(440, 16_000)));
  for await (const c of openTrack(path, { signal: new AbortController().signal })) {
    assert.ok(c.pcm.length > 0);
    break;
  }
  assert.equal(fdsOn(path) ?? 0, 0);
});

test('a long file streams: the first chunk comes after the first read, and reads stay 64 KiB', T, async (t) => {
  const rate = 44_100;
  const path = file('sixty.wav', wav({ rate, channels: 2, bits: 16 }, 60 * rate, sine(440, rate))); // 10.6 MB
  const paths = [path];
  if (needTools(t, 'opusenc')) {
    const long = file('sixty-src.wav', wav({ rate: 48_000, channels: 2, bits: 16 }, 60 * 48_000, sine(440, 48_000)));
    paths.push(opusenc(long, join(dir, 'sixty.opus'), ['--bitrate', '256']));
  }
  for (const p of paths) {
    await countingReads(async (reads) => {
      let first = -1;
      let n = 0;
      let total = 0;
      for await (const c of openTrack(p, { signal: new AbortController().signal })) {
        if (first < 0) first = reads.length;
        n++;
        total += c.pcm.length;
      }
      assert.equal(first, 1, `${p}: first chunk after ${first} reads`);
      assert.ok(Math.max(...reads) <= 64 * 1024);
      assert.ok(n > 200, 'streamed in many chunks');
      assert.ok(Math.abs(total / (p.endsWith('.opus') ? 48_000 : rate) - 60) < 0.001, `${p}: ${total} samples`);
    });
  }
});

test('plays inside a worker thread (wasm decoders per thread, no process-wide state)', T, async (t) => {
  const files = [MP3, file('w.wav', wav({ rate: 32_000, channels: 2, bits: 24 }, 32_000, sine(440, 32_000)))];
  if (needTools(t, 'opusenc')) files.push(opusenc(files[1]!, join(dir, 'w.opus')));
  const body = `
    const { isMainThread } = await import('node:worker_threads');
    const { openTrack } = await load('providers/media/track.ts');
    // two tracks at once in one thread: decoders must not share state
    const one = async (f) => {
      let n = 0, rate = 0;
      for await (const c of openTrack(f, { signal: new AbortController().signal })) { n += c.pcm.length; rate = c.sampleRate; }
      return [n, rate];
    };
    const out = await Promise.all(workerData.files.flatMap((f) => [one(f), one(f)]));
    return { main: isMainThread, out };
  `;
  const r = await inWorker<{ main: boolean; out: [number, number][] }>(body, { files });
  assert.equal(r.main, false);
  const want: [number, number][] = [[44_100, 44_100], [32_000, 32_000], [48_000, 48_000]].slice(0, files.length) as [number, number][];
  assert.deepEqual(r.out, want.flatMap((w) => [w, w]));
});
