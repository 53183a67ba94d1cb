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
import type { ChatMessage } from '../../providers/contracts/llm.js';
import type { QuickReplyKey } from '../speak/quick-replies.js';
import { emojiFor } from '../think/sentences.js';
import { CrewLink, killCrew } from './crew.js';
import type { ListenMode } from './device-state.js';
import type { SessionIn, TurnRecord } from './messages.js';
import type { ConversationDeps, Reply } from './conversation-types.js';
import type { ToolResult } from '../think/messages.js';
import type { ToolCall } from '../../providers/contracts/llm.js';
import { History } from '../dialogue/history.js';
import { IdlePolicy, WakeGate } from '../dialogue/intents.js';
import { memoryMessages } from '../dialogue/memory.js';
import { runToolCall, systemPromptFor } from './model-io.js';
import { toolAllowed, type Role } from '../dialogue/roles.js';

export type { ConversationDeps, DialogueDeps } from './conversation-types.js';

/** `tts stop` goes this long after the playout end: inside the −100…+300 ms window, with margin for jitter. */
const STOP_AFTER_PLAYOUT_MS = 80;

export class Conversation {
  readonly #d: ConversationDeps;
  #turn = 0;
  readonly #crew: CrewLink;
  #mode: ListenMode = 'auto';
  #listening = false;
  #reply: Reply | undefined;
  readonly #history: History;
  readonly #wake: WakeGate;
  readonly #idle: IdlePolicy;
  #role: Role;
  #memorySummary = '';
  #closeAfterReply = false;
  #voice: { name: string | null; language: string | null };
  #seq = 0;
  readonly records: TurnRecord[] = [];
  turns = 0;

  constructor(d: ConversationDeps) {
    this.#d = d;
    this.#crew = new CrewLink(d.system, d.sessionId, d.self, d.crew, (e) => {
      d.log.error({ err: e }, 'could not start the session workers: closing');
      d.link.close(1011, 'server busy');
    });
    const ds = d.dialogue.settings;
    this.#role = d.dialogue.profile.role;
    this.#voice = { name: d.dialogue.profile.voice ?? this.#role.voice, language: d.dialogue.profile.language ?? this.#role.language };
    this.#history = new History({ budgetTokens: ds.history_tokens });
    this.#wake = new WakeGate({ wakeWords: ds.wake_words, greeting: ds.greeting, tailMs: ds.wake_tail_ms, clock: d.clock });
    this.#idle = new IdlePolicy({
      clock: d.clock,
      farewellMs: ds.idle_farewell_s * 1000,
      closeMs: ds.idle_close_s * 1000,
      onAction: (a) => {
        if (a === 'farewell') this.#startReply(ds.farewell_prompt, d.clock.now(), undefined, { closeAfter: true, remember: false, showText: false });
        else d.link.close(1000, 'idle');
      },
    });
  }

  get role(): Role {
    return this.#role;
  }

  /** After the hello: load the device's memory and start watching for idleness. */
  started(): void {
    const d = this.#d;
    if (d.dialogue.settings.idle_farewell_s > 0) this.#idle.start();
    const memory = d.dialogue.memory;
    if (!memory) return;
    memory.load(d.deviceId).then(
      (rec) => {
        this.#memorySummary = rec.summary;
        if (this.#history.length === 0) this.#history.seed(memoryMessages(rec));
      },
      (e: unknown) => d.log.warn({ err: e }, 'could not load the device memory'),
    );
  }

  /** The model asked to end the conversation: close once this reply has played. */
  endAfterReply(): void {
    this.#closeAfterReply = true;
  }

  /** play_music chose a track: it follows the words of the reply in progress. */
  playAfterReply(track: { path: string; title: string }, maxSeconds: number): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    r.track = { path: track.path, title: track.title, maxSeconds };
    this.#d.log.info({ track: track.title }, 'music queued after the reply');
  }

  setVoice(name: string): void {
    this.#voice = { ...this.#voice, name };
  }

  get voice(): string | null {
    return this.#voice.name;
  }

  switchRole(role: Role): void {
    this.#role = role;
    this.#voice = { name: role.voice ?? this.#voice.name, language: role.language ?? this.#voice.language };
    this.#d.log.info({ role: role.name }, 'role switched');
  }

  get replying(): boolean {
    return this.#reply !== undefined && !this.#reply.ended;
  }

  // ── device events ──────────────────────────────────────────────────────────────────────

  listenStart(mode: ListenMode): void {
    this.#mode = mode;
    this.#listening = true;
    this.#crew.ensure();
    // The device's status arrives while the user speaks, in time for this turn's prompt.
    this.#d.device?.refresh();
    this.#crew.send('listen', { t: 'listen.start', mode }, 'system');
    this.#promptActivation();
  }

  listenStop(): void {
    this.#listening = false;
    // The stop comes from here and the audio from the codec: name the last frame sent so the
    // utterance is not cut before it arrives.
    this.#crew.send('listen', { t: 'listen.stop', untilSeq: this.#seq }, 'stream');
  }

  /** `listen detect`: a wake word wakes the session (greeting); any other text is a typed user turn. */
  detect(text: string): void {
    this.#crew.ensure();
    this.#d.device?.refresh();
    const out = this.#wake.detect(text);
    if (out.kind === 'empty') return;
    this.#idle.activity('speech');
    if (out.kind === 'wake') {
      this.#d.log.info({ wake: text }, 'wake word');
      if (out.greeting) this.#say(out.greeting);
      return;
    }
    this.#userSaid(out.text, this.#d.clock.now(), undefined);
  }

  audio(opus: Uint8Array): void {
    this.#crew.send('codec', { t: 'codec.decode', opus, seq: ++this.#seq }, 'stream', [opus.buffer]);
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
        if (this.#wake.ignoreSpeech()) return;
        this.#idle.activity('speech');
        if (m.bargeIn && this.replying && this.#mode === 'realtime') {
          this.#d.log.info(m.echo ? { echo: m.echo } : {}, 'barge-in: user speech over the reply');
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
        return this.#sentence(m.text, m.index, m.emotion, m.spoken);
      case 'session.reply-done':
        return this.#replyDone(m.text, m.sentences, m.emotion, m.firstTextMs, m.error, undefined, !this.#reply?.closeAfter);
      case 'session.frames':
        return this.#frames(m.frames, m.sentence, m.last);
      case 'session.speak-failed':
        this.#d.log.warn({ code: m.error.code, sentence: m.sentence }, `${this.#reply?.track && m.sentence === this.#reply.sentences! - 1 ? 'music' : 'TTS'} failed: ${m.error.message}`);
        return;
      case 'session.crew-restarted':
        this.#d.log.warn({ actors: m.actors }, 'worker actors restarted');
        if (this.#listening) this.#crew.send('listen', { t: 'listen.start', mode: this.#mode }, 'system');
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
    this.#idle.stop();
    const crew = this.#crew.release();
    if (!crew) return;
    const d = this.#d;
    const memory = d.dialogue.memory;
    if (memory && this.turns > 0) {
      // The summary is written by the model at the end of the session, in the background: the
      // session's think actor lives until it is done.
      const complete = (messages: ChatMessage[]) =>
        d.system.request<string>(crew.think, { t: 'think.complete', messages }, { session: d.sessionId, lane: 'system', timeoutMs: 15_000 });
      void memory
        .summarize(d.deviceId, complete, { language: d.dialogue.profile.language ?? this.#role.language })
        .catch((e: unknown) => d.log.warn({ err: e }, 'memory summary failed'))
        .finally(() => void killCrew(d.system, crew));
      return;
    }
    await killCrew(d.system, crew);
  }

  // ── turn flow ──────────────────────────────────────────────────────────────────────────

  #heard(text: string, asrMs: number | undefined): void {
    const d = this.#d;
    const now = d.clock.now();
    if (this.#wake.ignoreSpeech(now - (asrMs ?? 0))) {
      d.log.info('speech right after the wake word: ignored as its tail');
      return;
    }
    this.#userSaid(text, now - (asrMs ?? 0), asrMs);
  }

  /** What the user said (heard or typed): an exit phrase, nothing, or a question for the model. */
  #userSaid(text: string, speechEndAt: number, asrMs: number | undefined): void {
    const d = this.#d;
    const intent = d.dialogue.intents.classify(text);
    if (intent === 'empty') {
      d.log.info('empty transcript: listening again');
      return;
    }
    if (intent === 'exit') {
      d.log.info({ text }, 'exit phrase: saying goodbye');
      d.link.sendJson({ session_id: d.sessionId, type: 'stt', text });
      this.#startReply(d.dialogue.settings.farewell_prompt, speechEndAt, asrMs, { closeAfter: true, remember: false, showText: false });
      return;
    }
    void this.#ifBound(() => this.#startReply(text, speechEndAt, asrMs));
  }

  /** Runs `fn` for a bound device; an unbound one hears its activation code instead. */
  async #ifBound(fn: () => void): Promise<void> {
    const a = await this.#d.dialogue.activation().catch((): { bound: true } => ({ bound: true }));
    if (a.bound) return fn();
    if (a.text !== undefined) this.#say(a.text);
    else this.#d.log.info('unbound device: conversation ignored until it is activated');
  }

  #promptActivation(): void {
    void this.#d.dialogue.activation().then(
      (a) => !a.bound && a.text !== undefined && this.#say(a.text),
      () => {},
    );
  }

  /** Speaks a fixed text (greeting, activation code) without the model. */
  #say(text: string): void {
    const d = this.#d;
    const turn = this.#beginTurn(text, d.clock.now(), undefined, { closeAfter: false, sendStt: false });
    const key = d.quick ? { ...d.quick.key, voice: this.#voice.name, text } : undefined;
    const speakFresh = () => {
      const r = this.#reply;
      if (!r || r.turn !== turn || r.ended) return;
      if (key) r.capture = { key, frames: [] };
      this.#sentence(text, 0, undefined);
      this.#replyDone(text, 1, undefined, undefined, undefined, turn, false);
    };
    if (!key || !d.quick) return speakFresh();
    d.quick.cache.get(key).then(
      (frames) => {
        const r = this.#reply;
        if (!frames || !r || r.turn !== turn || r.ended) return speakFresh();
        // A cached phrase: its frames go straight to the pacer, no TTS and no encoding.
        d.log.debug({ frames: frames.length }, 'quick reply from the cache');
        r.texts.set(0, text);
        r.spoken.push(text);
        this.#frames(frames, 0, true);
        this.#replyDone(text, 1, undefined, undefined, undefined, turn, false);
      },
      () => speakFresh(),
    );
  }

  #startReply(text: string, speechEndAt: number, asrMs: number | undefined, opts: { closeAfter?: boolean; remember?: boolean; showText?: boolean } = {}): void {
    const d = this.#d;
    this.#beginTurn(text, speechEndAt, asrMs, { closeAfter: opts.closeAfter ?? false, sendStt: opts.showText ?? true });
    const system = systemPromptFor(d, this.#role, this.#memorySummary);
    const messages: ChatMessage[] = [{ role: 'system', content: system }, ...this.#history.messages, { role: 'user', content: text }];
    if (opts.remember ?? true) this.#history.addUser(text);
    const tools = d.tools().definitions((t) => toolAllowed(this.#role, t));
    this.#crew.send('think', { t: 'think.respond', messages, ...(tools.length ? { tools } : {}), ...(d.crew.ttsStreamsText ? { pieces: { voice: this.#voice } } : {}) }, 'data');
  }

  /** Opens a reply turn: interrupts any reply in progress, stt + tts start, the pacer stream. */
  #beginTurn(text: string, speechEndAt: number, asrMs: number | undefined, opts: { closeAfter: boolean; sendStt: boolean }): number {
    if (this.replying) this.#interrupt('new utterance');
    const d = this.#d;
    const turn = this.#newTurn();
    const now = d.clock.now();
    const record: TurnRecord = { turn, text, reply: '', interrupted: false, speechEndAt, ...(asrMs !== undefined ? { asrFinalMs: asrMs } : {}) };
    const reply: Reply = { closeAfter: opts.closeAfter, turn, record, texts: new Map(), shown: new Set(), started: new Set(), heard: new Set(), finished: new Set(), sentences: undefined, emotionSent: false, ended: false, stopTimer: undefined, spoken: [] };
    this.#reply = reply;
    this.turns++;
    d.link.cork(() => {
      if (opts.sendStt) d.link.sendJson({ session_id: d.sessionId, type: 'stt', text });
      d.link.sendJson({ session_id: d.sessionId, type: 'tts', state: 'start' });
    });
    record.ttsStartMs = now - speechEndAt;
    d.apply({ e: 'tts-start' });
    d.pacer.begin(d.sessionId, d.link, turn, now + d.startGapMs, {
      onFirstFrame: (at) => (record.firstFrameMs = at - speechEndAt),
      onText: (tag) => tag !== undefined && reply.heard.add(tag),
      onEnd: (playoutEnd) => {
        record.playoutEndMs = playoutEnd - speechEndAt;
        reply.stopTimer = d.clock.setTimer(Math.max(0, playoutEnd + STOP_AFTER_PLAYOUT_MS - d.clock.now()), () =>
          d.system.send(d.self, { t: 'session.stop-due', turn }, { lane: 'system', session: d.sessionId }),
        );
      },
    });
    return turn;
  }

  /** A tool call of the model, run here (device MCP and server functions live on this thread). */
  callTool(call: ToolCall, signal: AbortSignal): Promise<ToolResult> {
    return runToolCall(this.#d, this.#role, this.#history, call, signal);
  }

  #sentence(text: string, index: number, emotion: string | undefined, spoken = false): void {
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
    if (!spoken) this.#crew.send('speak', { t: 'speak.say', text, sentence: index, voice: this.#voice }, 'data');
    // Streamed in pieces, a sentence's audio can start before its text is whole: its subtitle
    // then follows as soon as the text is known (ahead of the sentence's remaining frames).
    else if (r.started.has(index)) this.#subtitle(r, index);
  }

  #subtitle(r: Reply, sentence: number): void {
    const text = r.texts.get(sentence);
    if (text === undefined || r.shown.has(sentence)) return;
    r.shown.add(sentence);
    const d = this.#d;
    d.pacer.pushText(d.sessionId, r.turn, JSON.stringify({ session_id: d.sessionId, type: 'tts', state: 'sentence_start', text }), sentence);
  }

  #replyDone(text: string, sentences: number, emotion: string | undefined, firstTextMs: number | undefined, error: { code: string; message: string } | undefined, _turn?: number, remember = true): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    const d = this.#d;
    if (error) d.log.warn({ code: error.code }, `language model failed: ${error.message}`);
    if (firstTextMs !== undefined) r.record.firstTextMs = (r.record.ttsStartMs ?? 0) + firstTextMs;
    r.record.reply = text;
    r.sentences = sentences;
    if (r.track) {
      // The track is the reply's last "sentence": same turn, so an abort or barge-in stops it,
      // and its subtitle (the title) shows when its first frame plays.
      r.texts.set(sentences, `《${r.track.title}》`);
      this.#crew.send('speak', { t: 'speak.play', path: r.track.path, sentence: sentences, maxSeconds: r.track.maxSeconds }, 'data');
      r.sentences = sentences + 1;
    }
    if (!r.emotionSent && emotion) r.emotionSent = true;
    if (this.#closeAfterReply) r.closeAfter = true;
    if (remember && r.texts.size > 0 && !r.closeAfter) {
      this.#history.addAssistant(text);
      const exchange = this.#history.lastExchange();
      if (exchange && d.dialogue.memory) d.dialogue.memory.saveTurn(d.deviceId, exchange).catch((e: unknown) => d.log.warn({ err: e }, 'could not save the turn to memory'));
    }
    this.#maybeEnd(r);
  }

  #frames(frames: Uint8Array[], sentence: number, last: boolean): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    const d = this.#d;
    r.started.add(sentence);
    this.#subtitle(r, sentence);
    if (r.capture) {
      // Copies: the pacer's frames are sent (and may be transferred) before the cache writes.
      for (const f of frames) r.capture.frames.push(f.slice());
      if (last && d.quick) {
        const { key, frames: all } = r.capture;
        r.capture = undefined;
        d.quick.cache.put(key, all).catch((e: unknown) => d.log.warn({ err: e }, 'could not cache a quick reply'));
      }
    }
    if (frames.length) {
      d.pacer.pushFrames(d.sessionId, r.turn, frames);
      this.#idle.activity('audio');
    }
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
    if (r.closeAfter) {
      this.#d.log.info('goodbye said: closing');
      this.#d.link.close(1000, 'goodbye');
    }
  }

  #interrupt(why: string): void {
    const r = this.#reply;
    if (!r || r.ended) return;
    r.ended = true;
    r.stopTimer?.cancel();
    r.record.interrupted = true;
    // What the user heard ends here; the full text would put words in the model's mouth.
    this.#history.interrupted(r.spoken.filter((_, i) => r.heard.has(i)));
    this.#d.pacer.cancel(this.#d.sessionId);
    this.#newTurn();
    this.#crew.send('codec', { t: 'codec.reset' }, 'system');
    this.#d.log.info({ turn: r.turn, why }, 'reply interrupted');
    this.#remember(r.record);
  }

  #sendTtsStop(): void {
    const d = this.#d;
    d.link.sendJson({ session_id: d.sessionId, type: 'tts', state: 'stop' });
    d.apply({ e: 'tts-stop' });
    this.#crew.send('listen', { t: 'listen.playback', playing: false }, 'system');
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
}
