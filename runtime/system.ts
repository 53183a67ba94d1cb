/**
 * The actor system of the process: the main thread's host, the supervised worker pools, and
 * the direct worker-to-worker links between them.
 *
 *   ActorSystem
 *     ├─ host (main thread): session actors, front door, pacer
 *     ├─ pool codec  ─ slots ─ workers ┐  links: MessageChannel ports between two workers,
 *     ├─ pool listen ─ slots ─ workers ┤  so hot traffic skips the main thread; re-made after
 *     └─ …                             ┘  either side restarts
 *
 * Shutdown is ordered: the main thread's actors drain first (they produce work for the
 * workers), then each pool drains and stops its workers, in the reverse order of creation.
 */
import { EventEmitter } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import type { ActorDef, RequestOptions, SendOptions } from './actor.js';
import { realClock, type Clock } from './clock.js';
import type { AnyMsg, Envelope, Msg } from './envelope.js';
import { E, XzError, type WireError } from './errors.js';
import { ActorHost, type HostStats } from './host.js';
import { makeEnvelope, viaOptions } from './context.js';
import { WorkerPool, type PoolSpec, type Slot } from './pool.js';

export interface SystemOptions {
  clock?: Clock;
  requestTimeoutMs?: number;
  /** Actor kinds the main thread can spawn by name. */
  kinds?: Record<string, ActorDef<any, any, any>>;
}

interface Link {
  a: string;
  b: string;
}

export class ActorSystem extends EventEmitter {
  readonly host: ActorHost;
  readonly clock: Clock;
  readonly #pools = new Map<string, WorkerPool>();
  readonly #links: Link[] = [];
  /** Sessions that have (had) actors on worker threads: only those are forgotten there. */
  readonly #workerSessions = new Set<string>();
  #forgetting: string[] = [];
  /** Slot pairs joined by a port, keyed "slotA|slotB" in name order. */
  readonly #joined = new Set<string>();
  #seq = 0;
  #state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(opts: SystemOptions = {}) {
    super();
    this.clock = opts.clock ?? realClock;
    this.host = new ActorHost({
      name: 'main',
      clock: this.clock,
      ...(opts.kinds ? { kinds: opts.kinds } : {}),
      ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
      onFault: (addr, error) => this.emit('fault', { addr, error }),
    });
  }

  get state(): string {
    return this.#state;
  }

  addPool(spec: PoolSpec): WorkerPool {
    if (this.#pools.has(spec.name)) throw new Error(`pool ${spec.name} exists`);
    const pool = new WorkerPool(this.host, spec, this.clock);
    pool.on('crashed', (x) => {
      // Ports into the dead worker are closed by the runtime; forget them so relinking remakes them.
      for (const key of [...this.#joined]) if (key.split('|').includes(x.slot)) this.#joined.delete(key);
      this.emit('crashed', { pool: spec.name, ...x });
    });
    pool.on('restarted', (x) => {
      void this.#relink().then(() => this.emit('restarted', { pool: spec.name, ...x }));
    });
    pool.on('escalated', (x) => this.emit('escalated', { pool: spec.name, ...x }));
    pool.on('stuck', (x) => this.emit('stuck', { pool: spec.name, ...x }));
    pool.on('stopped', (x) => this.emit('stopped', { pool: spec.name, ...x }));
    this.#pools.set(spec.name, pool);
    return pool;
  }

  pool(name: string): WorkerPool {
    const p = this.#pools.get(name);
    if (!p) throw new XzError(E.XZ_ERR_NO_SUCH_ACTOR, `no pool "${name}"`);
    return p;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`actor system already ${this.#state}`);
    this.#state = 'running';
    try {
      await Promise.all([...this.#pools.values()].map((p) => p.start()));
    } catch (e) {
      await this.shutdown();
      throw e;
    }
  }

  /** Spawns an actor on the main thread (no `pool`) or in a worker pool. */
  async spawn<I>(addr: string, kind: string | ActorDef<any, I, any>, init: I, opts: { session?: string; pool?: string; slot?: number } = {}): Promise<void> {
    if (this.#state !== 'running' && this.#state !== 'new') throw new XzError(E.XZ_ERR_SHUTTING_DOWN);
    if (opts.pool) {
      if (typeof kind !== 'string') throw new TypeError('worker actors are spawned by kind name');
      if (opts.session) this.#workerSessions.add(opts.session);
      const po: { session?: string; slot?: number } = {};
      if (opts.session !== undefined) po.session = opts.session;
      if (opts.slot !== undefined) po.slot = opts.slot;
      await this.pool(opts.pool).spawn(addr, kind, init, po);
      return;
    }
    await this.host.spawn(addr, kind, init, opts.session ?? '');
  }

  async kill(addr: string): Promise<void> {
    for (let i = this.#links.length - 1; i >= 0; i--) {
      const l = this.#links[i]!;
      if (l.a === addr || l.b === addr) this.#links.splice(i, 1);
    }
    const slot = this.#slotOf(addr);
    if (slot) await this.pool(slot.pool).kill(addr);
    else await this.host.stopActor(addr, false);
  }

  /** Sends from outside any actor (the front door, tests). */
  send(to: string, msg: AnyMsg, opts: SendOptions = {}): boolean | Promise<boolean> {
    return this.host.tell(this.#envelope(to, msg, opts), opts.transfer);
  }

  request<R = unknown>(to: string, msg: AnyMsg, opts: RequestOptions = {}): Promise<R> {
    return this.host.request<R>(this.#envelope(to, msg, opts), viaOptions(opts));
  }

  /** A barge-in: the session's queued data of older turns is dropped on every thread. */
  bumpTurn(session: string, turn: number): void {
    this.host.bumpTurn(session, turn);
    for (const p of this.#pools.values()) p.broadcast({ t: 'host.turn', session, turn });
  }

  turn(session: string): number {
    return this.host.turns.current(session);
  }

  /**
   * Frees the per-session turn bookkeeping on every thread once a session has ended. Workers
   * hear only of sessions that had actors there, in one batch per turn of the event loop: when
   * 10,000 devices drop at once, 40,000 single messages stalled the main thread for 0.7 s.
   */
  forgetSession(session: string): void {
    this.host.turns.forget(session);
    if (!this.#workerSessions.delete(session)) return;
    this.#forgetting.push(session);
    if (this.#forgetting.length > 1) return;
    setImmediate(() => {
      const sessions = this.#forgetting;
      this.#forgetting = [];
      for (const p of this.#pools.values()) p.broadcast({ t: 'host.forget', sessions });
    });
  }

  /**
   * Lets two worker actors talk directly: their workers get a MessageChannel (once per pair)
   * and routes to each other's address. Actors on one worker already talk locally.
   */
  async link(a: string, b: string): Promise<void> {
    const sa = this.#slotOf(a);
    const sb = this.#slotOf(b);
    if (!sa || !sb) throw new XzError(E.XZ_ERR_NO_SUCH_ACTOR, `link needs two worker actors (${a}, ${b})`);
    this.#links.push({ a, b });
    await this.#join(sa, sb, a, b);
  }

  /**
   * Drains, then stops. Messages keep flowing between threads while draining (a codec actor
   * still hands frames to the pacer), so it drains every thread in rounds until two rounds in a
   * row deliver nothing anywhere, bounded by `drainTimeoutMs`; only then do actors stop.
   */
  async shutdown(opts: { drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    const deadline = this.clock.now() + (opts.drainTimeoutMs ?? 10_000);
    let last = -1;
    for (let quiet = 0; quiet < 2 && this.clock.now() < deadline; ) {
      const left = Math.max(1, deadline - this.clock.now());
      const counts = await Promise.all([this.host.drain(), ...[...this.#pools.values()].map((p) => p.drain(left))]);
      const total = counts.reduce((a, b) => a + b, 0);
      quiet = total === last ? quiet + 1 : 0;
      last = total;
    }
    await this.host.drainAndStop();
    for (const p of [...this.#pools.values()].reverse()) await p.stop();
    this.#state = 'stopped';
  }

  stats(): { main: HostStats; pools: ReturnType<WorkerPool['stats']>[] } {
    return { main: this.host.stats(), pools: [...this.#pools.values()].map((p) => p.stats()) };
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────

  #envelope(to: string, msg: Msg, opts: SendOptions): Envelope {
    return makeEnvelope(to, msg, opts, { session: '', seq: ++this.#seq }, this.host.turns, this.clock);
  }

  #slotOf(addr: string): Slot | undefined {
    for (const p of this.#pools.values()) {
      const s = p.slotOf(addr);
      if (s) return s;
    }
    return undefined;
  }

  async #join(sa: Slot, sb: Slot, a: string, b: string): Promise<void> {
    if (sa === sb) return;
    const pa = this.pool(sa.pool);
    const pb = this.pool(sb.pool);
    const key = [sa.name, sb.name].sort().join('|');
    if (!this.#joined.has(key)) {
      const { port1, port2 } = new MessageChannel();
      await Promise.all([
        pa.control(sa, { t: 'host.port', name: sb.name, port: port1 }, [port1]),
        pb.control(sb, { t: 'host.port', name: sa.name, port: port2 }, [port2]),
      ]);
      this.#joined.add(key);
    }
    await Promise.all([
      pa.control(sa, { t: 'host.route', addr: b, via: sb.name }),
      pb.control(sb, { t: 'host.route', addr: a, via: sa.name }),
    ]);
  }

  /** Re-makes every link whose actors are placed on live slots (after a restart). */
  async #relink(): Promise<void> {
    for (const l of this.#links) {
      const sa = this.#slotOf(l.a);
      const sb = this.#slotOf(l.b);
      if (!sa || !sb || sa.state !== 'ready' || sb.state !== 'ready') continue;
      try {
        await this.#join(sa, sb, l.a, l.b);
      } catch (e) {
        this.emit('fault', { addr: `${l.a}<->${l.b}`, error: e as WireError });
      }
    }
  }
}
