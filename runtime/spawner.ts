/**
 * The spawner: every subprocess of the server (espeak-ng, pocketsphinx, stdio MCP servers) is
 * started by one small helper process, never by a thread of the server itself.
 *
 * `spawn()` blocks its calling thread while fork copies the page tables, in proportion to the
 * caller's memory (36 ms at 1 GB): from the main thread that stalls pacing for every device.
 * The helper (spawner-process.ts) stays small, so its forks cost a few ms and block nobody else.
 *
 *   main thread at boot:  const spawner = await Spawner.start({ log });   // one fork, while small
 *   any thread:           const client = await connectSpawner(spawner.address);
 *
 * If the helper dies, this class kills its leftover children (they share its process group) and
 * starts a new one at the same address; clients reconnect on their next run. That restart forks
 * from the main thread, at whatever size it has then: a rare, logged cost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XzError } from './errors.js';
import { SP } from './spawner-errors.js';
import type { HelperOptions } from './spawner-process.js';

export { connectSpawner, readAll, sharedSpawnClient } from './spawner-client.js';
export type { ConnectOptions, ExitInfo, RunOptions, SpawnClient, SpawnedProcess } from './spawner-client.js';
export { SP } from './spawner-errors.js';

/** How providers receive the spawner: its address, or a function giving a connected client. */
export type SpawnClientFactory = () => Promise<import('./spawner-client.js').SpawnClient>;

export interface SpawnerOptions {
  log?: (msg: string) => void;
  /** Processes running at once; more wait in a queue. Default 16. */
  maxProcs?: number;
  /** Waiting runs beyond which a run fails with XZ_ERR_SPAWN_BUSY. Default 256. */
  maxQueued?: number;
  /** Default stdout limit per run. Default 64 MiB. */
  stdoutCapBytes?: number;
  /** stderr kept per run (the tail). Default 16 KiB. */
  stderrTailBytes?: number;
  /** SIGTERM → SIGKILL delay when a run is aborted or times out. Default 100 ms. */
  killGraceMs?: number;
  /** First restart delay after the helper dies; doubles up to 5 s while it keeps dying. Default 50 ms. */
  restartDelayMs?: number;
  /** How long the helper may take to start listening. Default 10 s. */
  startTimeoutMs?: number;
}

// Compiled builds run spawner-process.js. Tests run the .ts sources through tsx, which a plain
// `node` child does not have: there the child gets tsx's loader with --import.
const fromSource = import.meta.url.endsWith('.ts');
const HELPER = fileURLToPath(new URL(`./spawner-process${fromSource ? '.ts' : '.js'}`, import.meta.url));
const LOADER_ARGS = fromSource ? ['--import', import.meta.resolve('tsx')] : [];

export class Spawner {
  readonly address: string;
  readonly #dir: string;
  readonly #opts: Required<Omit<SpawnerOptions, 'log'>>;
  readonly #log: (msg: string) => void;
  #child: ChildProcess | undefined;
  #closing = false;
  #restarts = 0;
  #delay: number;
  #upSince = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  private constructor(opts: SpawnerOptions) {
    this.#log = opts.log ?? (() => {});
    this.#opts = {
      maxProcs: opts.maxProcs ?? 16,
      maxQueued: opts.maxQueued ?? 256,
      stdoutCapBytes: opts.stdoutCapBytes ?? 64 * 1024 * 1024,
      stderrTailBytes: opts.stderrTailBytes ?? 16 * 1024,
      killGraceMs: opts.killGraceMs ?? 100,
      restartDelayMs: opts.restartDelayMs ?? 50,
      startTimeoutMs: opts.startTimeoutMs ?? 10_000,
    };
    this.#delay = this.#opts.restartDelayMs;
    // A 0700 directory: only this user may connect, and whoever connects can run commands.
    this.#dir = mkdtempSync(join(tmpdir(), 'xz-spawner-'));
    this.address = join(this.#dir, 'sock');
  }

  /** Starts the helper (call once, at boot, from the main thread) and waits until it listens. */
  static async start(opts: SpawnerOptions = {}): Promise<Spawner> {
    const s = new Spawner(opts);
    try {
      await s.#launch();
    } catch (e) {
      rmSync(s.#dir, { recursive: true, force: true });
      throw e;
    }
    return s;
  }

  /** The helper's pid (changes when it restarts). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** How many times the helper has been restarted after dying. */
  get restarts(): number {
    return this.#restarts;
  }

  #launch(): Promise<void> {
    const helperOpts: HelperOptions = {
      address: this.address,
      maxProcs: this.#opts.maxProcs,
      maxQueued: this.#opts.maxQueued,
      stdoutCapBytes: this.#opts.stdoutCapBytes,
      stderrTailBytes: this.#opts.stderrTailBytes,
      killGraceMs: this.#opts.killGraceMs,
    };
    const t0 = performance.now();
    // detached: the helper leads its own process group, which its children join, so one
    // kill(-pid) clears everything it leaves behind. Our pipe on its stdin tells it when we die.
    const child = spawn(process.execPath, [...LOADER_ARGS, HELPER, JSON.stringify(helperOpts)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const forkMs = performance.now() - t0;
    this.#child = child;
    child.stdin!.on('error', () => {});
    let stderrBuf = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      stderrBuf += s;
      let nl: number;
      while ((nl = stderrBuf.indexOf('\n')) >= 0) {
        this.#log(stderrBuf.slice(0, nl));
        stderrBuf = stderrBuf.slice(nl + 1);
      }
    });
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new XzError(SP.XZ_ERR_SPAWNER_DOWN, `spawner process did not start within ${this.#opts.startTimeoutMs} ms`));
      }, this.#opts.startTimeoutMs);
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (s: string) => {
        out += s;
        if (ready || !out.includes('ready\n')) return;
        ready = true;
        clearTimeout(timer);
        this.#upSince = performance.now();
        this.#log(`spawner: helper pid ${child.pid} ready in ${(performance.now() - t0).toFixed(0)} ms (fork ${forkMs.toFixed(1)} ms)`);
        // From now on the helper must not keep the server's event loop alive by itself.
        child.unref();
        for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as Socket | null)?.unref?.();
        resolve();
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new XzError(SP.XZ_ERR_SPAWNER_DOWN, `spawner process failed to start: ${e.message}`, { cause: e }));
      });
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        this.#killGroup(child);
        if (!ready) {
          reject(new XzError(SP.XZ_ERR_SPAWNER_DOWN, `spawner process exited during start (code ${code}, signal ${signal})`));
          return;
        }
        if (this.#closing || this.#child !== child) return;
        this.#log(`spawner: helper pid ${child.pid} died (code ${code}, signal ${signal}); restarting`);
        this.#scheduleRestart();
      });
    });
  }

  #scheduleRestart(): void {
    // A helper that ran a while before dying earns a quick restart; one that keeps dying backs off.
    if (performance.now() - this.#upSince > 10_000) this.#delay = this.#opts.restartDelayMs;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, 5000);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#closing) return;
      this.#restarts++;
      this.#launch().catch((e: Error) => {
        this.#log(`spawner: restart failed: ${e.message}`);
        if (!this.#closing) this.#scheduleRestart();
      });
    }, delay);
    this.#restartTimer.unref();
  }

  #killGroup(child: ChildProcess): void {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* the group is already empty */
    }
  }

  /** Stops the helper, which kills every process it still runs, and removes the socket. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin?.end(); // the helper's cue to kill its children and exit
      const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
      await gone;
      clearTimeout(timer);
    }
    if (child) this.#killGroup(child);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
