/**
 * Building envelopes from send options, shared by actor contexts (host.ts) and senders outside
 * any actor (system.ts), so both stamp session, turn, sequence, lane and expiry the same way.
 */
import type { RequestOptions, SendOptions } from './actor.js';
import type { Clock } from './clock.js';
import type { Envelope, Msg, TurnTable } from './envelope.js';
import type { RequestVia } from './host-types.js';

export interface Stamp {
  from?: string | undefined;
  /** Session used when the options name none. */
  session: string;
  seq: number;
}

export function makeEnvelope(to: string, msg: Msg, opts: SendOptions, stamp: Stamp, turns: TurnTable, clock: Clock): Envelope {
  const session = opts.session ?? stamp.session;
  return {
    to,
    from: stamp.from,
    session,
    turn: opts.turn ?? turns.current(session),
    seq: stamp.seq,
    lane: opts.lane ?? 'data',
    expiresAt: opts.ttlMs === undefined ? undefined : clock.now() + opts.ttlMs,
    msg,
  };
}

/** The transport part of request options (timeout, abort, transfer). */
export function viaOptions(opts: RequestOptions): RequestVia {
  const req: RequestVia = {};
  if (opts.timeoutMs !== undefined) req.timeoutMs = opts.timeoutMs;
  if (opts.signal) req.signal = opts.signal;
  if (opts.transfer) req.transfer = opts.transfer;
  return req;
}
