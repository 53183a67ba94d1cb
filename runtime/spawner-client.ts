/**
 * The client side of the spawner, usable from any thread: a worker connects to the helper's Unix
 * socket itself, so it can stream stdin to a process and read its stdout without the main thread
 * relaying anything. One connection carries any number of concurrent runs.
 *
 *   const client = await connectSpawner(address);
 *   const p = client.run('espeak-ng', ['--stdout'], { stdin: text, signal });
 *   for await (const chunk of p.stdout) …;   await p.exit;
 *
 * When the helper dies, runs in flight fail with XZ_ERR_SPAWNER_DOWN (retryable) and the next
 * `run` reconnects, waiting up to `reconnectMs` for the restarted helper.
 */
import { connect, type Socket } from 'node:net';
import { XzError } from './errors.js';
import { SP } from './spawner-errors.js';
import { Run, aborted, noop, type ExitInfo, type RunOptions, type RunOwner, type SpawnedProcess } from './spawner-run.js';
import { FrameDecoder, type RunRequest } from './spawner-wire.js';

export type { ExitInfo, RunOptions, SpawnedProcess } from './spawner-run.js';

export interface SpawnClient {
  readonly address: string;
  run(cmd: string, args: readonly string[], opts?: RunOptions): SpawnedProcess;
  /** Drops the connection; the helper kills this client's processes. */
  close(): void;
}

export interface ConnectOptions {
  /** How long a (re)connect keeps trying while the helper restarts. Default 3000 ms. */
  reconnectMs?: number;
}

class Connection implements SpawnClient, RunOwner {
  readonly address: string;
  readonly #reconnectMs: number;
  #socket: Socket | undefined;
  #dialing: Promise<Socket> | undefined;
  #closed = false;
  #nextId = 1;
  readonly #runs = new Map<number, Run>();

  constructor(address: string, opts: ConnectOptions) {
    this.address = address;
    this.#reconnectMs = opts.reconnectMs ?? 3000;
  }

  run(cmd: string, args: readonly string[], opts: RunOptions = {}): SpawnedProcess {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    const req: RunRequest = { cmd, args: [...args], stdin: opts.stdin === undefined ? 'ignore' : 'pipe' };
    if (opts.env) req.env = opts.env;
    if (opts.cwd) req.cwd = opts.cwd;
    if (opts.timeoutMs !== undefined) req.timeoutMs = opts.timeoutMs;
    if (opts.stdoutCapBytes !== undefined) req.stdoutCapBytes = opts.stdoutCapBytes;
    const run = new Run(this, id, req, opts);
    if (this.#closed) {
      run.fail(new XzError(SP.XZ_ERR_SPAWNER_CLOSED));
      return run;
    }
    if (opts.signal?.aborted) {
      run.fail(aborted());
      return run;
    }
    this.#runs.set(id, run);
    this.#socket?.ref();
    if (this.#socket) run.send(this.#socket);
    else {
      this.dial().then(
        (s) => run.send(s),
        (e: XzError) => run.fail(e),
      );
    }
    return run;
  }

  release(run: Run): void {
    this.#runs.delete(run.id);
    // An idle connection must not keep a thread's event loop alive.
    if (this.#runs.size === 0) this.#socket?.unref();
  }

  /** Resolves when the socket's write buffer has drained (or the socket is gone). */
  drained(): Promise<void> {
    const s = this.#socket;
    if (!s || !s.writableNeedDrain) return Promise.resolve();
    return new Promise((r) => {
      const done = (): void => {
        s.off('drain', done);
        s.off('close', done);
        r();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const run of [...this.#runs.values()]) run.fail(new XzError(SP.XZ_ERR_SPAWNER_CLOSED));
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  dial(): Promise<Socket> {
    if (this.#socket) return Promise.resolve(this.#socket);
    this.#dialing ??= this.#connectWithRetry().finally(() => (this.#dialing = undefined));
    return this.#dialing;
  }

  async #connectWithRetry(): Promise<Socket> {
    const deadline = performance.now() + this.#reconnectMs;
    let delay = 10;
    for (;;) {
      if (this.#closed) throw new XzError(SP.XZ_ERR_SPAWNER_CLOSED);
      try {
        const s = await connectOnce(this.address);
        if (this.#closed) {
          s.destroy();
          throw new XzError(SP.XZ_ERR_SPAWNER_CLOSED);
        }
        this.#attach(s);
        return s;
      } catch (e) {
        if (e instanceof XzError) throw e;
        if (performance.now() + delay > deadline) {
          throw new XzError(SP.XZ_ERR_SPAWNER_DOWN, `cannot reach the spawner at ${this.address}: ${(e as Error).message}`, { cause: e });
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 200);
      }
    }
  }

  #attach(s: Socket): void {
    this.#socket = s;
    if (this.#runs.size === 0) s.unref();
    const decoder = new FrameDecoder((type, id, payload) => this.#runs.get(id)?.onFrame(type, payload));
    s.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch {
        s.destroy();
      }
    });
    s.on('error', noop); // 'close' follows and says what matters
    s.on('close', () => {
      if (this.#socket === s) this.#socket = undefined;
      for (const run of [...this.#runs.values()]) {
        if (run.socket === s) run.fail(new XzError(SP.XZ_ERR_SPAWNER_DOWN, 'the spawner process went away during the run'));
      }
    });
  }
}

function connectOnce(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(address);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Opens a connection to the helper at `address` (from `Spawner.address`), from any thread. */
export async function connectSpawner(address: string, opts: ConnectOptions = {}): Promise<SpawnClient> {
  const c = new Connection(address, opts);
  // Fail early on a wrong address rather than at the first run.
  await c.dial();
  return c;
}

const shared = new Map<string, Promise<SpawnClient>>();

/**
 * One connection per address per thread, shared by every provider on that thread. Do not close
 * it: it lives as long as the thread, and while idle it does not keep the thread alive.
 */
export function sharedSpawnClient(address: string): Promise<SpawnClient> {
  let p = shared.get(address);
  if (!p) {
    p = connectSpawner(address);
    shared.set(address, p);
    p.catch(() => shared.delete(address));
  }
  return p;
}

/** Reads all of stdout and waits for a clean exit. */
export async function readAll(p: SpawnedProcess): Promise<{ stdout: Buffer; exit: ExitInfo }> {
  const parts: Uint8Array[] = [];
  for await (const c of p.stdout) parts.push(c);
  return { stdout: Buffer.concat(parts), exit: await p.exit };
}
