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

  current(session: string): number {
    return this.#turns.get(session) ?? 0;
  }

  /** Raises the session's turn; returns true if it moved. Turns never go backwards. */
  bump(session: string, turn: number): boolean {
    if (turn <= (this.#turns.get(session) ?? 0)) return false;
    this.#turns.set(session, turn);
    return true;
  }

  forget(session: string): void {
    this.#turns.delete(session);
  }

  isStale(env: Envelope): boolean {
    return env.lane === 'data' && env.turn < (this.#turns.get(env.session) ?? 0);
  }

  get size(): number {
    return this.#turns.size;
  }
}
