/**
 * Building envelopes from send options, shared by actor contexts (host.ts) and senders outside
 * any actor (system.ts), so both stamp session, turn, sequence, lane and expiry the same way;
 * and the context object each actor gets.
 */
import type { ActorContext, RequestOptions, SendOptions } from './actor.js';
import type { Clock } from './clock.js';
import type { Envelope, Msg, TurnTable } from './envelope.js';
import type { ActorHost } from './host.js';
import type { LocalActor, RequestVia } from './host-types.js';

/** Handed to handlers that take no signal, and by ctx.signal() outside a message: never aborts. */
export const NEVER: AbortSignal = new AbortController().signal;

export function actorContext(host: ActorHost, actor: LocalActor): ActorContext {
  const envelope = (to: string, msg: Msg, opts: SendOptions = {}): Envelope =>
    makeEnvelope(to, msg, opts, { from: actor.addr, session: actor.session, seq: ++actor.seq }, host.turns, host.clock);
  return {
    self: actor.addr,
    session: actor.session,
    clock: host.clock,
    send: (to, msg, opts) => void host.tell(envelope(to, msg, opts), opts?.transfer),
    request: <R>(to: string, msg: Msg, opts: RequestOptions = {}) => host.request<R>(envelope(to, msg, opts), viaOptions(opts)),
    turn: (session) => host.turns.current(session ?? actor.session),
    turnSignal: (turn, session) => host.turns.signal(session ?? actor.session, turn),
    signal: () => actor.running?.ctl.signal ?? NEVER,
    stopSelf: () => {
      if (actor.stopRequested) return;
      actor.stopRequested = true;
      queueMicrotask(() => void host.stopActor(actor.addr, false));
    },
  };
}

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
