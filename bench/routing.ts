/**
 * Message routing: what one small one-way message (`{ t, i }`, no payload) costs from send to
 * delivery, by where the target lives. Each iteration sends a batch of N and then asks the target
 * for its count (same route, so the answer comes after the last message); rows are per message.
 *
 *   function call                    the handler called directly: the floor of any dispatch
 *   queueMicrotask                   one microtask per message: the floor of an async hand-off,
 *                                    and the baseline of the local rows
 *   send → main-thread actor         system.send into a main-thread actor's mailbox
 *   worker → same-worker actor       ctx.send between two actors of one worker (a session crew
 *                                    placed together): the same local path, in a worker
 *   raw postMessage → worker         a bare Worker counting messages, no runtime: the baseline of
 *                                    the cross-thread rows
 *   send → worker actor              system.send from main to an actor in a pool worker
 *   worker → worker, linked port     ctx.send over a MessageChannel from system.link
 *   worker → worker, via main        no link: the main thread's host forwards every message
 *
 * The worker-side rows are driven by one request to a driver actor in the worker, which sends
 * the batch and then requests the target's count; that one round trip is amortized over N.
 * Round trips of a single request and 2 KB audio frames (copied, transferred, shared memory) are
 * in `bench hop`; this bench is about the routing path of small control messages.
 */
import { ActorSystem } from '../runtime/system.js';
import { RawEcho } from './hop.js';
import { routeSink } from './actors/route.js';
import { interleavedSamples, perUnitRow, type BenchOptions, type BenchReport } from './run.js';

const N = 1000;
const ROUNDS = 4;
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const ROUTE_MODULE = new URL(`./actors/route${ext}`, import.meta.url);

export const CALL = `function call ×${N}`;
export const MICROTASK = `queueMicrotask ×${N}`;
export const LOCAL = `send → main-thread actor ×${N}`;
export const WORKER_LOCAL = `worker → same-worker actor ×${N}`;
export const RAW = `raw postMessage → worker ×${N}`;
export const WORKER = `send → worker actor ×${N}`;
export const LINKED = `worker → worker, linked port ×${N}`;
export const RELAYED = `worker → worker, via main ×${N}`;

type RouteMsg = { t: 'route.msg'; i: number } | { t: 'route.count' };

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const raw = new RawEcho();
  const sys = new ActorSystem({ requestTimeoutMs: 30_000 });
  // Driver and its near sink share a worker; the far sinks live in a second one.
  sys.addPool({ name: 'route-a', size: 1, modules: [ROUTE_MODULE] });
  sys.addPool({ name: 'route-b', size: 1, modules: [ROUTE_MODULE] });
  try {
    await Promise.all([raw.ready(), sys.start()]);
    await sys.spawn('route/main', routeSink, undefined);
    await sys.spawn('route/drv', 'route.driver', undefined, { pool: 'route-a' });
    await sys.spawn('route/near', 'route.sink', undefined, { pool: 'route-a' });
    await sys.spawn('route/far', 'route.sink', undefined, { pool: 'route-b' });
    await sys.spawn('route/linked', 'route.sink', undefined, { pool: 'route-b' });
    await sys.link('route/drv', 'route/linked');
    return await measure(opts, raw, sys);
  } finally {
    await sys.shutdown();
    await raw.worker.terminate();
  }
}

async function measure(opts: BenchOptions, raw: RawEcho, sys: ActorSystem): Promise<BenchReport> {
  let count = 0;
  const handler = (m: RouteMsg): void => {
    if (m.t === 'route.msg') count++;
  };
  /** Expected counts per target, checked on every answer so a lost message fails the run. */
  const sent = new Map<string, number>();
  const expect = (to: string, got: number): void => {
    const want = (sent.get(to) ?? 0) + N;
    if (got !== want) throw new Error(`${to} counted ${got}, want ${want}`);
    sent.set(to, want);
  };
  const sendBatch = async (to: string): Promise<void> => {
    for (let i = 0; i < N; i++) sys.send(to, { t: 'route.msg', i });
    expect(to, await sys.request<number>(to, { t: 'route.count' }));
  };
  const drive = async (to: string): Promise<void> => {
    expect(to, await sys.request<number>('route/drv', { t: 'route.drive', to, n: N }));
  };
  let rawSent = 0;

  const tasks: { name: string; fn: () => unknown }[] = [
    {
      name: CALL,
      fn: () => {
        for (let i = 0; i < N; i++) handler({ t: 'route.msg', i });
      },
    },
    {
      name: MICROTASK,
      fn: () => {
        for (let i = 0; i < N; i++) {
          const m: RouteMsg = { t: 'route.msg', i };
          queueMicrotask(() => handler(m));
        }
        // Microtasks run in order: this one resolves after the batch.
        return new Promise<void>((resolve) => queueMicrotask(resolve));
      },
    },
    { name: LOCAL, fn: () => sendBatch('route/main') },
    { name: WORKER_LOCAL, fn: () => drive('route/near') },
    {
      name: RAW,
      fn: async () => {
        for (let i = 0; i < N; i++) raw.tell({ k: 'frame', i });
        rawSent += N;
        const r = await raw.roundTrip<{ frames: number }>({ k: 'count' });
        if (r.frames !== rawSent) throw new Error(`raw worker counted ${r.frames}, want ${rawSent}`);
      },
    },
    { name: WORKER, fn: () => sendBatch('route/far') },
    { name: LINKED, fn: () => drive('route/linked') },
    { name: RELAYED, fn: () => drive('route/far') },
  ];

  const forwardedBefore = sys.stats().main.forwarded;
  const samples = await interleavedSamples(tasks, opts, ROUNDS);
  const forwarded = sys.stats().main.forwarded - forwardedBefore;
  const relayedBatches = samples.get(RELAYED)!.length;
  if (count === 0) throw new Error('the function-call handler never ran');

  const rows = tasks.map((t) => perUnitRow(t.name, samples.get(t.name)!, N));
  const byName = new Map(rows.map((r) => [r.name, r]));
  const baseline: Record<string, string> = { [LOCAL]: MICROTASK, [WORKER_LOCAL]: MICROTASK, [WORKER]: RAW, [LINKED]: RAW, [RELAYED]: RAW };
  for (const r of rows) {
    const vs = baseline[r.name];
    if (!vs) continue;
    r.ratio = r.meanUs / byName.get(vs)!.meanUs;
    r.vs = vs;
  }
  const us = (name: string) => byName.get(name)!.meanUs;
  return {
    title: `Message routing: one small message send → delivered, µs per message (batches of ${N})`,
    rows,
    notes: [
      `main-thread mailbox: +${(us(LOCAL) - us(MICROTASK)).toFixed(2)} µs per message over a bare microtask; ` +
        `main → worker actor: +${(us(WORKER) - us(RAW)).toFixed(2)} µs over raw postMessage`,
      `relaying through main costs ${(us(RELAYED) - us(LINKED)).toFixed(2)} µs per message more than a linked port ` +
        `(main forwarded ${forwarded.toLocaleString('en-US')} frames for ${relayedBatches} relayed batches, incl. warm-up)`,
      `worker rows include one main → worker request per batch, amortized over its ${N} messages; ` +
        `rows are per message; ops/s = messages/s; ${ROUNDS} interleaved rounds; single-request and 2 KB frame hops: bench hop`,
    ],
  };
}
