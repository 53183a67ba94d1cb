// Shared by the speech and spawner suites: tool checks, a per-file spawner, a worker running
// inline code against our .ts sources, and a look at the helper's live children.
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Spawner, connectSpawner, readAll, type SpawnClient } from '../../runtime/spawner.js';

export const T = { timeout: 60_000 };

function onPath(tool: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return true;
    } catch {
      /* next */
    }
  }
  return false;
}

/**
 * True when every tool is installed. Otherwise the test fails under CI=true (`.ci/run` must
 * install them) and is skipped with a message elsewhere.
 */
export function needTools(t: TestContext, ...tools: string[]): boolean {
  const missing = tools.filter((x) => !onPath(x));
  if (missing.length === 0) return true;
  const msg = `missing system tool(s): ${missing.join(', ')} (Debian: espeak-ng, pocketsphinx, pocketsphinx-en-us, sox)`;
  if (process.env.CI === 'true') throw new Error(msg);
  t.skip(msg);
  return false;
}

export interface SpawnerFixture {
  spawner: Spawner;
  client: SpawnClient;
}

/** One helper process and one client for a whole file; closed after it. */
export function useSpawner(after: (fn: () => Promise<void>) => void, before: (fn: () => Promise<void>) => void): SpawnerFixture {
  const fx = {} as SpawnerFixture;
  before(async () => {
    fx.spawner = await Spawner.start();
    fx.client = await connectSpawner(fx.spawner.address);
  });
  after(async () => {
    fx.client?.close();
    await fx.spawner?.close();
  });
  return fx;
}

/** Pids whose parent is `pid` (Linux /proc), with their command names. */
export function childrenOf(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may hold spaces and parentheses, so split after the last ')'.
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === pid) out.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** True while `pid` runs; a zombie (dead, not yet reaped by whoever adopted it) counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/**
 * Runs `body` (JavaScript: an async function body with `workerData` and `load(rel)` in scope,
 * `load` importing one of our .ts modules by path from the repository root) in a new worker
 * thread, and resolves with what it returns.
 */
export function inWorker<R>(body: string, workerData: unknown): Promise<R> {
  const root = new URL('../../', import.meta.url).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const load = (rel) => import(${JSON.stringify(root)} + rel);
    import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
      .then((m) => { m.register(); return (async () => { ${body} })(); })
      .then((r) => parentPort.postMessage({ ok: r }), (e) => parentPort.postMessage({ err: { message: String(e && e.message), code: e && e.code } }));
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData });
    w.once('message', (m: { ok?: R; err?: { message: string; code?: string } }) => {
      void w.terminate();
      if (m.err) reject(Object.assign(new Error(m.err.message), { code: m.err.code }));
      else resolve(m.ok as R);
    });
    w.once('error', reject);
  });
}

/** Resamples s16le mono with sox, through the spawner like any other subprocess. */
export async function resample(client: SpawnClient, pcm: Int16Array, from: number, to: number): Promise<Int16Array> {
  const raw = (rate: number) => ['-t', 'raw', '-r', String(rate), '-e', 'signed', '-b', '16', '-c', '1'];
  const p = client.run('sox', [...raw(from), '-', ...raw(to), '-'], { stdin: new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength) });
  const { stdout } = await readAll(p);
  const out = new Int16Array(stdout.length >> 1);
  new Uint8Array(out.buffer).set(stdout.subarray(0, out.length * 2));
  return out;
}

export function concatPcm(chunks: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const s of pcm) sum += s * s;
  return pcm.length ? Math.sqrt(sum / pcm.length) : 0;
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
