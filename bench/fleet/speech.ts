/**
 * Spoken fixtures for talking devices: real speech (espeak-ng, or the user's own WAV files),
 * encoded once at startup exactly as the firmware encodes its microphone (protocol.md §7.1:
 * Opus, 16 kHz mono, 60 ms frames, complexity 0, VBR, DTX on), and shared by every device, so the
 * send loop only hands prebuilt buffers to the socket.
 *
 * espeak-ng output is cached as WAV in the cache dir (keyed by text, voice, speed and espeak-ng
 * version): spawning it is the slow part, and the files let a user listen to what was sent.
 * Encoding is cheap (~50 frames per utterance at complexity 0) and is redone every start.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpusModule from '@discordjs/opus';
import { encodeDownlink } from '../../actors/frontdoor/framing.js';
import { OPUS_CTL } from './opus-packet.js';
import { frameDbfs, parseWav, resample, toInt16Frames, trimSilence, type Pcm } from './pcm.js';

const { OpusEncoder } = OpusModule;
const run = promisify(execFile);

export const UPLINK_RATE = 16000;
export const UPLINK_FRAME_MS = 60;
const FRAME_SAMPLES = (UPLINK_RATE * UPLINK_FRAME_MS) / 1000;
/** Silence after the voice, sent as part of every utterance: the turn's "0.5 s of silence". */
const TAIL_MS = 500;
/** A frame quieter than this is not voice (espeak-ng's pauses sit far below it). */
const VOICED_DBFS = -45;

/** English sentences of about three seconds each at the speed used. */
export const BUILTIN_SENTENCES: readonly string[] = [
  'What is the weather like in Berlin tomorrow morning?',
  'Please set a timer for ten minutes and remind me.',
  'Tell me a short story about a friendly robot.',
  'How far away is the moon from the earth today?',
  'Turn the volume down a little and play some music.',
];
const VOICE = 'en-us';
const SPEED_WPM = 160;

export interface Utterance {
  readonly name: string;
  /** 60 ms Opus packets: the voice, then TAIL_MS of encoded silence. */
  readonly frames: readonly Buffer[];
  /** Index of the last voiced frame: sending it is the end of speech. */
  readonly lastVoiced: number;
  readonly voicedMs: number;
}

export interface SpeechSet {
  readonly source: string;
  readonly utterances: readonly Utterance[];
  /** DTX silence as the encoder emits it in steady state (1-byte frames, periodic updates); loop it. */
  readonly silence: readonly Buffer[];
}

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'xiaozhi-fleet');
}

/** `spec` is "builtin" (espeak-ng sentences) or a directory of .wav files. */
export async function loadSpeech(spec: string, cacheDir: string): Promise<SpeechSet> {
  if (spec === 'builtin' || spec === 'built-in') {
    const wavs = await espeakFixtures(cacheDir);
    return build('espeak-ng', wavs);
  }
  if (!existsSync(spec)) throw new Error(`--speech ${spec}: no such directory`);
  const files = readdirSync(spec).filter((f) => f.toLowerCase().endsWith('.wav')).sort();
  if (files.length === 0) throw new Error(`--speech ${spec}: no .wav files in it`);
  return build(spec, files.map((f) => ({ name: f, wav: readFileSync(join(spec, f)) })));
}

function build(source: string, wavs: { name: string; wav: Buffer }[]): SpeechSet {
  const utterances = wavs.map(({ name, wav }) => {
    try {
      return encodeUtterance(name, resample(parseWav(wav), UPLINK_RATE));
    } catch (e) {
      throw new Error(`speech fixture ${name}: ${(e as Error).message}`);
    }
  });
  return { source, utterances, silence: encodeSilenceLoop() };
}

function newEncoder(): InstanceType<typeof OpusEncoder> {
  const enc = new OpusEncoder(UPLINK_RATE, 1); // @discordjs/opus always uses OPUS_APPLICATION_AUDIO, like the firmware
  enc.applyEncoderCTL(OPUS_CTL.SET_COMPLEXITY, 0);
  enc.applyEncoderCTL(OPUS_CTL.SET_VBR, 1);
  enc.applyEncoderCTL(OPUS_CTL.SET_INBAND_FEC, 0);
  enc.applyEncoderCTL(OPUS_CTL.SET_DTX, 1);
  return enc;
}

/** Encodes one utterance with a fresh encoder, as a device does when its mic starts. */
export function encodeUtterance(name: string, pcm: Pcm): Utterance {
  if (pcm.sampleRate !== UPLINK_RATE) throw new Error(`expected ${UPLINK_RATE} Hz PCM, got ${pcm.sampleRate}`);
  const voice = trimSilence(pcm);
  if (voice.samples.length < FRAME_SAMPLES) throw new Error('no audible speech in it');
  const pcmFrames = toInt16Frames(voice.samples, FRAME_SAMPLES);
  let lastVoiced = 0;
  pcmFrames.forEach((f, i) => {
    if (frameDbfs(f) > VOICED_DBFS) lastVoiced = i;
  });
  const tail = Math.round(TAIL_MS / UPLINK_FRAME_MS);
  const zero = Buffer.alloc(FRAME_SAMPLES * 2);
  for (let i = 0; i < tail; i++) pcmFrames.push(zero);
  const enc = newEncoder();
  const frames = pcmFrames.map((f) => enc.encode(f));
  return { name, frames, lastVoiced, voicedMs: (lastVoiced + 1) * UPLINK_FRAME_MS };
}

/** Steady-state DTX output for digital silence, skipping the encoder's first second of fade. */
export function encodeSilenceLoop(): Buffer[] {
  const enc = newEncoder();
  const zero = Buffer.alloc(FRAME_SAMPLES * 2);
  const out: Buffer[] = [];
  for (let i = 0; i < 60; i++) {
    const p = enc.encode(zero);
    if (i >= 18) out.push(p);
  }
  return out;
}

/** The speech set with every packet framed for protocol version 2 or 3 (uplink timestamps 0: no AEC). */
export function frameSpeech(set: SpeechSet, version: 1 | 2 | 3): SpeechSet {
  if (version === 1) return set;
  const frame = (b: Buffer) => {
    const u = encodeDownlink(version, b, 0); // same header layout in both directions (protocol.md §5)
    return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  };
  return {
    source: set.source,
    silence: set.silence.map(frame),
    utterances: set.utterances.map((u) => ({ ...u, frames: u.frames.map(frame) })),
  };
}

async function espeakVersion(): Promise<string> {
  try {
    const { stdout } = await run('espeak-ng', ['--version']);
    return stdout.trim();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw new Error('espeak-ng is not installed: install it (e.g. apt-get install espeak-ng) or pass --speech <folder of .wav files>');
    }
    throw new Error(`espeak-ng --version failed: ${err.message}`);
  }
}

async function espeakFixtures(cacheDir: string): Promise<{ name: string; wav: Buffer }[]> {
  const version = await espeakVersion();
  mkdirSync(cacheDir, { recursive: true });
  return Promise.all(
    BUILTIN_SENTENCES.map(async (text) => {
      const key = createHash('sha256').update(JSON.stringify([text, VOICE, SPEED_WPM, version])).digest('hex').slice(0, 16);
      const file = join(cacheDir, `espeak-${key}.wav`);
      if (!existsSync(file)) {
        // Write beside and rename, so a concurrent run never reads half a file.
        const tmp = `${file}.${process.pid}.tmp`;
        await run('espeak-ng', ['-v', VOICE, '-s', String(SPEED_WPM), '-w', tmp, text]);
        renameSync(tmp, file);
      }
      return { name: text, wav: readFileSync(file) };
    }),
  );
}
