/**
 * The actor hop: what it costs to move one 2 KB audio frame main → worker actor → main.
 *
 *   raw postMessage (copy|transfer)   a bare Worker echoing, no runtime: the baseline
 *   actor request, copied             structured clone both ways
 *   actor request, transferred        a fresh ArrayBuffer moved both ways
 *   shared-memory ring                two FrameRings; the worker waits with Atomics.waitAsync
 *   pipelined ×1000                   1,000 one-way sends (transfer) then one request, per batch
 *
 * The ratio column divides a row's mean by its baseline's, so the runtime's own share of a hop
 * (envelopes, mailbox, correlation) shows beside what the thread crossing itself costs.
 *
 * A hop on these VMs is dominated by waking the other thread, and that cost shifts between
 * regimes (≈15 µs vs ≈60 µs round trip for the same code, depending on whether the peer's core
 * was idle). Run back to back, whole tasks would land in different regimes and the ratios would
 * mean nothing, so the tasks run interleaved in ROUNDS short rounds and each row pools the
 * latency samples tinybench retained over all rounds.
 */
import { Worker } from 'node:worker_threads';
import { ActorSystem } from '../runtime/system.js';
import { FrameRing } from '../runtime/ring.js';
import { interleavedSamples, perUnitRow, type BenchOptions, type BenchReport } from './run.js';

const FRAME = 2048;
const BATCH = 1000;
const ROUNDS = 8;
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const HOP_MODULE = new URL(`./actors/hop${ext}`, import.meta.url);

export const RAW_COPY = 'raw postMessage, copy';
export const RAW_TRANSFER = 'raw postMessage, transfer';
export const ACTOR_TRANSFER = 'actor request, transferred';
export const RING = 'shared-memory ring (waitAsync)';
const RAW_BATCH = `raw postMessage ×${BATCH} + 1 round trip`;

// Plain JS so the baseline worker pays no loader: it echoes, moving buffers back when asked.
const RAW_ECHO = `
const { parentPort } = require('node:worker_threads');
let frames = 0;
parentPort.on('message', (m) => {
  if (m.k === 'frame') { frames++; return; }
  if (m.k === 'count') { parentPort.postMessage({ frames }); return; }
  parentPort.postMessage(m, m.k === 'xfer' ? [m.buf] : []);
});
`;

/**
 * One request at a time to a bare worker; a single listener avoids per-call on/off churn.
 * Also the raw baseline of `bench routing` (`tell({ k: 'frame' })` is counted, not echoed).
 */
export class RawEcho {
  readonly worker = new Worker(RAW_ECHO, { eval: true });
  #waiting: ((m: unknown) => void) | undefined;

  constructor() {
    this.worker.on('message', (m) => {
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.(m);
    });
  }

  ready(): Promise<void> {
    return new Promise((resolve) => this.worker.once('online', () => resolve()));
  }

  roundTrip<T>(msg: unknown, transfer?: ArrayBuffer[]): Promise<T> {
    return new Promise<T>((resolve) => {
      this.#waiting = resolve as (m: unknown) => void;
      this.worker.postMessage(msg, transfer);
    });
  }

  tell(msg: unknown, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(msg, transfer);
  }
}

function frame(): ArrayBuffer {
  const buf = new ArrayBuffer(FRAME);
  new Uint8Array(buf)[0] = 1;
  return buf;
}

export async function run(opts: BenchOptions): Promise<BenchReport> {
  const raw = new RawEcho();
  const sys = new ActorSystem({ requestTimeoutMs: 30_000 });
  sys.addPool({ name: 'hop', size: 1, modules: [HOP_MODULE] });
  const up = FrameRing.create({ slots: 64, slotBytes: 4096 });
  const down = FrameRing.create({ slots: 64, slotBytes: 4096 });
  try {
    await Promise.all([raw.ready(), sys.start()]);
    await sys.spawn('hop', 'hop', undefined, { pool: 'hop' });
    await sys.request('hop', { t: 'hop.ring', up: up.buffer, down: down.buffer });
    return await measure(opts, raw, sys, up, down);
  } finally {
    up.close();
    down.close();
    await sys.shutdown();
    await raw.worker.terminate();
  }
}

async function measure(opts: BenchOptions, raw: RawEcho, sys: ActorSystem, up: FrameRing, down: FrameRing): Promise<BenchReport> {
  const payload = new Uint8Array(FRAME).fill(3);
  const back = new Uint8Array(4096);

  const copied = frame();
  const tasks: [string, () => Promise<void>][] = [
    [
      RAW_COPY,
      async () => {
        await raw.roundTrip({ k: 'copy', buf: copied });
      },
    ],
    [
      RAW_TRANSFER,
      async () => {
        const buf = frame();
        const r = await raw.roundTrip<{ buf: ArrayBuffer }>({ k: 'xfer', buf }, [buf]);
        if (r.buf.byteLength !== FRAME) throw new Error('raw transfer lost the frame');
      },
    ],
    [
      'actor request, copied',
      async () => {
        await sys.request('hop', { t: 'hop.echo', buf: copied });
      },
    ],
    [
      ACTOR_TRANSFER,
      async () => {
        const buf = frame();
        const r = await sys.request<{ buf: ArrayBuffer }>('hop', { t: 'hop.echoT', buf }, { transfer: [buf] });
        if (r.buf.byteLength !== FRAME) throw new Error('transfer lost the frame');
      },
    ],
    [
      RING,
      async () => {
        if (!up.push(payload)) throw new Error('up ring full');
        for (;;) {
          const len = down.shiftInto(back);
          if (len === FRAME) return;
          if (len >= 0) throw new Error(`ring echoed ${len} bytes`);
          if ((await down.waitForData(5_000)) !== 'ok') throw new Error('ring echo stalled');
        }
      },
    ],
    [
      RAW_BATCH,
      async () => {
        for (let i = 0; i < BATCH; i++) {
          const buf = frame();
          raw.tell({ k: 'frame', buf }, [buf]);
        }
        await raw.roundTrip({ k: 'count' });
      },
    ],
    [
      `actor send ×${BATCH} + 1 request`,
      async () => {
        for (let i = 0; i < BATCH; i++) {
          const buf = frame();
          sys.send('hop', { t: 'hop.frame', buf }, { transfer: [buf] });
        }
        await sys.request('hop', { t: 'hop.count' });
      },
    ],
  ];

  const samples = await interleavedSamples(tasks.map(([name, fn]) => ({ name, fn })), opts, ROUNDS);
  const sent = await sys.request<{ frames: number; bytes: number }>('hop', { t: 'hop.count' });
  if (sent.frames === 0 || sent.bytes !== sent.frames * FRAME) throw new Error('pipelined frames went missing or arrived damaged');

  const rows = [...samples].map(([name, ms]) => perUnitRow(name, ms, 1));
  const byName = new Map(rows.map((r) => [r.name, r]));
  for (const r of rows) {
    const vs = r.name.includes(`×${BATCH}`) ? RAW_BATCH : RAW_COPY;
    const base = byName.get(vs);
    if (!base || base === r) continue;
    r.ratio = r.meanUs / base.meanUs;
    r.vs = vs;
  }
  const notes: string[] = [];
  for (const r of rows.filter((x) => x.name.includes(`×${BATCH}`))) {
    notes.push(`${r.name}: ${Math.round(r.opsPerSec * BATCH).toLocaleString('en-US')} frames/s, ${(r.meanUs / BATCH).toFixed(2)} µs per frame`);
  }
  notes.push(`payload ${FRAME} B; ${ROUNDS} interleaved rounds; ops/s = 1 / mean; latencies are tinybench's per-iteration samples, pooled; a pipelined row's iteration is a whole batch`);
  return { title: 'actor hop: main → worker → main', rows, notes };
}
