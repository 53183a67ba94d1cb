/**
 * The envelope every actor message travels in, on one thread or across threads.
 *
 * Lanes:
 * - `system` messages survive interruption and are delivered before anything queued;
 * - `data` messages belong to a turn: once a session's turn moves on, `data` of older turns is
 *   dropped at the mailbox (on arrival and again when dequeued) without the actor seeing it;
 * - `stream` messages are ordered with `data` but belong to no turn (uplink audio and what is
 *   heard in it must survive a barge-in: that is when the user starts talking).
 */
import { E, XzError } from './errors.js';

export type Lane = 'system' | 'data' | 'stream';

/** Every actor message is a discriminated union member on `t`, named `'<actor>.<name>'`. */
export interface Msg {
  readonly t: string;
}

/** A message as a sender writes it: any fields beside `t` (the receiver's union checks them). */
export type AnyMsg = Msg & { readonly [field: string]: unknown };

export interface Envelope<M extends Msg = Msg> {
  /** Address of the receiving actor. */
  to: string;
  /** Address of the sender, if it is an actor. */
  from?: string | undefined;
  /** Session the message belongs to ('' for none). */
  session: string;
  /** Turn within the session; 0 when the session has no turns. */
  turn: number;
  /** Per-sender sequence number, for ordering checks and diagnostics. */
  seq: number;
  lane: Lane;
  /** Clock time after which a `data` message is worthless and dropped unseen. */
  expiresAt?: number | undefined;
  msg: M;
}

/**
 * Turn numbers per session, one table per thread, shared by all mailboxes there. An envelope
 * carrying a newer turn moves the table forward too, so a barge-in that reaches a thread as a
 * new turn's first message still invalidates the old turn's backlog.
 */
export class TurnTable {
  readonly #turns = new Map<string, number>();
  /** At most one live controller per session: the one of its current turn. */
  readonly #signals = new Map<string, { turn: number; ctl: AbortController }>();

  current(session: string): number {
    return this.#turns.get(session) ?? 0;
  }

  /** Raises the session's turn; returns true if it moved. Turns never go backwards. */
  bump(session: string, turn: number): boolean {
    if (turn <= (this.#turns.get(session) ?? 0)) return false;
    this.#turns.set(session, turn);
    const s = this.#signals.get(session);
    if (s && s.turn < turn) {
      this.#signals.delete(session);
      s.ctl.abort(new XzError(E.XZ_ERR_STALE_TURN, 'turn superseded'));
    }
    return true;
  }

  forget(session: string): void {
    this.#turns.delete(session);
    const s = this.#signals.get(session);
    this.#signals.delete(session);
    s?.ctl.abort(new XzError(E.XZ_ERR_STALE_TURN, 'session forgotten'));
  }

  /**
   * Aborts when the session moves past `turn` on this thread (or is forgotten): for work that
   * outlives the message that started it, such as a reply's audio pump fed by later messages.
   */
  signal(session: string, turn: number): AbortSignal {
    const stale = () => AbortSignal.abort(new XzError(E.XZ_ERR_STALE_TURN, 'turn superseded'));
    if (turn < this.current(session)) return stale();
    const s = this.#signals.get(session);
    if (s && s.turn === turn) return s.ctl.signal;
    if (s && s.turn > turn) return stale();
    // A newer turn than the last signal's: that older turn is over here too.
    s?.ctl.abort(new XzError(E.XZ_ERR_STALE_TURN, 'turn superseded'));
    const ctl = new AbortController();
    this.#signals.set(session, { turn, ctl });
    return ctl.signal;
  }

  isStale(env: Envelope): boolean {
    return env.lane === 'data' && env.turn < (this.#turns.get(env.session) ?? 0);
  }

  get size(): number {
    return this.#turns.size;
  }
}
