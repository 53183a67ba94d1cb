/**
 * Session policy that needs no model (protocol.md §11): exit phrases, the wake-word greeting and
 * the tail of the wake word, idle handling, and the activation prompt of unbound devices. Each is
 * a small object the session drives; time comes from an injected Clock so tests run on SimClock.
 */
import type { Clock, Timer } from '../../runtime/clock.js';
import { renderTemplate } from './prompt.js';

/** What compares equal for phrases: NFKC, lower case, no punctuation, symbols or spaces. */
export function normalizePhrase(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{S}\s]/gu, '');
}

export type Intent = 'exit' | 'chat' | 'empty';

/** Recognized text → what the session does with it, before any model sees it. */
export class IntentMatcher {
  readonly #exit: Set<string>;

  constructor(exitPhrases: readonly string[]) {
    this.#exit = new Set(exitPhrases.map(normalizePhrase).filter((p) => p !== ''));
  }

  /** Exit only on the whole utterance ("退出。", "Bye-bye!"), as PY does: "退出登录怎么弄" is a question. */
  classify(text: string): Intent {
    const n = normalizePhrase(text);
    if (n === '') return 'empty';
    return this.#exit.has(n) ? 'exit' : 'chat';
  }
}

// ── wake word ───────────────────────────────────────────────────────────────────────────────

export type DetectOutcome =
  /** A wake word: speak `greeting` (null: answer with stt + tts stop only). */
  | { readonly kind: 'wake'; readonly greeting: string | null }
  /** Any other text is a typed user turn. */
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'empty' };

export interface WakeOptions {
  readonly wakeWords: readonly string[];
  readonly greeting: string | null;
  /** Speech starting this soon after a wake-up is the wake word's own tail. */
  readonly tailMs: number;
  readonly clock: Clock;
}

/**
 * `listen detect`: the device sends the wake word's audio (up to ~2 s) just before the message,
 * so VAD may hear the wake word again as if it were the question. PY ignores its VAD for ~2 s
 * after a wake-up; `ignoreSpeech()` says whether that window is still open.
 */
export class WakeGate {
  readonly #words: Set<string>;
  readonly #o: WakeOptions;
  #wokeAt: number | undefined;

  constructor(o: WakeOptions) {
    this.#o = o;
    this.#words = new Set(o.wakeWords.map(normalizePhrase).filter((w) => w !== ''));
  }

  isWakeWord(text: string): boolean {
    return this.#words.has(normalizePhrase(text));
  }

  detect(text: string): DetectOutcome {
    if (this.isWakeWord(text)) {
      this.#wokeAt = this.#o.clock.now();
      const g = this.#o.greeting?.trim();
      return { kind: 'wake', greeting: g ? g : null };
    }
    return normalizePhrase(text) === '' ? { kind: 'empty' } : { kind: 'text', text: text.trim() };
  }

  /** True while speech (VAD start, a transcript) should be dropped as the wake word's tail. */
  ignoreSpeech(at: number = this.#o.clock.now()): boolean {
    return this.#wokeAt !== undefined && at >= this.#wokeAt && at < this.#wokeAt + this.#o.tailMs;
  }
}

// ── idle ────────────────────────────────────────────────────────────────────────────────────

export type IdleAction = 'farewell' | 'close';
export type IdleState = 'stopped' | 'active' | 'farewell' | 'closed';
/** `speech`: the user spoke (VAD) or typed; `audio`: we sent audio (a reply, music). */
export type Activity = 'speech' | 'audio';

export interface IdleOptions {
  readonly clock: Clock;
  /** No activity this long ⇒ 'farewell'; 0 disables idle handling altogether. */
  readonly farewellMs: number;
  /** After the farewell, this long without activity ⇒ 'close' (a hung farewell turn cannot keep the socket). */
  readonly closeMs: number;
  readonly onAction: (a: IdleAction) => void;
}

/**
 * active ──no activity for farewellMs──▶ farewell (the session says goodbye, closes after it)
 *   ▲                                      │ speech: the user is back ─▶ active
 *   └──────────────────────────────────────┘ no activity for closeMs ─▶ closed ('close')
 *
 * Sending audio counts as activity (a long story or a song is not idleness) and, in 'farewell',
 * pushes the hard close back so the goodbye itself is not cut off. Only speech leaves 'farewell'.
 *
 * Activity is recorded as a time stamp and the one timer re-arms itself lazily when it fires,
 * so marking activity for every audio frame costs no timer churn.
 */
export class IdlePolicy {
  readonly #o: IdleOptions;
  #state: IdleState = 'stopped';
  #last = 0;
  #timer: Timer | undefined;

  constructor(o: IdleOptions) {
    this.#o = o;
  }

  get state(): IdleState {
    return this.#state;
  }

  /** Starts watching (after the hello). */
  start(): void {
    if (this.#o.farewellMs <= 0 || this.#state !== 'stopped') return;
    this.#state = 'active';
    this.#last = this.#o.clock.now();
    this.#arm(this.#o.farewellMs);
  }

  activity(kind: Activity): void {
    if (this.#state === 'stopped' || this.#state === 'closed') return;
    this.#last = this.#o.clock.now();
    if (this.#state === 'farewell' && kind === 'speech') {
      this.#state = 'active';
      this.#timer?.cancel();
      this.#arm(this.#o.farewellMs);
    }
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (this.#state !== 'closed') this.#state = 'stopped';
  }

  #arm(ms: number): void {
    this.#timer = this.#o.clock.setTimer(ms, () => this.#due());
  }

  #due(): void {
    this.#timer = undefined;
    const limit = this.#state === 'active' ? this.#o.farewellMs : this.#o.closeMs;
    const left = this.#last + limit - this.#o.clock.now();
    if (left > 0) return this.#arm(left);
    if (this.#state === 'active') {
      this.#state = 'farewell';
      // The close countdown starts at the farewell, and audio of the goodbye extends it.
      this.#last = this.#o.clock.now();
      this.#arm(this.#o.closeMs);
      this.#o.onAction('farewell');
    } else if (this.#state === 'farewell') {
      this.#state = 'closed';
      this.#o.onAction('close');
    }
  }
}

// ── activation ──────────────────────────────────────────────────────────────────────────────

export interface ActivationPromptOptions {
  readonly clock: Clock;
  /** Template with `{{code}}` (digits spaced, so TTS reads them one by one) and `{{code_raw}}`. */
  readonly template: string;
  /** Default 60 s. */
  readonly intervalMs?: number;
  /** Devices remembered at most (old entries go first). Default 10 000. */
  readonly maxDevices?: number;
}

/**
 * Unbound devices hear their binding code instead of a conversation, at most once a minute per
 * device. Shared by all sessions (one per process), so a device that reconnects every few
 * seconds is not told its code on every connection.
 */
export class ActivationPrompter {
  readonly #o: ActivationPromptOptions;
  readonly #interval: number;
  readonly #max: number;
  readonly #last = new Map<string, number>();

  constructor(o: ActivationPromptOptions) {
    this.#o = o;
    this.#interval = o.intervalMs ?? 60_000;
    this.#max = o.maxDevices ?? 10_000;
  }

  /** The text to speak now, or undefined when this device heard it less than a minute ago. */
  due(deviceId: string, code: string): string | undefined {
    const now = this.#o.clock.now();
    const last = this.#last.get(deviceId);
    if (last !== undefined && now - last < this.#interval) return undefined;
    this.#last.delete(deviceId);
    this.#last.set(deviceId, now);
    // A Map iterates in insertion order: the first key is the longest unprompted device.
    while (this.#last.size > this.#max) {
      const oldest = this.#last.keys().next().value;
      if (oldest === undefined) break;
      this.#last.delete(oldest);
    }
    return activationText(this.#o.template, code);
  }
}

export function activationText(template: string, code: string): string {
  return renderTemplate(template, { code: [...code].join(' '), code_raw: code }).text;
}
