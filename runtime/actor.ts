/**
 * What an actor is: a definition (start, receive, stop) plus a mailbox declaration. The same
 * definition runs on the main thread or inside a worker; the host around it decides where.
 *
 * `receive` runs to completion before the next message (an async receive is awaited). For a
 * request, its return value is the reply; wrap it in `withTransfer` to move buffers back.
 */
import type { Transferable } from './wire.js';
import type { Clock } from './clock.js';
import type { AnyMsg, Envelope, Lane, Msg } from './envelope.js';
import type { MailboxOptions } from './mailbox.js';

export interface SendOptions {
  lane?: Lane;
  /** Defaults to the sender's session. */
  session?: string;
  /** Defaults to the session's current turn on this thread. */
  turn?: number;
  /** Buffers to move (not copy) when the message crosses a thread. */
  transfer?: readonly Transferable[];
  /** Drop the message unseen if it is still queued after this many ms. */
  ttlMs?: number;
}

export interface RequestOptions extends SendOptions {
  /** Defaults to the host's request timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface ActorContext {
  readonly self: string;
  /** The session this actor serves ('' for shared actors). */
  readonly session: string;
  readonly clock: Clock;
  send(to: string, msg: AnyMsg, opts?: SendOptions): void;
  request<R = unknown>(to: string, msg: AnyMsg, opts?: RequestOptions): Promise<R>;
  /** Current turn of a session on this thread (default: this actor's session). */
  turn(session?: string): number;
  /**
   * The signal of the message being handled (call it before the handler's first await): for
   * handlers that do not declare `receive`'s `signal` parameter, which then costs nothing.
   */
  signal(): AbortSignal;
  /** Aborts once the session (default: this actor's) moves past `turn` here, or is forgotten. */
  turnSignal(turn: number, session?: string): AbortSignal;
  /** Stops this actor after the current message. */
  stopSelf(): void;
}

export interface ActorDef<S = unknown, I = unknown, M extends Msg = Msg> {
  readonly mailbox?: MailboxOptions;
  start(ctx: ActorContext, init: I): S | Promise<S>;
  /**
   * `signal` aborts when a request's caller gives up, the message's turn goes stale, or the actor
   * is being stopped. Declare it only if the handler uses it (see ActorContext.signal).
   */
  receive(state: S, msg: M, env: Envelope<M>, ctx: ActorContext, signal: AbortSignal): unknown;
  stop?(state: S, ctx: ActorContext): void | Promise<void>;
}

/** Identity helper that keeps the type parameters of a definition. */
export function defineActor<S, I = void, M extends Msg = Msg>(def: ActorDef<S, I, M>): ActorDef<S, I, M> {
  return def;
}

const kTransfer = Symbol.for('xz.transfer');

export interface Transferring<T = unknown> {
  readonly [kTransfer]: true;
  readonly value: T;
  readonly transfer: readonly Transferable[];
}

/** Marks a reply whose buffers move to the caller instead of being copied. */
export function withTransfer<T>(value: T, transfer: readonly Transferable[]): Transferring<T> {
  return { [kTransfer]: true, value, transfer };
}

export function isTransferring(x: unknown): x is Transferring {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[kTransfer] === true;
}

const kDetached = Symbol.for('xz.detached');

export interface Detached<T = unknown> {
  readonly [kDetached]: true;
  readonly promise: Promise<T>;
}

/**
 * Answers a request later without holding the mailbox: the actor moves on to its next message
 * while `promise` runs, and the requester gets its outcome. For answers that wait on something
 * slow elsewhere (a device running a tool) in an actor that must keep handling its stream.
 */
export function detached<T>(promise: Promise<T>): Detached<T> {
  return { [kDetached]: true, promise };
}

export function isDetached(x: unknown): x is Detached {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[kDetached] === true;
}

/** A worker module: the actor kinds it offers and an optional per-worker boot step. */
export interface ActorModule {
  actors: Record<string, ActorDef<any, any, any>>;
  /** Loads what all actors of this worker share (a model session, a codec library). */
  boot?(data: unknown): void | Promise<void>;
  /** Releases what boot loaded, after every actor stopped. */
  shutdown?(): void | Promise<void>;
  /** Running totals of this worker's actors (utterances, barge-ins, …), for the status page. */
  counters?(): Record<string, number>;
}

export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && typeof x === 'object' && typeof (x as PromiseLike<unknown>).then === 'function';
}
