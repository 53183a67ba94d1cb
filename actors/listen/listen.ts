/**
 * The listen actor: one per session, in the `listen` worker pool.
 *
 *   listen.pcm ─▶ audio log (pre-roll) ─▶ 512-sample windows ─▶ worker batcher (Silero, shared)
 *                    │                                                │ probabilities
 *                    └─ echo detector (uplink envelope)               ▼
 *                                                           endpointer ─▶ start / end
 *   start: over playback? ─yes─▶ held: judged on a sliding window until it is clearly not echo
 *                        └─no──▶ open: speech-started, audio (pre-roll + speech) to ASR
 *   end:   open ─▶ speech-ended, ASR end ─▶ transcript;  held ─▶ dropped as echo
 *
 * Modes (protocol §6.1): auto and realtime end utterances on silence; manual (push-to-talk) keeps
 * one utterance open from the first speech until listen.stop. Everything is decided in audio time.
 */
import { defineActor, type ActorContext } from '../../runtime/actor.js';
import type { Timer } from '../../runtime/clock.js';
import { E } from '../../runtime/errors.js';
import type { VadState } from '../../providers/contracts/vad.js';
import { AudioLog } from './audio-log.js';
import { resolveAsr, UtteranceAsr, type AsrOutcome } from './asr.js';
import { PoolStateClient } from '../pools/client.js';
import { workerVad, type VadBatcher } from './batcher.js';
import { ECHO_DEFAULTS, EchoDetector, type EchoVerdict } from './echo.js';
import { Endpointer, type EndpointEvent } from './endpointer.js';
import type { ListenAsrSpec, ListenIn, ListenInit, ListenMode, ListenOut, ListenStats, SpeechEndReason } from './messages.js';

const RATE = 16_000;
/** Onset correlation with playback below which speech is taken as the user's at once. */
const HOLD_CORR = 0.3;
/** Shortest stretch judged when looking for where the user began inside a judged window. */
const MIN_PREFIX_MS = 250;
/** Consecutive VAD windows a held utterance must be judged not echo before it is the user's. */
const CONFIRM_WINDOWS = 2;
/** How long a listen.stop waits for the frame it names. */
const STOP_GRACE_MS = 300;
const ms = (samples: number) => (samples * 1000) / RATE;

/**
 * This worker's totals over all its sessions, for the status page: how often speech over a
 * reply was the device's own echo, how often the user barged in, and how many early
 * transcriptions were used (the rest were paid for and dropped).
 */
export const totals = { utterances: 0, bargeIns: 0, echoRejected: 0, earlyAsr: 0, earlyAsrUsed: 0 };

/** One more of `k`, for the session and for the worker's totals. */
function count(s: State, k: keyof typeof totals): void {
  s.stats[k]++;
  totals[k]++;
}

interface Utterance {
  id: number;
  /** held: heard over playback and not yet shown to be the user; open: reported and transcribed. */
  phase: 'held' | 'open';
  /** Where the VAD found speech, and where the utterance's audio begins (pre-roll). */
  speechAt: number;
  from: number;
  /** Audio handed on up to here. */
  written: number;
  bargeIn: boolean;
  /** The echo verdict that let it through over playback (reported with the barge-in). */
  verdict: EchoVerdict | undefined;
  /** Held: consecutive windows judged not echo. */
  notEcho: number;
  asr: UtteranceAsr | undefined;
  /** Audio handed to a batch ASR so far, kept (shared, not copied) for an early transcription. */
  chunks: Int16Array[] | undefined;
  /** An early transcription of the audio up to a pause that began at `quietFrom`. */
  early: { asr: UtteranceAsr; quietFrom: number } | undefined;
  /** Manual mode: where the VAD last heard speech end (the utterance spans such pauses). */
  lastEndAt: number | undefined;
}

interface State {
  init: ListenInit;
  asr: ListenAsrSpec | null;
  ctx: ActorContext;
  batcher: VadBatcher;
  vad: VadState;
  ep: Endpointer;
  log: AudioLog;
  echo: EchoDetector;
  echoWindow: number;
  mode: ListenMode | null;
  /** The partial window being filled. */
  pend: Float32Array;
  pendN: number;
  utt: Utterance | undefined;
  nextId: number;
  lastSeq: number | undefined;
  asrInFlight: Set<UtteranceAsr>;
  /** A listen.stop waiting for its last frame. */
  stopAt: { seq: number; timer: Timer } | undefined;
  stats: { windows: number; utterances: number; bargeIns: number; echoRejected: number; ignored: number; seqGaps: number; earlyAsr: number; earlyAsrUsed: number };
  /** Pause (samples) after which an early transcription starts; 0: never. */
  earlyAfter: number;
  /** The process-wide pool state (main thread), made on the first utterance. */
  pool?: PoolStateClient;
}

const listen = defineActor<State, ListenInit, ListenIn>({
  // Fresh audio beats stale audio; a gap shows up in seqGaps.
  mailbox: { capacity: 512, overflow: 'drop-oldest' },
  start(ctx, init) {
    const batcher = workerVad();
    const model = batcher.model;
    return {
      init,
      asr: resolveAsr(init.asr),
      ctx,
      batcher,
      vad: model.createState(),
      ep: new Endpointer({
        threshold: init.vad.threshold,
        minSpeechMs: init.vad.min_speech_ms,
        endSilenceMs: init.vad.end_silence_ms,
        windowSamples: model.windowSamples,
        sampleRate: model.sampleRate,
      }),
      log: new AudioLog(),
      echo: new EchoDetector(init.echo ?? {}),
      echoWindow: Math.round(((init.echo?.windowMs ?? ECHO_DEFAULTS.windowMs) * RATE) / 1000),
      mode: init.mode ?? null,
      pend: new Float32Array(model.windowSamples),
      pendN: 0,
      utt: undefined,
      nextId: 1,
      lastSeq: undefined,
      asrInFlight: new Set(),
      stopAt: undefined,
      stats: { windows: 0, utterances: 0, bargeIns: 0, echoRejected: 0, ignored: 0, seqGaps: 0, earlyAsr: 0, earlyAsrUsed: 0 },
      earlyAfter: Math.round(((init.vad.early_asr_ms ?? 200) * RATE) / 1000),
    };
  },
  async receive(s, msg) {
    switch (msg.t) {
      case 'listen.pcm':
        return onPcm(s, msg.pcm, msg.seq);
      case 'listen.start':
        forget(s);
        s.mode = msg.mode;
        return undefined;
      case 'listen.stop':
        if (msg.untilSeq !== undefined && (s.lastSeq === undefined || s.lastSeq < msg.untilSeq)) {
          deferStop(s, msg.untilSeq);
          return undefined;
        }
        return onStop(s);
      case 'listen.reset':
        forget(s);
        return undefined;
      case 'listen.playback':
        if (msg.reference) s.echo.pushReference(msg.reference);
        if (msg.envelope) s.echo.pushReferenceEnvelope(msg.envelope);
        if (!msg.playing) s.echo.stopReference();
        else if (!msg.reference && !msg.envelope) s.echo.startReference();
        return undefined;
      case 'listen.stats':
        return { ...stats(s), batcher: s.batcher.stats() };
    }
  },
  stop(s) {
    s.stopAt?.timer.cancel();
    s.utt?.asr?.abort();
    for (const a of s.asrInFlight) a.abort();
  },
});

async function onPcm(s: State, pcm: Int16Array, seq: number): Promise<void> {
  if (s.lastSeq !== undefined && seq !== s.lastSeq + 1) s.stats.seqGaps++;
  s.lastSeq = seq;
  if (s.mode === null) {
    // Not listening (e.g. the wake-word burst before listen start): the clock still moves.
    s.stats.ignored += pcm.length;
    s.log.skip(pcm.length);
    s.echo.skipUplink(pcm.length);
    return;
  }
  s.log.append(pcm);
  s.echo.pushUplink(pcm);
  const windows = cut(s, pcm);
  if (windows.length > 0) {
    const probs = await s.batcher.score(s.vad, windows);
    s.stats.windows += probs.length;
    for (const p of probs) {
      const ev = s.ep.push(p);
      if (ev) onEvent(s, ev);
      // Judged only while the VAD hears speech now: a window sliding into the trailing silence
      // of an echo compares noise with nothing and would look like someone else.
      if (s.utt?.phase === 'held' && p >= s.ep.threshold) judgeHeld(s);
    }
  }
  if (s.utt?.phase === 'open') {
    write(s, s.utt);
    if (s.mode !== 'manual') earlyAsr(s, s.utt);
  }
  trim(s);
  if (s.stopAt !== undefined && seq >= s.stopAt.seq) onStop(s);
}

/**
 * Early transcription (batch ASR only): a pause of `earlyAfter` inside the utterance sends the
 * audio so far; speech resuming drops that request. A pause that becomes the end then has its
 * text ready sooner by up to the rest of end_silence_ms. The cost is one wasted request per
 * longer pause inside an utterance.
 */
function earlyAsr(s: State, utt: Utterance): void {
  const quiet = s.ep.quietSince;
  if (utt.early && utt.early.quietFrom !== quiet) {
    utt.early.asr.abort();
    utt.early = undefined;
  }
  if (utt.early || !utt.chunks || quiet < 0 || s.ep.position - quiet < s.earlyAfter || !s.asr) return;
  const asr = new UtteranceAsr(s.asr, s.pool);
  for (const pcm of utt.chunks) asr.write(pcm);
  asr.end();
  utt.early = { asr, quietFrom: quiet };
  count(s, 'earlyAsr');
}

/** A stop that overtook its audio: runs when frame `seq` has been handled, or after a grace. */
function deferStop(s: State, seq: number): void {
  s.stopAt?.timer.cancel();
  const timer = s.ctx.clock.setTimer(STOP_GRACE_MS, () => {
    if (s.stopAt?.timer === timer) s.ctx.send(s.ctx.self, { t: 'listen.stop' }, { lane: 'system' });
  });
  s.stopAt = { seq, timer };
}

/** Cuts the chunk into model windows, keeping the remainder for the next chunk. */
function cut(s: State, pcm: Int16Array): Float32Array[] {
  const out: Float32Array[] = [];
  const W = s.pend.length;
  for (let i = 0; i < pcm.length; i++) {
    s.pend[s.pendN++] = pcm[i]! / 32768;
    if (s.pendN === W) {
      out.push(s.pend);
      s.pend = new Float32Array(W);
      s.pendN = 0;
    }
  }
  return out;
}

function onEvent(s: State, ev: EndpointEvent): void {
  if (ev.kind === 'speech-start') {
    if (s.utt) return; // manual mode: one utterance spans the pauses until listen.stop
    // Over our own playback (or its echo tail): if it proves to be the user, that is a barge-in.
    const bargeIn = s.echo.active;
    const utt: Utterance = { id: s.nextId++, phase: 'open', speechAt: ev.atSample, from: ev.fromSample, written: ev.fromSample, bargeIn, verdict: undefined, notEcho: 0, asr: undefined, chunks: undefined, early: undefined, lastEndAt: undefined };
    s.utt = utt;
    // Speech over our own playback may be its echo (no AEC on the device): hold it until the
    // envelopes say otherwise. Push-to-talk speech is the user's by definition.
    // (Below HOLD_CORR the onset looks nothing like the playback: no need to wait.)
    if (s.mode !== 'manual' && s.echo.active) {
      utt.verdict = s.echo.judge(ev.atSample, s.ep.position);
      if (utt.verdict.corr >= HOLD_CORR) utt.phase = 'held';
    }
    if (utt.phase === 'open') open(s, utt, ev.atSample);
    return;
  }
  const utt = s.utt;
  if (!utt) return;
  if (s.mode === 'manual') {
    utt.lastEndAt = ev.atSample;
    return;
  }
  if (utt.phase === 'held') {
    // A long one was judged window by window and stayed echo; one too short for the sliding
    // window is judged once, whole.
    const short = ev.atSample - utt.speechAt < s.echoWindow;
    const v = short ? s.echo.judge(utt.speechAt, ev.atSample) : undefined;
    if (!v || v.echo || v.frames < 20) {
      count(s, 'echoRejected');
      s.utt = undefined;
      return;
    }
    utt.verdict = v;
    open(s, utt, utt.speechAt);
  }
  finish(s, utt, ev.atSample, ev.reason);
}

/** A held utterance becomes the user's once the last `echoWindow` of it no longer follows playback. */
function judgeHeld(s: State): void {
  const utt = s.utt!;
  const to = s.ep.position;
  if (to - utt.speechAt < s.echoWindow) return;
  const from = to - s.echoWindow;
  const verdict = s.echo.judge(from, to);
  if (verdict.echo) {
    utt.notEcho = 0;
    return;
  }
  // One window's dip is not enough: a device's echo path jitters (a late packet, a clock
  // correction) and one dip would cut the reply. The user, once talking, stays unlike it.
  if (++utt.notEcho < CONFIRM_WINDOWS) return;
  utt.verdict = verdict;
  // The user began somewhere in the window just judged: after its longest prefix that still
  // follows the playback (the window before this one was all echo).
  const W = s.ep.window;
  let userFrom = from;
  for (let k = to - W; k >= from + MIN_PREFIX_MS * 16; k -= W) {
    if (s.echo.judge(from, k).echo) {
      userFrom = k;
      break;
    }
  }
  if (userFrom > utt.speechAt) {
    utt.speechAt = userFrom;
    utt.from = Math.max(s.log.start, userFrom - s.ep.preRollSamples);
    utt.written = utt.from;
  }
  open(s, utt, utt.speechAt);
}

function open(s: State, utt: Utterance, atSample: number): void {
  utt.phase = 'open';
  if (utt.bargeIn) count(s, 'bargeIns');
  if (s.asr) {
    utt.asr = new UtteranceAsr(s.asr, (s.pool ??= new PoolStateClient(s.ctx)));
    if (s.earlyAfter > 0) utt.chunks = [];
  }
  const started: ListenOut = { t: 'session.speech-started', utterance: utt.id, atMs: ms(atSample), bargeIn: utt.bargeIn };
  if (utt.verdict) started.echo = { corr: Math.round(utt.verdict.corr * 100) / 100, lagMs: utt.verdict.lagMs, frames: utt.verdict.frames };
  emit(s, started);
  write(s, utt);
}

/**
 * Hands the utterance's audio on up to `upTo`: by default the end of the last scored window, so
 * what an utterance contains depends on the audio only, never on how it was chunked.
 */
function write(s: State, utt: Utterance, upTo = s.ep.position): void {
  if (utt.written >= upTo) return;
  if (utt.asr) {
    const pcm = s.log.slice(utt.written, upTo);
    utt.asr.write(pcm);
    // A streaming ASR answers soon after the end anyway: nothing to gain from an early request.
    if (utt.asr.streaming) utt.chunks = undefined;
    utt.chunks?.push(pcm);
  }
  utt.written = upTo;
}

function finish(s: State, utt: Utterance, atSample: number, reason: SpeechEndReason, upTo = s.ep.position): void {
  write(s, utt, upTo);
  s.utt = undefined;
  count(s, 'utterances');
  const audioMs = ms(utt.written - utt.from);
  emit(s, { t: 'session.speech-ended', utterance: utt.id, atMs: ms(atSample), audioMs, reason });
  const asr = utt.asr;
  if (!asr) {
    emit(s, { t: 'session.utterance', utterance: utt.id, audioMs });
    return;
  }
  const early = utt.early;
  utt.early = undefined;
  utt.chunks = undefined;
  let outcome: Promise<AsrOutcome>;
  // The pause an early transcription was made at is the one that ended the utterance: what
  // came after it is silence, so its answer is this utterance's. Should it fail, the whole
  // utterance (still held by the batch stream, nothing sent yet) goes the usual way.
  if (early && early.quietFrom === atSample && reason === 'silence') {
    count(s, 'earlyAsrUsed');
    const decidedAt = performance.now();
    s.asrInFlight.add(early.asr);
    outcome = early.asr.outcome.then((r) => {
      s.asrInFlight.delete(early.asr);
      if (r.ok || r.code === E.XZ_ERR_ABORTED) {
        asr.abort();
        // From the end of speech decided to the text, as without an early request.
        return r.ok ? { ...r, asrMs: Math.max(0, r.asrMs - (decidedAt - early.asr.endedAt)) } : r;
      }
      return endAsr(s, asr);
    });
  } else {
    early?.asr.abort();
    outcome = endAsr(s, asr);
  }
  void outcome.then((r) => {
    if (r.ok) {
      const out: ListenOut = { t: 'session.transcript', utterance: utt.id, text: r.text, final: true, audioMs, asrMs: r.asrMs };
      if (r.language) out.language = r.language;
      emit(s, out);
    } else if (r.code !== E.XZ_ERR_ABORTED) {
      emit(s, { t: 'session.asr-failed', utterance: utt.id, audioMs, code: r.code, message: r.message });
    }
  });
}

/** Ends an utterance's ASR stream; until its outcome, a stop or reset may abort it. */
function endAsr(s: State, asr: UtteranceAsr): Promise<AsrOutcome> {
  asr.end();
  s.asrInFlight.add(asr);
  return asr.outcome.then((r) => {
    s.asrInFlight.delete(asr);
    return r;
  });
}

function onStop(s: State): void {
  s.stopAt?.timer.cancel();
  s.stopAt = undefined;
  if (s.mode === 'manual') {
    const evs = s.ep.finalize(true);
    if (!s.utt) {
      const start = evs.find((e) => e.kind === 'speech-start');
      if (start) onEvent(s, start);
    }
    const utt = s.utt;
    if (utt) {
      const end = evs.find((e) => e.kind === 'speech-end')?.atSample ?? utt.lastEndAt ?? s.ep.position;
      // Released: everything received counts, the partial window too.
      finish(s, utt, end, 'stop', s.log.end);
    }
    else {
      // Nothing was said: still answer, so the session is not left waiting for a result.
      const id = s.nextId++;
      emit(s, s.asr ? { t: 'session.transcript', utterance: id, text: '', final: true, audioMs: 0, asrMs: 0 } : { t: 'session.utterance', utterance: id, audioMs: 0 });
    }
  } else if (s.utt?.phase === 'open') {
    finish(s, s.utt, s.ep.position, 'stop', s.log.end);
  }
  forget(s);
  s.mode = null;
}

/** Drops the open utterance, buffered audio and VAD state; the audio clock keeps running. */
function forget(s: State): void {
  s.stopAt?.timer.cancel();
  s.stopAt = undefined;
  s.utt?.asr?.abort();
  s.utt?.early?.asr.abort();
  s.utt = undefined;
  s.log.clear();
  s.pendN = 0;
  s.vad.reset();
  s.ep.reset(s.log.end);
}

/** Lets go of audio nothing can need any more (memory per session stays a few hundred ms). */
function trim(s: State): void {
  const u = s.utt;
  let keep: number;
  if (!u) keep = s.ep.keepFrom;
  else if (u.phase === 'open') keep = u.written;
  // Held over playback: a promotion starts at most a judging window (plus pre-roll) back.
  else keep = Math.max(u.from, s.ep.position - s.echoWindow - s.ep.preRollSamples);
  s.log.trimBefore(keep);
}

function emit(s: State, msg: ListenOut): void {
  s.ctx.send(s.init.sessionAddr, msg, { lane: 'stream' });
}

function stats(s: State): ListenStats {
  const u = s.utt;
  return {
    mode: s.mode,
    audioMs: ms(s.log.end),
    windows: s.stats.windows,
    utterances: s.stats.utterances,
    bargeIns: s.stats.bargeIns,
    echoRejected: s.stats.echoRejected,
    ignoredMs: ms(s.stats.ignored),
    seqGaps: s.stats.seqGaps,
    open: u ? { utterance: u.id, audioMs: ms(s.log.end - u.from), phase: u.phase } : null,
    heldMs: ms(s.log.samples),
    asrInFlight: s.asrInFlight.size,
    earlyAsr: s.stats.earlyAsr,
    earlyAsrUsed: s.stats.earlyAsrUsed,
  };
}

export { listen };
