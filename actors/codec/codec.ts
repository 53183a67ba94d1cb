/**
 * The codec actor: one per talking session, pinned to a `codec` worker.
 *
 *   codec.decode ─▶ Opus decoder (16 kHz) ─▶ listen.pcm, one per packet (a pipelined send costs
 *                   ~2 µs against ~23 µs of decode: batching would only add latency)
 *   codec.encode ─▶ resampler (TTS rate → downlink rate) ─▶ remainder + chunk ─▶ exact frames
 *                   ─▶ Opus encoder ─▶ one session.frames per chunk
 *
 * Everything here is synchronous CPU work, so one message runs to completion before the next.
 */
import { defineActor, type ActorContext } from '../../runtime/actor.js';
import type { Envelope } from '../../runtime/envelope.js';
import { E, XzError } from '../../runtime/errors.js';
import { nativeCall } from '../../runtime/native-gate.js';
import { createLogger, type Logger, type RootLogger } from '../../runtime/log.js';
import { DTX_MAX_BYTES, createDecoder, createEncoder, type EncoderOptions, type OpusDecoder, type OpusEncoder } from '../../native/opus.js';
import { createResampler, type Resampler } from '../../native/resample.js';
import { energyEnvelope } from '../listen/echo.js';
import { CE, codecError } from './errors.js';
import type { CodecIn, CodecInit, CodecOut, CodecStats } from './messages.js';

const RATES = new Set([8000, 16000, 24000, 48000]);
const FRAME_MS = new Set([20, 40, 60, 120]);
/** A garbage packet is logged on the first occurrence and then once per this many. */
const LOG_EVERY = 100;

let logger: RootLogger | undefined;
// Created on first use: a healthy codec worker never logs.
const log = (): Logger => (logger ??= createLogger({ level: 'info', file: null, console: true, name: 'codec' }));

/** Module shutdown: writes what the logger buffered. */
export async function closeCodecLog(): Promise<void> {
  await logger?.close();
  logger = undefined;
}

interface State {
  init: CodecInit;
  decoder: OpusDecoder;
  /** Made on the first encode: a session that never hears a reply needs none. */
  encoder: OpusEncoder | null;
  encoderOpts: EncoderOptions;
  frameSamples: number;
  /** Resampler of the sentence in progress, from its TTS rate; null when the rate matches. */
  resampler: Resampler | null;
  /** Partial frame waiting for the next chunk of `sentence`. */
  rem: Int16Array;
  remLen: number;
  sentence: number;
  turn: number;
  /** This turn's first frame went out: later frames go in one batch per chunk. */
  turnAudio: boolean;
  stats: CodecStats;
}

function checkInit(init: CodecInit): EncoderOptions {
  const d = init?.downlink;
  if (!d || !RATES.has(d.sampleRate) || !FRAME_MS.has(d.frameMs) || !Number.isInteger(d.complexity) || d.complexity < 0 || d.complexity > 10) {
    throw new XzError(CE.XZ_ERR_CODEC_CONFIG, `codec downlink ${JSON.stringify(d)}: need rate 8000/16000/24000/48000, frame 20/40/60/120 ms, complexity 0–10`);
  }
  return {
    sampleRate: d.sampleRate as EncoderOptions['sampleRate'],
    frameMs: d.frameMs as EncoderOptions['frameMs'],
    complexity: d.complexity,
    ...(d.bitrate === undefined ? {} : { bitrate: d.bitrate }),
  };
}

function decode(s: State, opus: Uint8Array, seq: number, env: Envelope, ctx: ActorContext): void {
  const t0 = performance.now();
  let pcm: Int16Array;
  try {
    pcm = nativeCall(() => s.decoder.decode(opus));
  } catch (e) {
    s.stats.decodeUs += (performance.now() - t0) * 1000;
    const n = ++s.stats.decodeErrors;
    // A device sending garbage must not flood the log: the first, then one per LOG_EVERY.
    if (n % LOG_EVERY === 1) {
      const err = codecError(e);
      log().warn({ session: s.init.session, code: err.code, bytes: opus.length, seq, errors: n }, `skipping undecodable uplink packet: ${err.message}`);
    }
    return;
  }
  s.stats.decodeUs += (performance.now() - t0) * 1000;
  s.stats.decoded++;
  if (opus.length <= DTX_MAX_BYTES) s.stats.dtx++;
  if (s.init.listenAddr === null) return;
  const out: CodecOut = { t: 'listen.pcm', pcm, seq };
  ctx.send(s.init.listenAddr, out, { lane: env.lane, turn: env.turn, transfer: [pcm.buffer as ArrayBuffer] });
}

/** Drops a sentence left unfinished (its `last` never came): stale audio must not leak on. */
function dropPartial(s: State): void {
  s.stats.droppedSamples += s.remLen;
  s.remLen = 0;
  s.resampler?.reset();
  s.resampler = null;
  s.sentence = -1;
}

function encoderOf(s: State): OpusEncoder {
  if (!s.encoder) {
    try {
      s.encoder = createEncoder(s.encoderOpts);
    } catch (e) {
      throw codecError(e);
    }
  }
  return s.encoder;
}

/** PCM at the downlink rate for this chunk (and, on `last`, whatever the resampler held back). */
function toDownlinkRate(s: State, pcm: Int16Array, rate: number, last: boolean): Int16Array[] {
  const parts: Int16Array[] = [];
  if (s.resampler && s.resampler.from !== rate) {
    // The TTS changed rate mid-sentence (a fallback provider): finish the old stream first.
    parts.push(s.resampler.flush());
    s.resampler = null;
  }
  if (rate === s.encoderOpts.sampleRate) parts.push(pcm);
  else {
    if (!Number.isInteger(rate) || rate < 4000 || rate > 192_000) throw new XzError(CE.XZ_ERR_CODEC_CONFIG, `PCM at ${rate} Hz cannot be resampled`);
    s.resampler ??= createResampler(rate, s.encoderOpts.sampleRate);
    parts.push(s.resampler.push(pcm));
  }
  if (last && s.resampler) {
    parts.push(s.resampler.flush());
    s.resampler = null;
  }
  return parts;
}

/**
 * A big chunk (a fast TTS hands over seconds at once) is encoded in slices of ENCODE_SLICE frames
 * with a turn of the event loop between them, so the worker's other sessions — whose first frame
 * may be waiting — are not stuck behind it.
 */
const ENCODE_SLICE = 4;

async function encode(s: State, m: Extract<CodecIn, { t: 'codec.encode' }>, env: Envelope, ctx: ActorContext): Promise<void> {
  const signal = ctx.signal();
  let t0 = performance.now();
  if (env.turn > s.turn) {
    // A new turn's first audio: whatever the old turn left is stale even if no reset came.
    if (s.remLen > 0 || s.resampler) dropPartial(s);
    s.encoder?.reset();
    s.turn = env.turn;
    s.turnAudio = false;
  }
  if (m.sentence !== s.sentence) {
    if (s.remLen > 0 || s.resampler) dropPartial(s);
    s.sentence = m.sentence;
  }
  const enc = encoderOf(s);
  // What the device is about to play, as a compact energy envelope, straight to the listen actor,
  // before any of its frames: without echo cancellation on the device, the echo detector needs it
  // to tell the user talking over the reply from the device hearing itself.
  const echoRef = s.init.listenAddr && m.pcm.length > 0 ? energyEnvelope(m.pcm, m.sampleRate) : undefined;
  if (echoRef && echoRef.length > 0) ctx.send(s.init.listenAddr!, { t: 'listen.playback', playing: true, envelope: echoRef }, { turn: env.turn, transfer: [echoRef.buffer as ArrayBuffer] });
  const pcm = cutFrames(s, m);
  let frames: Uint8Array[] = [];
  const send = (last: boolean) => {
    s.stats.batches++;
    s.stats.encoded += frames.length;
    const out: CodecOut = { t: 'session.frames', frames, sentence: m.sentence, last, durationMs: frames.length * s.encoderOpts.frameMs };
    ctx.send(s.init.sessionAddr, out, { turn: env.turn, transfer: frames.map((f) => f.buffer as ArrayBuffer) });
    frames = [];
  };
  for (let i = 0; i < pcm.length; i++) {
    if (i > 0 && i % ENCODE_SLICE === 0) {
      send(false);
      s.stats.encodeUs += (performance.now() - t0) * 1000;
      await new Promise((r) => setImmediate(r));
      // A barge-in meanwhile: the rest of this chunk is stale.
      if (signal.aborted) return;
      t0 = performance.now();
    }
    try {
      frames.push(nativeCall(() => enc.encode(pcm[i]!)));
    } catch (e) {
      throw codecError(e);
    }
    // The reply's first frame leaves alone: first audio does not wait for the rest of the chunk.
    if (!s.turnAudio) {
      s.turnAudio = true;
      send(false);
    }
  }
  s.stats.encodeUs += (performance.now() - t0) * 1000;
  if (frames.length > 0 || m.last) send(m.last);
}

/** The chunk at the downlink rate as whole frames (a partial frame waits for the next chunk; `last` pads it). */
function cutFrames(s: State, m: Extract<CodecIn, { t: 'codec.encode' }>): Int16Array[] {
  const n = s.frameSamples;
  const out: Int16Array[] = [];
  for (const part of toDownlinkRate(s, m.pcm, m.sampleRate, m.last)) {
    let off = 0;
    if (s.remLen > 0) {
      const take = Math.min(n - s.remLen, part.length);
      s.rem.set(part.subarray(0, take), s.remLen);
      s.remLen += take;
      off = take;
      if (s.remLen === n) {
        // `rem` is reused: the frame keeps a copy.
        out.push(s.rem.slice());
        s.remLen = 0;
      }
    }
    for (; off + n <= part.length; off += n) out.push(part.subarray(off, off + n));
    if (off < part.length) {
      s.rem.set(part.subarray(off), 0);
      s.remLen = part.length - off;
    }
  }
  if (m.last) {
    if (s.remLen > 0) {
      s.rem.fill(0, s.remLen);
      out.push(s.rem.slice());
      s.remLen = 0;
    }
    s.sentence = -1;
  }
  return out;
}

export const codec = defineActor<State, CodecInit, CodecIn>({
  // Audio in both directions, deliberately `block`, not `drop-oldest`: every message is part of
  // an ordered stream where a hole is audible (TTS) or skews listen's audio clock (uplink), and
  // a dropped `last` would stall a reply. Handlers cost well under a frame
  // period (≤ 0.6 ms even at complexity 10), so a backlog means the whole worker is saturated:
  // it parks messages in order and shows up as `waiting` in the mailbox stats (shed load at
  // admission, not here). 256 ≈ 15 s of uplink; a barge-in purges the old turn's encode
  // backlog (data lane) at once.
  mailbox: { capacity: 256, overflow: 'block' },
  start(_ctx, init) {
    const encoderOpts = checkInit(init);
    const frameSamples = (encoderOpts.sampleRate * encoderOpts.frameMs) / 1000;
    return {
      init,
      decoder: createDecoder({ sampleRate: 16_000 }),
      encoder: null,
      encoderOpts,
      frameSamples,
      resampler: null,
      rem: new Int16Array(frameSamples),
      remLen: 0,
      sentence: -1,
      turn: 0,
      turnAudio: false,
      stats: { decoded: 0, decodeErrors: 0, dtx: 0, encoded: 0, batches: 0, droppedSamples: 0, decodeUs: 0, encodeUs: 0 },
    };
  },
  receive(s, m, env, ctx) {
    switch (m.t) {
      case 'codec.decode':
        decode(s, m.opus, m.seq, env, ctx);
        return undefined;
      case 'codec.encode':
        return encode(s, m, env, ctx);
      case 'codec.reset':
        dropPartial(s);
        s.encoder?.reset();
        s.turn = Math.max(s.turn, env.turn);
        return undefined;
      case 'codec.stats':
        return { ...s.stats, decodeUs: Math.round(s.stats.decodeUs), encodeUs: Math.round(s.stats.encodeUs) } satisfies CodecStats;
      default: {
        const never: never = m;
        throw new XzError(E.XZ_ERR_UNKNOWN_MESSAGE, `codec: unknown message ${(never as { t: string }).t}`);
      }
    }
  },
  stop(s) {
    s.decoder.free();
    s.encoder?.free();
    s.encoder = null;
    s.resampler = null;
  },
});
