/**
 * The actor host of one thread: its local actors and their mailboxes, routes to actors on other
 * threads, and the requests in flight in both directions.
 *
 *   send/request ──▶ local actor? ──▶ its mailbox
 *                    route?       ──▶ channel to the thread that has it (worker, peer port)
 *                    parent?      ──▶ the main thread, which routes further
 *
 * Frames from other threads enter through `receive(frame, channel)`. A request that main cannot
 * answer itself is forwarded with a fresh id and its answer relayed back, so a worker can reach
 * any actor without knowing where it lives. When a channel dies, every request waiting on it is
 * failed with XZ_ERR_WORKER_CRASHED at once instead of waiting for its timeout.
 */
import type { ActorDef } from './actor.js';
import { isDetached, isThenable, isTransferring } from './actor.js';
import { realClock, type Clock, type Timer } from './clock.js';
import { TurnTable, type Envelope, type Msg } from './envelope.js';
import { E, XzError, asXzError, fromWire, toWire, type WireError } from './errors.js';
import { Mailbox, foldMailboxStats, type Delivery, type MailboxStats } from './mailbox.js';
import { HOST, type Channel, type Frame, type HostMsg, type Transferable } from './wire.js';
import type { HostOptions, HostStats, LocalActor, Pending, RequestVia } from './host-types.js';

export type { HostOptions, HostStats, RequestVia } from './host-types.js';
import { collectTransferables } from './transfer.js';
import { NEVER, actorContext } from './context.js';
import { threadMemory } from './loop-delay.js';

/**
 * The abort reason of every stopping actor's handler: one shared instance, because a mass
 * disconnect stops thousands of actors at once and capturing a stack for each was a third of
 * the main thread's time (cpu profile, 5,000 sockets closing together).
 */
const STOPPING = new XzError(E.XZ_ERR_ABORTED, 'actor stopping');

export class ActorHost {
  readonly name: string;
  readonly clock: Clock;
  readonly turns = new TurnTable();
  readonly requestTimeoutMs: number;

  readonly #kinds: Record<string, ActorDef<any, any, any>>;
  readonly #actors = new Map<string, LocalActor>();
  readonly #routes = new Map<string, Channel>();
  readonly #pending = new Map<number, Pending>();
  /** Requests being handled here for a remote caller, by channel then id: for cancel. */
  readonly #incoming = new Map<Channel, Map<number, () => void>>();
  readonly #parent: Channel | undefined;
  readonly #onFault: ((addr: string, err: WireError) => void) | undefined;
  readonly #onControl: ((msg: HostMsg, from: Channel | null) => unknown) | undefined;
  readonly #counters: (() => Record<string, number>) | undefined;
  #nextId = 1;
  #faults = 0;
  #noRoute = 0;
  #forwarded = 0;
  #retired: MailboxStats[] = [];

  constructor(opts: HostOptions) {
    this.name = opts.name;
    this.clock = opts.clock ?? realClock;
    this.#kinds = opts.kinds ?? {};
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#parent = opts.parent;
    this.#onFault = opts.onFault;
    this.#onControl = opts.onControl;
    this.#counters = opts.counters;
  }

  // ── actors ──────────────────────────────────────────────────────────────────────────────

  async spawn<I>(addr: string, def: ActorDef<any, I, any> | string, init: I, session = ''): Promise<void> {
    if (this.#actors.has(addr) || addr === HOST) throw new XzError(E.XZ_ERR_ACTOR_EXISTS, `actor ${addr} exists`);
    const d = typeof def === 'string' ? this.#kinds[def] : def;
    if (!d) throw new XzError(E.XZ_ERR_NO_SUCH_ACTOR, `no actor kind "${String(def)}" on ${this.name}`);
    const actor = {
      addr,
      session,
      def: d,
      state: undefined,
      stopReason: undefined,
      seq: 0,
      stopRequested: false,
      running: undefined,
    } as LocalActor;
    actor.ctx = actorContext(this, actor);
    actor.mailbox = new Mailbox((dl) => this.#handle(actor, dl), this.clock, this.turns, d.mailbox);
    // A synchronous start registers the actor before spawn() returns its promise, so messages
    // sent right after spawning (a socket's first frame) already find it.
    const started = d.start(actor.ctx, init);
    actor.state = isThenable(started) ? await started : started;
    if (this.#actors.has(addr)) throw new XzError(E.XZ_ERR_ACTOR_EXISTS, `actor ${addr} exists`);
    this.#actors.set(addr, actor);
  }

  /**
   * Stops an actor. With `drain`, queued messages run first; otherwise they are refused and the
   * running handler's signal aborts. Its `stop` hook runs last.
   */
  async stopActor(addr: string, drain = false): Promise<void> {
    const actor = this.#actors.get(addr);
    if (!actor) return;
    actor.mailbox.close(drain);
    if (!drain) {
      actor.stopReason = STOPPING;
      actor.running?.ctl.abort(STOPPING);
    }
    await actor.mailbox.idle();
    this.#actors.delete(addr);
    this.#retired.push(actor.mailbox.stats());
    if (this.#retired.length > 64) this.#retired = [foldMailboxStats(this.#retired)];
    try {
      await actor.def.stop?.(actor.state, actor.ctx);
    } catch (e) {
      this.#fault(addr, e);
    }
  }

  /** Waits until every mailbox here is idle at the same moment; returns messages delivered so far. */
  async drain(): Promise<number> {
    for (;;) {
      const busy = [...this.#actors.values()].filter((a) => a.mailbox.busy);
      if (busy.length === 0) break;
      await Promise.all(busy.map((a) => a.mailbox.idle()));
    }
    return this.stats().delivered;
  }

  /** Drains every mailbox, then stops actors, newest first. */
  async drainAndStop(): Promise<void> {
    await this.drain();
    for (const addr of [...this.#actors.keys()].reverse()) await this.stopActor(addr, true);
  }

  // ── routing ─────────────────────────────────────────────────────────────────────────────

  setRoute(addr: string, via: Channel | null): void {
    if (via) this.#routes.set(addr, via);
    else this.#routes.delete(addr);
  }

  /** Delivers a message; returns what the mailbox said (a promise while a `block` mailbox is full). */
  tell(env: Envelope, transfer?: readonly Transferable[]): boolean | Promise<boolean> {
    const local = this.#actors.get(env.to);
    if (local) return local.mailbox.put({ env });
    if (env.to === HOST) {
      this.#controlAsync(env.msg as HostMsg, null).catch((e) => this.#fault(HOST, e));
      return true;
    }
    const ch = this.#routes.get(env.to) ?? this.#parent;
    if (!ch || !ch.alive) {
      this.#noRoute++;
      return false;
    }
    this.#post(ch, { k: 'tell', env }, transfer);
    return true;
  }

  request<R = unknown>(env: Envelope, opts: RequestVia = {}): Promise<R> {
    return this.#request<R>(env, opts, undefined);
  }

  /** Sends a request over one channel whatever the routes say: control of a specific worker. */
  requestVia<R = unknown>(ch: Channel, env: Envelope, opts: RequestVia = {}): Promise<R> {
    return this.#request<R>(env, opts, ch);
  }

  /** Sends a one-way message over one channel whatever the routes say. */
  tellVia(ch: Channel, env: Envelope, transfer?: readonly Transferable[]): void {
    if (ch.alive) this.#post(ch, { k: 'tell', env }, transfer);
  }

  #request<R>(env: Envelope, opts: RequestVia, via: Channel | undefined): Promise<R> {
    if (opts.signal?.aborted) return Promise.reject(new XzError(E.XZ_ERR_ABORTED, 'aborted before sending'));
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    return new Promise<R>((resolve, reject) => {
      let timer: Timer | undefined;
      let onAbort: (() => void) | undefined;
      let done = false;
      // Settles once, whichever comes first: the answer, the timeout or the caller's abort.
      const finish = (err: XzError | null, value?: unknown): boolean => {
        if (done) return false;
        done = true;
        timer?.cancel();
        if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve((isTransferring(value) ? value.value : value) as R);
        return true;
      };
      // How to give up depends on where the request went: abort the local handler, or tell the
      // remote thread to cancel.
      let giveUp: (err: XzError) => void = (err) => void finish(err);
      timer = this.clock.setTimer(timeoutMs, () => giveUp(new XzError(E.XZ_ERR_REQUEST_TIMEOUT, `${env.msg.t} to ${env.to}: no answer in ${timeoutMs} ms`)));
      if (opts.signal) {
        onAbort = () => giveUp(new XzError(E.XZ_ERR_ABORTED, 'request aborted'));
        opts.signal.addEventListener('abort', onAbort, { once: true });
      }
      const local = via ? undefined : this.#actors.get(env.to);
      if (!via && (local || env.to === HOST)) {
        const cancel = new AbortController();
        giveUp = (err) => {
          if (finish(err)) cancel.abort(err);
        };
        if (local) void local.mailbox.put({ env, settle: finish, signal: cancel.signal });
        else {
          Promise.resolve()
            .then(() => this.#control(env.msg as HostMsg, null))
            .then((v) => finish(null, v), (e) => finish(asXzError(e)));
        }
        return;
      }
      const ch = via ?? this.#routes.get(env.to) ?? this.#parent;
      if (!ch || !ch.alive) {
        finish(ch ? new XzError(E.XZ_ERR_WORKER_CRASHED, `${ch.name} is down`) : new XzError(E.XZ_ERR_NO_SUCH_ACTOR, `no actor at ${env.to}`));
        return;
      }
      const id = this.#nextId++;
      this.#pending.set(id, { kind: 'own', channel: ch, settle: finish });
      giveUp = (err) => {
        if (!this.#pending.delete(id)) return;
        finish(err);
        this.#post(ch, { k: 'cancel', id });
      };
      try {
        this.#post(ch, { k: 'req', id, env }, opts.transfer, true);
      } catch (e) {
        this.#pending.delete(id);
        finish(asXzError(e));
      }
    });
  }

  /** Moves a session to a new turn here and drops the old turn's queued data everywhere. */
  bumpTurn(session: string, turn: number): void {
    if (!this.turns.bump(session, turn)) return;
    for (const a of this.#actors.values()) {
      if (a.mailbox.depth > 0) a.mailbox.purgeStale();
      // A handler still working on the old turn (a TTS stream, an LLM call) is told to stop now.
      const r = a.running;
      if (r && r.env.session === session && this.turns.isStale(r.env)) r.ctl.abort(new XzError(E.XZ_ERR_STALE_TURN));
    }
  }

  /** Entry point for frames from another thread. */
  receive(frame: Frame, from: Channel): void {
    switch (frame.k) {
      case 'tell': {
        const { env } = frame;
        if (env.to === HOST) {
          this.#controlAsync(env.msg as HostMsg, from).catch((e) => this.#fault(HOST, e));
          return;
        }
        const local = this.#actors.get(env.to);
        if (local) {
          void local.mailbox.put({ env });
          return;
        }
        const ch = this.#routes.get(env.to) ?? (from === this.#parent ? undefined : this.#parent);
        if (ch && ch.alive && ch !== from) {
          this.#forwarded++;
          this.#post(ch, frame, collectTransferables(env.msg));
        }
        else this.#noRoute++;
        return;
      }
      case 'req':
        this.#incomingRequest(frame.id, frame.env, from);
        return;
      case 'res': {
        const p = this.#pending.get(frame.id);
        if (!p) return; // answered after its timeout or abort: nobody waits
        this.#pending.delete(frame.id);
        if (p.kind === 'forward') {
          this.#incoming.get(p.origin)?.delete(p.originId);
          const relayed = { ...frame, id: p.originId };
          this.#post(p.origin, relayed, frame.ok ? collectTransferables(frame.value) : undefined);
          return;
        }
        if (frame.ok) p.settle(null, frame.value);
        else p.settle(fromWire(frame.error));
        return;
      }
      case 'cancel':
        this.#incoming.get(from)?.get(frame.id)?.();
        return;
      case 'fault':
        this.#faults++;
        this.#onFault?.(frame.addr, frame.error);
        return;
      case 'ready':
      case 'boot-failed':
        return; // handshake frames belong to the worker handle
    }
  }

  /**
   * A channel is gone: fail everything waiting on it. Routes through it are removed when
   * `dropRoutes` (a peer port); a supervisor's slot keeps its routes across restarts.
   */
  failChannel(ch: Channel, err: XzError, dropRoutes: boolean): void {
    for (const [id, p] of this.#pending) {
      if (p.channel !== ch) continue;
      this.#pending.delete(id);
      if (p.kind === 'own') p.settle(err);
      else {
        this.#incoming.get(p.origin)?.delete(p.originId);
        this.#post(p.origin, { k: 'res', id: p.originId, ok: false, error: toWire(err) });
      }
    }
    const incoming = this.#incoming.get(ch);
    if (incoming) {
      for (const cancel of incoming.values()) cancel();
      this.#incoming.delete(ch);
    }
    if (dropRoutes) for (const [addr, via] of this.#routes) if (via === ch) this.#routes.delete(addr);
  }

  stats(): HostStats {
    const all = [...this.#retired, ...[...this.#actors.values()].map((a) => a.mailbox.stats())];
    const f = foldMailboxStats(all);
    return {
      actors: this.#actors.size,
      pending: this.#pending.size,
      sessions: this.turns.size,
      depth: f.depth + f.systemDepth + f.waiting,
      delivered: f.delivered,
      dropped: f.droppedStale + f.droppedExpired + f.droppedOverflow + f.droppedCancelled + this.#noRoute,
      refused: f.refused,
      faults: this.#faults,
      forwarded: this.#forwarded,
      ...threadMemory(),
      ...(this.#counters ? { counters: this.#counters() } : {}),
    };
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────

  #handle(actor: LocalActor, d: Delivery): void | Promise<void> {
    // One controller per message: aborted when the actor stops, when a requester gives up, or
    // when a barge-in makes this message's turn stale (see bumpTurn).
    const ctl = new AbortController();
    if (actor.stopReason) ctl.abort(actor.stopReason);
    const reqSignal = d.signal;
    if (reqSignal) {
      if (reqSignal.aborted) ctl.abort(reqSignal.reason);
      else reqSignal.addEventListener('abort', () => ctl.abort(reqSignal.reason), { once: true });
    }
    const running = { env: d.env, ctl };
    actor.running = running;
    const done = () => {
      if (actor.running === running) actor.running = undefined;
    };
    let result: unknown;
    try {
      // A signal costs ~2 µs to create (an EventTarget), more than the rest of a delivery: only
      // handlers that declare the parameter get one; others can ask ctx.signal() when they need it.
      result = actor.def.receive(actor.state, d.env.msg, d.env, actor.ctx, actor.def.receive.length >= 5 ? ctl.signal : NEVER);
    } catch (e) {
      done();
      this.#failed(actor, d, e);
      return;
    }
    if (isDetached(result)) {
      done();
      result.promise.then(
        (v) => d.settle?.(null, v),
        (e) => this.#failed(actor, d, e),
      );
      return;
    }
    if (isThenable(result)) {
      return (result as Promise<unknown>).then(
        (v) => {
          done();
          d.settle?.(null, v);
        },
        (e) => {
          done();
          // A handler that stopped because it was told to (barge-in, stop) did not fail.
          if (ctl.signal.aborted && !d.settle) return;
          this.#failed(actor, d, e);
        },
      );
    }
    done();
    d.settle?.(null, result);
  }

  #failed(actor: LocalActor, d: Delivery, e: unknown): void {
    if (d.settle) d.settle(asXzError(e, E.XZ_ERR_ACTOR_FAILED));
    else this.#fault(actor.addr, e);
  }

  #fault(addr: string, e: unknown): void {
    this.#faults++;
    const w = toWire(asXzError(e, E.XZ_ERR_ACTOR_FAILED));
    if (this.#onFault) this.#onFault(addr, w);
    else if (this.#parent?.alive) this.#parent.post({ k: 'fault', addr, error: w });
  }

  #incomingRequest(id: number, env: Envelope, from: Channel): void {
    const respond = (err: XzError | null, value?: unknown) => {
      this.#incoming.get(from)?.delete(id);
      if (!from.alive) return;
      if (err) {
        this.#post(from, { k: 'res', id, ok: false, error: toWire(err) });
        return;
      }
      const transfer = isTransferring(value) ? value.transfer : undefined;
      const v = isTransferring(value) ? value.value : value;
      try {
        this.#post(from, { k: 'res', id, ok: true, value: v }, transfer, true);
      } catch (e) {
        this.#post(from, { k: 'res', id, ok: false, error: toWire(asXzError(e)) });
      }
    };
    let incoming = this.#incoming.get(from);
    if (!incoming) this.#incoming.set(from, (incoming = new Map()));
    if (env.to === HOST) {
      this.#controlAsync(env.msg as HostMsg, from).then((v) => respond(null, v), (e) => respond(asXzError(e)));
      return;
    }
    const local = this.#actors.get(env.to);
    if (local) {
      const cancel = new AbortController();
      incoming.set(id, () => cancel.abort(new XzError(E.XZ_ERR_ABORTED, 'caller cancelled')));
      void local.mailbox.put({ env, settle: respond, signal: cancel.signal });
      return;
    }
    const ch = this.#routes.get(env.to) ?? (from === this.#parent ? undefined : this.#parent);
    if (!ch || ch === from) {
      respond(new XzError(E.XZ_ERR_NO_SUCH_ACTOR, `no actor at ${env.to} (${this.name})`));
      return;
    }
    if (!ch.alive) {
      respond(new XzError(E.XZ_ERR_WORKER_CRASHED, `${ch.name} is down`));
      return;
    }
    this.#forwarded++;
    const fwd = this.#nextId++;
    this.#pending.set(fwd, { kind: 'forward', channel: ch, origin: from, originId: id });
    incoming.set(id, () => {
      if (this.#pending.delete(fwd)) this.#post(ch, { k: 'cancel', id: fwd });
    });
    this.#post(ch, { k: 'req', id: fwd, env }, collectTransferables(env.msg));
  }

  async #controlAsync(msg: HostMsg, from: Channel | null): Promise<unknown> {
    return this.#control(msg, from);
  }

  #control(msg: HostMsg, from: Channel | null): unknown {
    switch (msg.t) {
      case 'host.spawn':
        return this.spawn(msg.addr, msg.kind, msg.init, msg.session);
      case 'host.kill':
        return this.stopActor(msg.addr, false);
      case 'host.turn':
        this.bumpTurn(msg.session, msg.turn);
        return undefined;
      case 'host.forget':
        for (const s of msg.sessions) this.turns.forget(s);
        return undefined;
      case 'host.ping':
        return { name: this.name, actors: this.#actors.size };
      case 'host.stats':
        return this.stats();
      case 'host.drain':
        return this.drain();
      case 'host.port':
      case 'host.route':
      case 'host.stop':
        if (!this.#onControl) throw new XzError(E.XZ_ERR_UNKNOWN_MESSAGE, `${msg.t} not handled on ${this.name}`);
        return this.#onControl(msg, from);
      default: {
        const never: never = msg;
        throw new XzError(E.XZ_ERR_UNKNOWN_MESSAGE, `unknown host message ${(never as Msg).t}`);
      }
    }
  }

  /** Posts a frame; a frame that cannot be cloned throws XZ_ERR_DATA_CLONE when `rethrow`. */
  #post(ch: Channel, frame: Frame, transfer?: readonly Transferable[], rethrow = false): void {
    try {
      ch.post(frame, transfer);
    } catch (e) {
      const err = new XzError(E.XZ_ERR_DATA_CLONE, (e as Error).message, { cause: e });
      if (rethrow) throw err;
      this.#fault(this.name, err);
    }
  }
}

