/**
 * The pool state as a worker thread sees it: the PoolState contract over messages to the main
 * thread's `pools` actor. One grant port per worker thread, attached on first use and shared by
 * every client on that thread; one request per acquire (answered at once), one tell per release.
 *
 *   acquire ──ticket registered──▶ pools.acquire ──▶ granted ─────────────▶ permit
 *                                                 └▶ queued … grant port ─▶ permit | error
 *   abort while waiting ──▶ pools.release(cancelled): frees the wait, or the permit if it raced in
 */
import { MessageChannel, threadId, type MessagePort } from 'node:worker_threads';
import type { ActorContext, SendOptions } from '../../runtime/actor.js';
import { fromWire } from '../../runtime/errors.js';
import { abortError, coded, POOL } from '../../providers/pool/errors.js';
import type { AcquireOptions, Outcome, Permit, PoolSnapshot, PoolState } from '../../providers/pool/state.js';
import { POOLS_ADDR, type AcquireReply, type GrantMsg } from './messages.js';

// Pool traffic must survive barge-ins (turn bumps drop `data` of old turns) and carry no session.
const SYS: SendOptions = { lane: 'system', session: '' };

interface GrantPort {
  readonly id: string;
  readonly local: MessagePort;
  readonly remote: MessagePort;
  readonly waiters: Map<number, (m: GrantMsg) => void>;
  attached: Promise<void> | undefined;
  next: number;
}

/** Per thread: a module instance lives in one thread. */
let shared: GrantPort | undefined;
let incarnation = 0;

function grantPort(): GrantPort {
  if (shared) return shared;
  const { port1, port2 } = new MessageChannel();
  const gp: GrantPort = { id: `t${threadId}.${++incarnation}.${process.pid}`, local: port1, remote: port2, waiters: new Map(), attached: undefined, next: 0 };
  port1.on('message', (m: GrantMsg) => gp.waiters.get(m.ticket)?.(m));
  port1.on('close', () => {
    // The owner went away (shutdown): nobody will answer these waits.
    if (shared === gp) shared = undefined;
    const err = { code: POOL.XZ_ERR_POOL_DETACHED, category: 'unavailable', retryable: true, message: 'pool state owner went away' } as const;
    for (const [ticket, w] of [...gp.waiters]) w({ ticket, error: err });
  });
  // Must not keep the worker alive: the thread ends by itself when its actors stop.
  port1.unref();
  shared = gp;
  return gp;
}

const channelOf = new WeakMap<Permit, string>();

export class PoolStateClient implements PoolState {
  constructor(
    readonly ctx: ActorContext,
    readonly address: string = POOLS_ADDR,
  ) {}

  async acquire(provider: string, opts: AcquireOptions = {}): Promise<Permit> {
    const signal = opts.signal;
    if (signal?.aborted) throw abortError(signal);
    const gp = await this.#attach();
    if (signal?.aborted) throw abortError(signal);
    const ticket = ++gp.next;
    const holder = opts.holder ?? this.ctx.self;
    return new Promise<Permit>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, permit?: Permit) => {
        if (settled) return false;
        settled = true;
        gp.waiters.delete(ticket);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(permit!);
        return true;
      };
      const give = (p: Permit) => {
        const mine: Permit = { provider: p.provider, lease: ticket, trial: p.trial, waitedMs: p.waitedMs };
        channelOf.set(mine, gp.id);
        finish(null, mine);
      };
      const onAbort = () => {
        if (finish(abortError(signal!))) this.#release(gp.id, ticket, { kind: 'cancelled' });
      };
      // Registered before asking: a late grant can overtake the "queued" reply (another port).
      gp.waiters.set(ticket, (m) => ('error' in m ? finish(fromWire(m.error)) : give(m.permit)));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.ctx
        .request<AcquireReply>(this.address, { t: 'pools.acquire', channel: gp.id, ticket, provider, wait: opts.wait !== false, holder }, SYS)
        .then(
          (r) => {
            if ('granted' in r) give(r.granted);
          },
          (e: unknown) => {
            // Refused (exhausted, circuit open) or lost in transit: either way make sure the actor
            // keeps nothing for this ticket (a release of an unknown ticket is ignored).
            if (finish(coded(e))) this.#release(gp.id, ticket, { kind: 'cancelled' });
          },
        );
    });
  }

  release(permit: Permit, outcome: Outcome): void {
    const channel = channelOf.get(permit);
    if (channel === undefined) return;
    channelOf.delete(permit);
    this.#release(channel, permit.lease, outcome);
  }

  report(provider: string, outcome: Outcome): void {
    this.ctx.send(this.address, { t: 'pools.report', provider, outcome }, SYS);
  }

  snapshot(): Promise<PoolSnapshot> {
    return this.ctx.request<PoolSnapshot>(this.address, { t: 'pools.snapshot' }, SYS);
  }

  #release(channel: string, ticket: number, outcome: Outcome): void {
    this.ctx.send(this.address, { t: 'pools.release', channel, ticket, outcome }, SYS);
  }

  #attach(): Promise<GrantPort> {
    const gp = grantPort();
    gp.attached ??= this.ctx.request(this.address, { t: 'pools.attach', channel: gp.id, port: gp.remote }, { ...SYS, transfer: [gp.remote] }).then(
      () => undefined,
      (e: unknown) => {
        // The port may be gone with the failed request: start over next time.
        if (shared === gp) shared = undefined;
        gp.local.close();
        throw coded(e);
      },
    );
    return gp.attached.then(() => gp);
  }
}
