/**
 * The firmware's conversation loop (protocol.md §6.2, §7.3, §7.4) driven by a scripted user: the
 * microphone streams on a fixed monotonic schedule (epoch + k × 60 ms) through the shared
 * scheduler, the user speaks an utterance (voice, then 0.5 s of silence; a push-to-talk user lets
 * go of the button just after the voice), the device waits for the reply, lets playback drain
 * after tts stop, and goes again. If the process stalls, the frames that fell due are sent
 * together on wake-up, as a device's mic task would, and their lateness is recorded so a user
 * can tell a slow simulator from a slow server.
 *
 * Non-talking (idle) devices keep the same tts start/stop bookkeeping, so a server that speaks to
 * them unprompted is measured too, but they never open the microphone.
 */
import type { DeviceEnv } from './device.js';
import type { Downlink } from './downlink.js';
import { timed } from './scheduler.js';
import { UPLINK_FRAME_MS, type SpeechSet, type Utterance } from './speech.js';
import type { TurnOutcome } from './turn.js';

/** What the conversation needs of its device's connection. */
export interface ConversationLink {
  readonly sessionId: string;
  /** False once the socket is gone or the device is stopping. */
  readonly live: boolean;
  sendJson(v: Record<string, unknown>): void;
  /** Sends one uplink frame; false when the socket is not open. */
  sendAudio(frame: Buffer): boolean;
}

type Waiting = 'speak' | 'reply' | 'stall';
/** Users do not all start talking at once: first speech within this long after the hello. */
const STAGGER_MS = 3500;
/** Push-to-talk: frames sent after the last voiced one before the button is released (120 ms). */
const RELEASE_FRAMES = 2;

export class Conversation {
  // microphone: on while listening (and always in realtime mode)
  #micOn = false;
  #micEpoch = 0;
  #micSeq = 0;
  readonly #micTimer = timed((now) => this.#micTick(now));
  /** One timer for whatever the device is waiting on: first speech, a reply, a drain. */
  readonly #waitTimer = timed((now) => this.#onWait(now));
  #waiting: Waiting | 'none' = 'none';
  // the scripted user
  #speech: SpeechSet | undefined;
  #utt: Utterance | undefined;
  #uttPos = 0;
  #uttIndex: number;
  #silencePos = 0;
  #turnOpen = false;

  constructor(
    private readonly link: ConversationLink,
    private readonly env: DeviceEnv,
    private readonly down: Downlink,
    /** Which built-in sentence this device says first (devices take turns through them). */
    first: number,
  ) {
    this.#uttIndex = first;
  }

  /** After the server hello: talking devices start their first turn after a random stagger. */
  begin(now: number, speech: SpeechSet | undefined): void {
    if (!this.env.opts.talk || !speech) return;
    this.#speech = speech;
    // Auto and realtime devices enter listening right after the hello and stream (silent) mic
    // audio until the user speaks; push-to-talk devices stay idle until the button is pressed.
    if (this.env.opts.listenMode !== 'manual') this.#listenStart(now);
    this.#wait('speak', now + this.env.rand() * STAGGER_MS);
  }

  stt(now: number): void {
    if (this.#turnOpen) this.down.turn.sttAt(now);
  }

  halt(): void {
    this.#micOn = false;
    this.env.sched.cancel(this.#micTimer);
    this.env.sched.cancel(this.#waitTimer);
    this.#waiting = 'none';
  }

  #wait(what: Waiting, at: number): void {
    this.#waiting = what;
    this.env.sched.at(this.#waitTimer, at);
  }

  #listenStart(now: number): void {
    this.link.sendJson({ session_id: this.link.sessionId, type: 'listen', state: 'start', mode: this.env.opts.listenMode });
    this.down.state = 'listening';
    this.#micStart(now);
  }

  #micStart(now: number): void {
    if (this.#micOn) return;
    this.#micOn = true;
    this.#micEpoch = now;
    this.#micSeq = 0;
    this.env.sched.at(this.#micTimer, now);
  }

  #micStop(): void {
    this.#micOn = false;
    this.env.sched.cancel(this.#micTimer);
  }

  #beginUtterance(now: number): void {
    const s = this.#speech;
    if (!s || s.utterances.length === 0) return;
    this.#utt = s.utterances[this.#uttIndex++ % s.utterances.length];
    this.#uttPos = 0;
    this.#turnOpen = true;
    this.down.newTurn();
    this.env.metrics.turnsStarted++;
    if (this.env.opts.listenMode === 'manual') this.#listenStart(now); // button pressed
    else this.#micStart(now);
  }

  #micTick(now: number): void {
    if (!this.#micOn) return;
    const m = this.env.metrics;
    // Send every frame that has fallen due (normally one); a stalled process catches up in a burst.
    for (;;) {
      const due = this.#micEpoch + this.#micSeq * UPLINK_FRAME_MS;
      if (due > now + 0.5) {
        this.env.sched.at(this.#micTimer, due);
        return;
      }
      this.#micSeq++;
      const frame = this.#nextFrame(now);
      if (!this.link.sendAudio(frame)) return;
      m.uplink(frame.length, now - due);
      if (!this.#micOn) return; // the utterance ended a push-to-talk press
    }
  }

  #nextFrame(now: number): Buffer {
    const utt = this.#utt;
    if (utt) {
      const i = this.#uttPos++;
      if (i === utt.lastVoiced) this.down.turn.speechEnded(now);
      // A push-to-talk user lets go of the button just after the voice; others trail off in silence.
      const last = this.env.opts.listenMode === 'manual' ? Math.min(utt.frames.length, utt.lastVoiced + 1 + RELEASE_FRAMES) : utt.frames.length;
      if (this.#uttPos >= last) this.#utteranceDone(now);
      return utt.frames[i]!;
    }
    const s = this.#speech!.silence;
    return s[this.#silencePos++ % s.length]!;
  }

  /** The user finished (voice plus the 0.5 s of silence): wait for the answer. */
  #utteranceDone(now: number): void {
    this.#utt = undefined;
    if (this.env.opts.listenMode === 'manual') {
      this.link.sendJson({ session_id: this.link.sessionId, type: 'listen', state: 'stop' }); // button released
      this.down.state = 'idle';
      this.#micOn = false; // #micTick sees this and stops
    }
    if (this.down.state !== 'speaking' && this.down.state !== 'draining') this.#wait('reply', now + this.env.opts.replyTimeoutMs);
  }

  ttsStart(now: number): void {
    const d = this.down;
    if (d.state === 'speaking') return; // a repeated start changes nothing (§6.2)
    if (!this.#turnOpen) {
      this.#turnOpen = true;
      d.newTurn(true);
    } else if (this.#utt) {
      // Cutting the trailing silence is normal (the server's VAD decided); cutting the voice is not.
      if (this.#uttPos <= this.#utt.lastVoiced) {
        this.env.metrics.error('reply-before-end-of-speech', 'tts start arrived while the user was still speaking (the server ended the utterance early)');
      }
      this.#utt = undefined;
    }
    d.turn.ttsStartAt(now);
    d.enterSpeaking();
    if (this.env.opts.listenMode !== 'realtime') this.#micStop(); // §6.2: speaking stops the mic
    this.#wait('stall', now + this.env.opts.replyTimeoutMs);
  }

  ttsStop(now: number): void {
    const d = this.down;
    if (d.state !== 'speaking') return; // only applies while speaking (§6.2)
    d.turn.ttsStopAt(now, d.playback.playEnd);
    // FW ≥ 2.2 lets local playback drain before listening again; frames arriving now are dropped.
    d.leaveSpeaking('draining');
    this.#wait('speak', Math.max(now, d.playback.playEnd));
  }

  #onWait(now: number): void {
    const what = this.#waiting;
    this.#waiting = 'none';
    switch (what) {
      case 'reply':
        return this.#endTurn('no-reply', now);
      case 'stall': {
        const quietUntil = this.down.lastActivity + this.env.opts.replyTimeoutMs;
        if (quietUntil > now) return this.#wait('stall', quietUntil);
        return this.#endTurn('stalled', now);
      }
      case 'speak':
        if (this.#turnOpen) return this.#endTurn(this.down.turn.answered && !this.down.unsolicited ? 'answered' : 'unsolicited', now);
        return this.#beginUtterance(now);
      case 'none':
        return;
    }
  }

  #endTurn(outcome: TurnOutcome, now: number): void {
    if (this.#turnOpen) this.down.finishTurn(outcome);
    this.#turnOpen = false;
    this.#utt = undefined;
    if (!this.link.live) return;
    const mode = this.env.opts.listenMode;
    if (!this.#speech) {
      this.down.state = 'idle'; // an idle device spoken to unprompted: nothing more to do
      return;
    }
    // Back to listening: auto sends a fresh listen start after a reply; realtime never stopped.
    if (mode === 'auto' && this.down.state !== 'listening') this.#listenStart(now);
    else if (mode === 'realtime') {
      this.down.state = 'listening';
      this.#micStart(now);
    } else this.down.state = 'idle';
    this.#beginUtterance(now);
  }
}
