/**
 * A supervised pool of long-lived worker threads hosting session-affine actors.
 *
 *   slot 0 ── WorkerHandle ── actors {codec/s1, codec/s7, …}
 *   slot 1 ── WorkerHandle ── actors {codec/s2, …}
 *
 * Each slot is a stable Channel: routes on the main thread point at the slot, not at the
 * worker, so they survive restarts. When a worker dies unasked, the slot fails every request
 * in flight with XZ_ERR_WORKER_CRASHED, waits a backoff, boots a replacement, re-spawns the
 * actors it hosted (fresh state, same address and init) and emits `restarted`, so their owners
 * can resend what the new actors need. Too many restarts in a window, or a worker that keeps
 * failing its boot, latches the slot as failed and emits `escalated` instead of looping.
 *
 * Events: crashed {slot, exit, actors}, restarted {slot, actors}, escalated {slot, error},
 * stopped {slot, code, terminated}, stuck {slot} (did not end in time and may not be terminated).
 */
import { EventEmitter } from 'node:events';
import type { ResourceLimits } from 'node:worker_threads';
import type { Clock, Timer } from './clock.js';
import type { Envelope } from './envelope.js';
import { E, XzError } from './errors.js';
import type { ActorHost } from './host.js';
import { HOST, type Channel, type Frame, type HostMsg, type Transferable } from './wire.js';
import { WorkerHandle, type WorkerExit } from './worker-handle.js';

export interface RestartPolicy {
  /** Most restarts allowed within `windowMs` before the slot escalates. */
  maxRestarts: number;
  windowMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  backoffFactor: number;
  /** Consecutive failed boots after which the slot latches as failed. */
  maxBootFailures: number;
}

export const defaultRestartPolicy: RestartPolicy = {
  maxRestarts: 5,
  windowMs: 60_000,
  backoffInitialMs: 50,
  backoffMaxMs: 5_000,
  backoffFactor: 2,
  maxBootFailures: 3,
};

export interface PoolSpec {
  name: string;
  size: number;
  /** Module URLs (file: URLs or absolute paths) each exporting `actors`. */
  modules: (string | URL)[];
  /** Passed to every module's `boot` (structured-clone safe: a config slice). */
  data?: unknown;
  restart?: Partial<RestartPolicy>;
  bootTimeoutMs?: number;
  /** How long a worker may take to drain and end when stopping. */
  stopTimeoutMs?: number;
  /**
   * Whether a worker that does not end in time may be terminated. Leave false for workers that
   * hold native resources which do not survive termination (see dependencies.md).
   */
  terminable?: boolean;
  resourceLimits?: ResourceLimits;
}

type SlotState = 'idle' | 'booting' | 'ready' | 'restarting' | 'failed' | 'stopping' | 'stopped';

export interface ActorRecord {
  addr: string;
  kind: string;
  init: unknown;
  session: string;
}

export class Slot implements Channel {
  readonly name: string;
  state: SlotState = 'idle';
  handle: WorkerHandle | undefined;
  readonly actors = new Map<string, ActorRecord>();
  restarts: number[] = [];
  bootFailures = 0;
  lastError: XzError | undefined;
  timer: Timer | undefined;

  constructor(
    readonly pool: string,
    readonly index: number,
  ) {
    this.name = `${pool}#${index}`;
  }

  get alive(): boolean {
    return (this.state === 'ready' || this.state === 'stopping' || this.state === 'booting') && !!this.handle?.alive;
  }

  post(frame: Frame, transfer?: readonly Transferable[]): void {
    if (this.handle?.alive) this.handle.post(frame, transfer);
  }
}

export class WorkerPool extends EventEmitter {
  readonly name: string;
  readonly slots: Slot[];
  readonly #host: ActorHost;
  readonly #clock: Clock;
  readonly #spec: PoolSpec;
  readonly #policy: RestartPolicy;
  readonly #where = new Map<string, Slot>();
  #stopping = false;

  constructor(host: ActorHost, spec: PoolSpec, clock: Clock) {
    super();
    if (!(spec.size >= 1)) throw new RangeError(`pool ${spec.name}: size must be at least 1`);
    this.name = spec.name;
    this.#host = host;
    this.#clock = clock;
    this.#spec = spec;
    this.#policy = { ...defaultRestartPolicy, ...spec.restart };
    this.slots = Array.from({ length: spec.size }, (_, i) => new Slot(spec.name, i));
  }

  /** Boots every slot; rejects with the boot error if any slot latched as failed. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.#settled(s)));
    const failed = this.slots.find((s) => s.state === 'failed');
    if (failed) throw failed.lastError ?? new XzError(E.XZ_ERR_WORKER_BOOT_FAILED, `${failed.name} failed to boot`);
  }

  slotOf(addr: string): Slot | undefined {
    return this.#where.get(addr);
  }

  records(): ActorRecord[] {
    return this.slots.flatMap((s) => [...s.actors.values()]);
  }

  /** Places an actor on the least-loaded ready slot (or `slot` when given) and routes to it. */
  async spawn(addr: string, kind: string, init: unknown, opts: { session?: string; slot?: number } = {}): Promise<Slot> {
    if (this.#stopping) throw new XzError(E.XZ_ERR_SHUTTING_DOWN, `pool ${this.name} is stopping`);
    if (this.#where.has(addr)) throw new XzError(E.XZ_ERR_ACTOR_EXISTS, `actor ${addr} exists`);
    const slot = opts.slot !== undefined ? this.slots[opts.slot] : this.#leastLoaded();
    if (!slot) {
      if (opts.slot !== undefined) throw new XzError(E.XZ_ERR_NO_SUCH_ACTOR, `pool ${this.name} has no slot ${opts.slot}`);
      throw new XzError(E.XZ_ERR_WORKER_ESCALATED, `every worker of pool ${this.name} has failed`);
    }
    if (slot.state === 'failed') throw new XzError(E.XZ_ERR_WORKER_ESCALATED, `${slot.name} has failed`);
    if (slot.state !== 'ready') throw new XzError(E.XZ_ERR_WORKER_CRASHED, `${slot.name} is ${slot.state}`);
    const rec: ActorRecord = { addr, kind, init, session: opts.session ?? '' };
    slot.actors.set(addr, rec);
    this.#where.set(addr, slot);
    try {
      await this.#spawnOn(slot, rec);
    } catch (e) {
      slot.actors.delete(addr);
      this.#where.delete(addr);
      throw e;
    }
    this.#host.setRoute(addr, slot);
    return slot;
  }

  async kill(addr: string): Promise<void> {
    const slot = this.#where.get(addr);
    if (!slot) return;
    slot.actors.delete(addr);
    this.#where.delete(addr);
    this.#host.setRoute(addr, null);
    if (slot.alive) await this.#control(slot, { t: 'host.kill', addr });
  }

  /** Sends a host control message to every live slot (turn bumps, session forget). */
  broadcast(msg: HostMsg): void {
    for (const s of this.slots) if (s.alive) this.#host.tellVia(s, hostEnv(msg, 'system'));
  }

  control<R = unknown>(slot: Slot, msg: HostMsg, transfer?: readonly Transferable[]): Promise<R> {
    return this.#control<R>(slot, msg, transfer);
  }

  /** Drains every live worker's mailboxes; returns the total of messages they delivered so far. */
  async drain(timeoutMs: number): Promise<number> {
    const counts = await Promise.all(
      this.slots.filter((s) => s.alive).map((s) => this.#control<number>(s, { t: 'host.drain' }, undefined, timeoutMs).catch(() => 0)),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Ends a worker the hard way, as a crash would: for fault-injection tests and operators. */
  async terminateWorker(index: number): Promise<void> {
    const h = this.slots[index]?.handle;
    if (h) await h.terminate();
  }

  /** Drains and stops every worker; terminates stragglers only when the pool is terminable. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const timeout = this.#spec.stopTimeoutMs ?? 10_000;
    await Promise.all(
      this.slots.map(async (slot) => {
        slot.timer?.cancel();
        const h = slot.handle;
        // A replacement still booting must not come up after we stopped: wait for its handshake
        // (bounded by its boot timeout), then stop it like any other.
        if (h && h.state === 'booting') await h.ready.catch(() => {});
        if (!h || !h.alive) {
          if (slot.state !== 'failed') slot.state = 'stopped';
          return;
        }
        slot.state = 'stopping';
        try {
          await this.#control(slot, { t: 'host.stop' }, undefined, timeout);
        } catch (e) {
          slot.lastError = e as XzError;
        }
        h.markStopping();
        const ended = await Promise.race([h.exited, this.#clock.sleep(timeout).then(() => null)]);
        if (ended) this.emit('stopped', { slot: slot.name, code: ended.code, terminated: false });
        else if (this.#spec.terminable) {
          const code = await h.terminate();
          this.emit('stopped', { slot: slot.name, code, terminated: true });
        } else {
          // Terminating could crash the process (native code in the worker); let it go and
          // stop it from holding the process open instead.
          h.worker.unref();
          this.emit('stuck', { slot: slot.name });
        }
        slot.state = 'stopped';
      }),
    );
  }

  stats(): { name: string; slots: { name: string; state: SlotState; actors: number; restarts: number; bootFailures: number; threadId: number | undefined }[] } {
    return {
      name: this.name,
      slots: this.slots.map((s) => ({
        name: s.name,
        state: s.state,
        actors: s.actors.size,
        restarts: s.restarts.length,
        bootFailures: s.bootFailures,
        threadId: s.handle?.worker.threadId,
      })),
    };
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────

  /** Boots a slot and resolves once it is ready or has latched as failed (after any retries). */
  #settled(slot: Slot): Promise<void> {
    return new Promise((resolve) => {
      const done = (x: Slot | { slot: string }) => {
        if (x !== slot && (x as { slot: string }).slot !== slot.name) return;
        this.off('ready', done);
        this.off('escalated', done);
        resolve();
      };
      this.on('ready', done);
      this.on('escalated', done);
      void this.#boot(slot);
    });
  }

  #leastLoaded(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (s.state !== 'ready') continue;
      if (!best || s.actors.size < best.actors.size) best = s;
    }
    return best ?? this.slots.find((s) => s.state !== 'failed');
  }

  #spawnOn(slot: Slot, rec: ActorRecord): Promise<void> {
    return this.#control(slot, { t: 'host.spawn', addr: rec.addr, kind: rec.kind, session: rec.session, init: rec.init });
  }

  #control<R = unknown>(slot: Slot, msg: HostMsg, transfer?: readonly Transferable[], timeoutMs?: number): Promise<R> {
    const opts: { transfer?: readonly Transferable[]; timeoutMs?: number } = {};
    if (transfer) opts.transfer = transfer;
    if (timeoutMs !== undefined) opts.timeoutMs = timeoutMs;
    return this.#host.requestVia<R>(slot, hostEnv(msg, 'system'), opts);
  }

  async #boot(slot: Slot): Promise<void> {
    if (this.#stopping) return;
    slot.state = 'booting';
    const modules = this.#spec.modules.map((m) => (m instanceof URL ? m.href : m.startsWith('file:') ? m : new URL(`file://${m}`).href));
    const handle = new WorkerHandle(
      { name: slot.name, modules, data: this.#spec.data, requestTimeoutMs: this.#host.requestTimeoutMs },
      this.#clock,
      {
        bootTimeoutMs: this.#spec.bootTimeoutMs ?? 15_000,
        ...(this.#spec.resourceLimits ? { resourceLimits: this.#spec.resourceLimits } : {}),
      },
    );
    slot.handle = handle;
    handle.onFrame((f) => this.#host.receive(f, slot));
    handle.on('exit', (x: WorkerExit) => this.#exited(slot, handle, x));
    try {
      await handle.ready;
    } catch (e) {
      // The exit handler counts the failure and schedules a retry or latches the slot.
      slot.lastError = e as XzError;
      return;
    }
    slot.bootFailures = 0;
    const records = [...slot.actors.values()];
    // Actors come back with fresh state; a failure here leaves that actor absent, reported below.
    const results = await Promise.allSettled(records.map((r) => this.#spawnOn(slot, r)));
    if (!handle.alive) return;
    slot.state = this.#stopping ? 'stopping' : 'ready';
    const lost = records.filter((_, i) => results[i]!.status === 'rejected').map((r) => r.addr);
    for (const addr of lost) {
      slot.actors.delete(addr);
      this.#where.delete(addr);
      this.#host.setRoute(addr, null);
    }
    if (slot.restarts.length > 0 || records.length > 0) {
      this.emit('restarted', { slot: slot.name, actors: records.map((r) => r.addr).filter((a) => !lost.includes(a)), lost });
    }
    this.emit('ready', slot);
  }

  #exited(slot: Slot, handle: WorkerHandle, x: WorkerExit): void {
    if (slot.handle !== handle) return;
    const err = new XzError(
      x.duringBoot ? E.XZ_ERR_WORKER_BOOT_FAILED : E.XZ_ERR_WORKER_CRASHED,
      `${slot.name} exited with code ${x.code}${x.error ? `: ${x.error.message}` : ''}`,
      x.error ? { cause: x.error } : {},
    );
    this.#host.failChannel(slot, err, false);
    if (x.expected || this.#stopping || slot.state === 'stopping' || slot.state === 'stopped') return;
    if (x.duringBoot) slot.bootFailures++;
    else {
      slot.lastError = err;
      this.emit('crashed', { slot: slot.name, exit: x, error: err, actors: [...slot.actors.keys()] });
    }
    const now = this.#clock.now();
    slot.restarts = slot.restarts.filter((t) => now - t < this.#policy.windowMs);
    if (slot.bootFailures >= this.#policy.maxBootFailures) {
      this.#latch(slot, slot.lastError ?? err);
      return;
    }
    if (!x.duringBoot) {
      slot.restarts.push(now);
      if (slot.restarts.length > this.#policy.maxRestarts) {
        this.#latch(slot, new XzError(E.XZ_ERR_WORKER_ESCALATED, `${slot.name} restarted ${slot.restarts.length} times in ${this.#policy.windowMs} ms`, { cause: err }));
        return;
      }
    }
    slot.state = 'restarting';
    const attempt = x.duringBoot ? slot.bootFailures : slot.restarts.length;
    const delay = Math.min(this.#policy.backoffMaxMs, this.#policy.backoffInitialMs * this.#policy.backoffFactor ** Math.max(0, attempt - 1));
    slot.timer = this.#clock.setTimer(delay, () => void this.#boot(slot), true);
  }

  #latch(slot: Slot, err: XzError): void {
    slot.state = 'failed';
    slot.lastError = err;
    for (const addr of slot.actors.keys()) {
      this.#where.delete(addr);
      this.#host.setRoute(addr, null);
    }
    const actors = [...slot.actors.keys()];
    slot.actors.clear();
    this.emit('escalated', { slot: slot.name, error: err, actors });
  }
}

export function hostEnv(msg: HostMsg, lane: 'system' | 'data' = 'system'): Envelope {
  return { to: HOST, session: '', turn: 0, seq: 0, lane, msg };
}
