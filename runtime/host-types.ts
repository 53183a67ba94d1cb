/** Shapes shared by the actor host and its helpers. */
import type { ActorContext, ActorDef } from './actor.js';
import type { Clock } from './clock.js';
import type { Envelope } from './envelope.js';
import type { WireError, XzError } from './errors.js';
import type { Mailbox } from './mailbox.js';
import type { Channel, HostMsg, Transferable } from './wire.js';

export interface HostOptions {
  name: string;
  clock?: Clock;
  /** Actor kinds this host can spawn by name (workers get theirs from their modules). */
  kinds?: Record<string, ActorDef<any, any, any>>;
  /** Default request timeout, ms (30 s). */
  requestTimeoutMs?: number;
  /** Where unknown addresses go: the main thread, for a worker's host. */
  parent?: Channel;
  /** The loaded modules' running totals, reported with the host's stats. */
  counters?: () => Record<string, number>;
  /** An actor's handler threw on a message nobody waited for. */
  onFault?: (addr: string, err: WireError) => void;
  /** Host control messages this host does not handle itself (ports, stop) go here. */
  onControl?: (msg: HostMsg, from: Channel | null) => unknown;
}

export interface LocalActor {
  addr: string;
  session: string;
  def: ActorDef<any, any, any>;
  state: unknown;
  mailbox: Mailbox;
  ctx: ActorContext;
  /** Set when the actor is being stopped: messages still delivered start aborted. */
  stopReason: XzError | undefined;
  seq: number;
  stopRequested: boolean;
  /** The message being handled and its signal's controller, so a barge-in can abort it. */
  running: { env: Envelope; ctl: AbortController } | undefined;
}

export type Pending =
  | { kind: 'own'; channel: Channel; settle: (err: XzError | null, value?: unknown) => void }
  | { kind: 'forward'; channel: Channel; origin: Channel; originId: number };

export interface RequestVia {
  timeoutMs?: number;
  signal?: AbortSignal;
  transfer?: readonly Transferable[];
}

export interface HostStats {
  actors: number;
  pending: number;
  sessions: number;
  depth: number;
  delivered: number;
  dropped: number;
  refused: number;
  faults: number;
  /** Frames this thread relayed between two other threads (worker traffic without a link). */
  forwarded: number;
  /** This thread's V8 heap in use and its off-heap buffers, MB: where memory grows, per thread. */
  heapUsedMb: number;
  externalMb: number;
  /** The modules' own running totals (ActorModule.counters), when they keep any. */
  counters?: Record<string, number>;
}

