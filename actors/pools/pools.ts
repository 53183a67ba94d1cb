/**
 * The `pools` actor: one per process, on the main thread, owning the LocalPoolState that every
 * worker's pooled providers share (see messages.ts for the protocol and why grants of queued
 * tickets travel over a port). Main-thread code (the status route) uses the same state object
 * directly: one thread, one owner.
 */
import type { MessagePort } from 'node:worker_threads';
import { defineActor, type ActorDef } from '../../runtime/actor.js';
import { XzError, toWire } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { POOL } from '../../providers/pool/errors.js';
import { LocalPoolState, type LocalPoolOptions, type PoolEvent } from '../../providers/pool/local-state.js';
import type { Permit } from '../../providers/pool/state.js';
import { POOLS_ADDR, type AcquireReply, type GrantMsg, type PoolsIn } from './messages.js';

interface Channel {
  readonly port: MessagePort;
  readonly leases: Map<number, Permit>;
  /** Queued tickets and how to stop waiting. */
  readonly waits: Map<number, () => void>;
}

interface State {
  readonly pool: LocalPoolState;
  readonly channels: Map<string, Channel>;
  /** Channels whose thread ended: a late acquire from them must not leave a lease behind. */
  readonly gone: Set<string>;
}

export interface PoolsInit {
  readonly state: LocalPoolState;
}

const holderOf = (channel: string, who: string | undefined) => `${channel}|${who ?? ''}`;

export const poolsActor: ActorDef<State, PoolsInit, PoolsIn> = defineActor<State, PoolsInit, PoolsIn>({
  // Releases must never be refused: the system lane carries everything, with room to spare.
  mailbox: { capacity: 64, overflow: 'fail', systemCapacity: 65_536 },
  start: (_ctx, init) => ({ pool: init.state, channels: new Map(), gone: new Set() }),
  receive(s, m, env, ctx) {
    switch (m.t) {
      case 'pools.attach': {
        s.channels.get(m.channel)?.port.close();
        const port = m.port;
        port.on('close', () => ctx.send(ctx.self, { t: 'pools.detached', channel: m.channel }, { lane: 'system', session: '' }));
        // The port must not keep the process alive; the actor closes it when it stops.
        port.unref();
        s.channels.set(m.channel, { port, leases: new Map(), waits: new Map() });
        return undefined;
      }
      case 'pools.acquire': {
        const ch = s.channels.get(m.channel);
        if (!ch || s.gone.has(m.channel)) throw new XzError(POOL.XZ_ERR_POOL_DETACHED, `channel ${m.channel} is not attached`);
        let sync = true;
        let reply: AcquireReply | XzError | undefined;
        const cancel = s.pool.request(m.provider, { wait: m.wait, holder: holderOf(m.channel, m.holder ?? env.from) }, (err, permit) => {
          ch.waits.delete(m.ticket);
          if (permit) ch.leases.set(m.ticket, permit);
          if (sync) {
            reply = err ?? { granted: permit! };
            return;
          }
          if (s.channels.get(m.channel) !== ch) {
            if (permit) s.pool.release(permit, { kind: 'cancelled' });
            return;
          }
          const msg: GrantMsg = err ? { ticket: m.ticket, error: toWire(err) } : { ticket: m.ticket, permit: permit! };
          ch.port.postMessage(msg);
        });
        sync = false;
        if (reply instanceof XzError) throw reply;
        if (reply) return reply;
        ch.waits.set(m.ticket, cancel);
        return { queued: true } satisfies AcquireReply;
      }
      case 'pools.release': {
        const ch = s.channels.get(m.channel);
        if (!ch) return undefined;
        const wait = ch.waits.get(m.ticket);
        if (wait) {
          ch.waits.delete(m.ticket);
          wait();
          return undefined;
        }
        const permit = ch.leases.get(m.ticket);
        if (!permit) return undefined;
        ch.leases.delete(m.ticket);
        s.pool.release(permit, m.outcome);
        return undefined;
      }
      case 'pools.report':
        s.pool.report(m.provider, m.outcome);
        return undefined;
      case 'pools.snapshot':
        return s.pool.snapshotNow();
      case 'pools.detached': {
        const ch = s.channels.get(m.channel);
        if (!ch) return undefined;
        s.channels.delete(m.channel);
        s.gone.add(m.channel);
        // Bounded: one id per worker incarnation, and only recent ones can still have mail queued.
        if (s.gone.size > 1024) s.gone.delete(s.gone.values().next().value!);
        s.pool.reclaim((h) => h.startsWith(`${m.channel}|`), `worker ${m.channel} went away`);
        return undefined;
      }
      default: {
        const never: never = m;
        throw new Error(`pools: unknown message ${(never as { t: string }).t}`);
      }
    }
  },
  stop(s) {
    for (const ch of s.channels.values()) ch.port.close();
    s.channels.clear();
    s.pool.close();
  },
});

/** Something that can spawn a main-thread actor (the ActorSystem). */
export interface MainSpawner {
  spawn<I>(addr: string, kind: ActorDef<any, I, any>, init: I): Promise<void>;
}

export interface StartPoolsOptions extends LocalPoolOptions {
  readonly address?: string;
  readonly log?: Logger;
}

/**
 * Creates the process's pool state and the actor that owns it. Returns the state so the main
 * thread's own users (the status route, a vision route) share it without a round trip.
 */
export async function startPools(system: MainSpawner, opts: StartPoolsOptions = {}): Promise<LocalPoolState> {
  const log = opts.log;
  const onEvent = (ev: PoolEvent) => {
    opts.onEvent?.(ev);
    if (log) logEvent(log, ev);
  };
  const state = new LocalPoolState({ ...opts, onEvent });
  await system.spawn(opts.address ?? POOLS_ADDR, poolsActor, { state });
  return state;
}

function logEvent(log: Logger, ev: PoolEvent): void {
  switch (ev.kind) {
    case 'breaker':
      if (ev.to === 'open') log.warn({ provider: ev.provider, from: ev.from, why: ev.why }, 'provider breaker opened');
      else log.info({ provider: ev.provider, from: ev.from, to: ev.to, why: ev.why }, 'provider breaker moved');
      return;
    case 'exhausted':
      // Under overload this fires per request; the session logs the error it speaks.
      if (log.isLevelEnabled('debug')) log.debug({ provider: ev.provider, reason: ev.reason, queued: ev.queued, waitedMs: ev.waitedMs }, 'provider quota exhausted');
      return;
    case 'reclaimed':
      log.warn({ provider: ev.provider, holder: ev.holder, why: ev.why }, 'provider permit reclaimed');
      return;
    case 'probe':
      if (!ev.result.ok) log.debug({ provider: ev.result.provider, error: ev.result.error?.code, ms: ev.result.ms }, 'provider probe failed');
      return;
  }
}
