/**
 * One device's conversation: listening, the reply turn, barge-in. Runs inside the session actor
 * (main thread); the heavy work happens in the session's worker actors (crew.ts).
 *
 *   listen start ─▶ audio ─▶ codec ─▶ listen (VAD, ASR) ─▶ transcript
 *        ─▶ new turn: stt, tts start ─▶ think ─▶ sentences ─▶ llm emotion, speak ─▶ codec ─▶ frames
 *        ─▶ pacer (sentence_start with its audio) ─▶ playout end ─▶ tts stop ─▶ listening again
 *
 * Every reply is a turn: starting one, or interrupting one (abort, barge-in), bumps the session's
 * turn id on every thread, so anything still queued or running for the old turn is dropped or
 * aborted by the runtime and no frame of it can reach the device afterwards.
 */
import type { Clock, Timer } from '../../runtime/clock.js';
import type { Logger } from '../../runtime/log.js';
import type { ActorSystem } from '../../runtime/system.js';
import type { AnyMsg, Lane } from '../../runtime/envelope.js';
import type { ChatMessage } from '../../providers/contracts/llm.js';
import type { Pacer } from '../pacer/pacer.js';
import { emojiFor } from '../think/sentences.js';
import { spawnCrew, killCrew, type Crew, type CrewSettings } from './crew.js';
import type { DeviceEvent, DeviceView, ListenMode } from './device-state.js';
import type { DeviceLink } from './link.js';
import type { SessionIn, TurnRecord } from './messages.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { ToolResult } from '../think/messages.js';
import type { ToolCall } from '../../providers/contracts/llm.js';
import { toWire } from '../../runtime/errors.js';

/** `tts stop` goes this long after the playout end: inside the −100…+300 ms window, with margin for jitter. */
const STOP_AFTER_PLAYOUT_MS = 80;
/** Messages kept while the worker actors start (≈ 2 s of uplink audio plus control). */
const MAX_PENDING = 48;
const HISTORY_TURNS = 10;

export interface ConversationDeps {
  sessionId: string;
  self: string;
  link: DeviceLink;
  log: Logger;
  system: ActorSystem;
  pacer: Pacer;
  clock: Clock;
  crew: CrewSettings;
  startGapMs: number;
  prompt: string;
  voice: { name: string | null; language: string | null };
  wakeWords: readonly string[];
  deviceId: string;
  tools: ToolRegistry;
  view(): DeviceView;
  apply(ev: DeviceEvent): void;
}

interface Reply {
  turn: number;
  record: TurnRecord;
  /** Sentences announced by the think actor, by index. */
  texts: Map<number, string>;
  /** Sentence indices whose subtitle went into the pacer. */
  shown: Set<number>;
  /** Sentence indices whose last frames arrived. */
  finished: Set<number>;
  sentences: number | undefined;
  emotionSent: boolean;
  ended: boolean;
  stopTimer: Timer | undefined;
  spoken: string[];
}

export class Conversation {
  readonly #d: ConversationDeps;
  #turn = 0;
  #crew: Crew | undefined;
  #crewState: 'none' | 'spawning' | 'ready' | 'failed' = 'none';
  #pending: [keyof Crew, AnyMsg, Lane, ArrayBufferLike[] | undefined][] = [];
  #mode: ListenMode = 'auto';
  #listening = false;
  #reply: Reply | undefined;
  #history: ChatMessage[] = [];
  #seq = 0;
  readonly records: TurnRecord[] = [];
  turns = 0;

  constructor(d: ConversationDeps) {
    this.#d = d;
  }

  get replying(): boolean {
    return this.#reply !== undefined && !this.#reply.ended;
  }

  // ── device events ──────────────────────────────────────────────────────────────────────

  listenStart(mode: ListenMode): void {
    this.#mode = mode;
    this.#listening = true;
    this.#ensureCrew();
    this.#toCrew('listen', { t: 'listen.start', mode }, 'system');
  }

  listenStop(): void {
    this.#listening = false;
    // The stop comes from here and the audio from the codec: name the last frame sent so the
    // utterance is not cut before it arrives.
    this.#toCrew('listen', { t: 'listen.stop', untilSeq: this.#seq }, 'stream');
  }

  /** `listen detect`: a wake word wakes the session; any other text is a typed user turn. */
  detect(text: string): void {
    const plain = text.replace(/[\p{P}\s]/gu, '').toLowerCase();
    if (this.#d.wakeWords.some((w) => w.replace(/[\p{P}\s]/gu, '').toLowerCase() === plain)) {
      this.#d.log.info({ wake: text }, 'wake word');
      return;
    }
    if (plain === '') return;
    this.#ensureCrew();
    this.#startReply(text, this.#d.clock.now(), undefined);
  }

  audio(opus: Uint8Array): void {
    this.#toCrew('codec', { t: 'codec.decode', opus, seq: ++this.#seq }, 'stream', [opus.buffer]);
  }

  /** The device aborted (button, wake word while speaking): stop now, confirm with tts stop. */
  abort(reason: string | undefined): void {
    this.#interrupt(reason ?? 'abort');
    this.#sendTtsStop();
  }

  // ── crew events ────────────────────────────────────────────────────────────────────────

  handle(m: SessionIn): void {
    switch (m.t) {
      case 'session.speech-started':
        if (m.bargeIn && this.replying && this.#mode === 'realtime') {
          this.#d.log.info('barge-in: user speech over the reply');
          this.#interrupt('barge-in');
          this.#sendTtsStop();
        }
        return;
      case 'session.speech-ended':
        return;
      case 'session.transcript':
        if (!m.final) return;
        return this.#heard(m.text, m.asrMs);
      case 'session.utterance':
        this.#d.log.info({ audioMs: m.audioMs }, 'utterance ended; no recognizer configured');
        return;
      case 'session.asr-failed':
        this.#d.log.warn({ code: m.code, audioMs: m.audioMs }, `speech recognition failed: ${m.message}`);
        return;
      case 'session.reply-sentence':
        return this.#sentence(m.text, m.index, m.emotion);
      case 'session.reply-done':
        return this.#replyDone(m.text, m.sentences, m.emotion, m.firstTextMs, m.error);
      case 'session.frames':
        return this.#frames(m.frames, m.sentence, m.last);
      case 'session.speak-failed':
        this.#d.log.warn({ code: m.error.code, sentence: m.sentence }, `TTS failed: ${m.error.message}`);
        return;
      case 'session.crew-restarted':
        this.#d.log.warn({ actors: m.actors }, 'worker actors restarted');
        if (this.#listening) this.#toCrew('listen', { t: 'listen.start', mode: this.#mode }, 'system');
        if (this.replying) {
          this.#interrupt('worker restarted');
          this.#sendTtsStop();
        }
        return;
      case 'session.stop-due':
        if (this.#reply && this.#reply.turn === m.turn) this.#finishReply();
        return;
      default:
        return;
    }
  }

  /** The session is over: stop everything and free the worker actors. */
  async end(): Promise<void> {
    this.#interrupt('session ended');
    const crew = this.#crew;
    this.#crew = undefined;
    this.#crewState = 'failed';
    if (crew) await killCrew(this.#d.system, crew);
  }

  // ── turn flow ──────────────────────────────────────────────────────────────────────────

  #heard(text: string, asrMs: number | undefined): void {
    const now = this.#d.clock.now();
    if (text.trim() === '') {
      this.#d.log.info('empty transcript: listening again');
      return;
    }
    this.#startReply(text, now - (asrMs ?? 0), asrMs);
  }

  #startReply(text: string, speechEndAt: number, asrMs: number | undefined): void {
    if (this.replying) this.#interrupt('new utterance');
    const d = this.#d;
    const turn = this.#newTurn();
    const now = d.clock.now();
    const record: TurnRecord = { turn, text, reply: '', interrupted: false, speechEndAt, ...(asrMs !== undefined ? { asrFinalMs: asrMs } : {}) };
    const reply: Reply = { turn, record, texts: new Map(), shown: new Set(), finished: new Set(), sentences: undefined, emotionSent: false, ended: false, stopTimer: undefined, spoken: [] };
    this.#reply = reply;
    this.turns++;
    d.link.cork(() => {
      d.link.sendJson({ session_id: d.sessionId, type: 'stt', text });
      d.link.sendJson({ session_id: d.sessionId, type: 'tts', state: 'start' });
    });
    record.ttsStartMs = now - speechEndAt;
    d.apply({ e: 'tts-start' });
    d.pacer.begin(d.sessionId, d.link, turn, now + d.startGapMs, {
      onFirstFrame: (at) => (record.firstFrameMs = at - speechEndAt),
      onEnd: (playoutEnd) => {
        record.playoutEndMs = playoutEnd - speechEndAt;
        reply.stopTimer = d.clock.setTimer(Math.max(0, playoutEnd + STOP_AFTER_PLAYOUT_MS - d.clock.now()), () =>
          d.system.send(d.self, { t: 'session.stop-due', turn }, { lane: 'system', session: d.sessionId }),
        );
      },
    });
    const messages: ChatMessage[] = [{ role: 'system', content: d.prompt }, ...this.#history, { role: 'user', content: text }];
    this.#history.push({ role: 'user', content: text });
    const tools = d.tools.definitions();
    this.#toCrew('think', { t: 'think.respond', messages, ...(tools.length ? { tools } : {}) }, 'data');
  }

  /** A tool call of the model, run here (device MCP and server functions live on this thread). */
  async callTool(call: ToolCall, signal: AbortSignal): Promise<ToolResult> {
    const d = this.#d;
    const started = d.clock.now();
    try {
      const r = await d.tools.call(call.name, call.argsJson, { sessionId: d.sessionId, deviceId: d.deviceId, signal });
      d.log.info({ tool: call.name, ms: Math.round(d.clock.now() - started), isError: r.isError }, 'tool call');
      return r;
    } catch (e) {
      const w = toWire(e);
      d.log.warn({ tool: call.name, code: w.code }, `tool call failed: ${w.message}`);
      return { text: `error: ${w.message}`, isError: true };
    }
  }

  #sentence(text: string, index: number, emotion: string | undefined): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    const d = this.#d;
    if (!r.emotionSent) {
      r.emotionSent = true;
      const e = emotion ?? 'happy';
      d.link.sendJson({ session_id: d.sessionId, type: 'llm', text: emojiFor(e), emotion: e });
    }
    r.texts.set(index, text);
    r.spoken.push(text);
    this.#toCrew('speak', { t: 'speak.say', text, sentence: index, voice: d.voice }, 'data');
  }

  #replyDone(text: string, sentences: number, emotion: string | undefined, firstTextMs: number | undefined, error: { code: string; message: string } | undefined): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    if (error) this.#d.log.warn({ code: error.code }, `language model failed: ${error.message}`);
    if (firstTextMs !== undefined) r.record.firstTextMs = (r.record.ttsStartMs ?? 0) + firstTextMs;
    r.record.reply = text;
    r.sentences = sentences;
    if (!r.emotionSent && emotion) r.emotionSent = true;
    this.#history.push({ role: 'assistant', content: text });
    this.#trimHistory();
    this.#maybeEnd(r);
  }

  #frames(frames: Uint8Array[], sentence: number, last: boolean): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    const d = this.#d;
    if (!r.shown.has(sentence)) {
      r.shown.add(sentence);
      const text = r.texts.get(sentence);
      if (text !== undefined) d.pacer.pushText(d.sessionId, r.turn, JSON.stringify({ session_id: d.sessionId, type: 'tts', state: 'sentence_start', text }));
    }
    if (frames.length) d.pacer.pushFrames(d.sessionId, r.turn, frames);
    if (last) {
      r.finished.add(sentence);
      this.#maybeEnd(r);
    }
  }

  /** Once the model is done and every sentence's audio is queued, the pacer reports playout end. */
  #maybeEnd(r: Reply): void {
    if (r.sentences === undefined || r.finished.size < r.sentences) return;
    if (r.sentences === 0) {
      // Nothing to say (an empty answer or a failed model): close the turn right away.
      this.#finishReply();
      return;
    }
    this.#d.pacer.end(this.#d.sessionId, r.turn);
  }

  #finishReply(): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    r.ended = true;
    this.#sendTtsStop();
    r.record.ttsStopMs = this.#d.clock.now() - r.record.speechEndAt;
    this.#remember(r.record);
    this.#d.pacer.cancel(this.#d.sessionId);
  }

  #interrupt(why: string): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    r.ended = true;
    r.stopTimer?.cancel();
    r.record.interrupted = true;
    // What the user heard ends here; the full text would put words in the model's mouth.
    const last = this.#history[this.#history.length - 1];
    const heard = r.spoken.filter((_, i) => r.shown.has(i)).join(' ');
    if (last?.role === 'assistant') this.#history[this.#history.length - 1] = { role: 'assistant', content: heard };
    else if (heard) this.#history.push({ role: 'assistant', content: heard });
    this.#d.pacer.cancel(this.#d.sessionId);
    this.#newTurn();
    this.#toCrew('codec', { t: 'codec.reset' }, 'system');
    this.#d.log.info({ turn: r.turn, why }, 'reply interrupted');
    this.#remember(r.record);
  }

  #sendTtsStop(): void {
    const d = this.#d;
    d.link.sendJson({ session_id: d.sessionId, type: 'tts', state: 'stop' });
    d.apply({ e: 'tts-stop' });
    this.#toCrew('listen', { t: 'listen.playback', playing: false }, 'system');
  }

  #newTurn(): number {
    this.#turn++;
    this.#d.system.bumpTurn(this.#d.sessionId, this.#turn);
    return this.#turn;
  }

  #remember(rec: TurnRecord): void {
    this.records.push(rec);
    if (this.records.length > 5) this.records.shift();
    const { speechEndAt: _abs, ...rel } = rec;
    this.#d.log.info({ turn: rel }, rec.interrupted ? 'turn interrupted' : 'turn');
  }

  #trimHistory(): void {
    const max = HISTORY_TURNS * 2;
    if (this.#history.length > max) this.#history.splice(0, this.#history.length - max);
  }

  // ── the worker actors ──────────────────────────────────────────────────────────────────

  #ensureCrew(): void {
    if (this.#crewState !== 'none') return;
    this.#crewState = 'spawning';
    const d = this.#d;
    spawnCrew(d.system, d.sessionId, d.self, d.crew).then(
      (crew) => {
        if (this.#crewState !== 'spawning') {
          void killCrew(d.system, crew);
          return;
        }
        this.#crew = crew;
        this.#crewState = 'ready';
        const pending = this.#pending;
        this.#pending = [];
        for (const [who, msg, lane, transfer] of pending) this.#toCrew(who, msg, lane, transfer);
      },
      (e: unknown) => {
        this.#crewState = 'failed';
        this.#pending = [];
        d.log.error({ err: e }, 'could not start the session workers: closing');
        d.link.close(1011, 'server busy');
      },
    );
  }

  #toCrew(who: keyof Crew, msg: AnyMsg, lane: Lane, transfer?: ArrayBufferLike[]): void {
    const crew = this.#crew;
    if (!crew) {
      if (this.#crewState === 'spawning' && this.#pending.length < MAX_PENDING) this.#pending.push([who, msg, lane, transfer]);
      return;
    }
    this.#d.system.send(crew[who], msg, { session: this.#d.sessionId, lane, ...(transfer ? { transfer: transfer as ArrayBuffer[] } : {}) });
  }
}
