/**
 * One run on a spawner connection, as its caller sees it: stdout as an async iterable, the exit
 * as a promise, stdin streamed in frames. The connection (spawner-client.ts) routes frames here.
 */
import type { Socket } from 'node:net';
import { E, XzError } from './errors.js';
import { SP } from './spawner-errors.js';
import { F, MAX_CHUNK, frame, jsonFrame, parseJson, type ErrorReport, type ExitReport, type RunRequest } from './spawner-wire.js';

export interface RunOptions {
  /** Bytes or a stream fed to stdin then closed; 'pipe' to feed it with write()/end(); default: none. */
  stdin?: Uint8Array | AsyncIterable<Uint8Array> | 'pipe' | undefined;
  /** Abort kills the process (SIGTERM, SIGKILL after the helper's grace) and fails with XZ_ERR_ABORTED. */
  signal?: AbortSignal | undefined;
  /** Counted from the request, queueing included; fails with XZ_ERR_SPAWN_TIMEOUT. */
  timeoutMs?: number | undefined;
  /** Added to a small base environment (PATH, HOME, LANG, …), not the server's own. */
  env?: Record<string, string> | undefined;
  cwd?: string | undefined;
  /** Overrides the helper's default output limit for this run. */
  stdoutCapBytes?: number | undefined;
  /** false: a nonzero exit resolves `exit` instead of failing with XZ_ERR_SPAWN_EXIT. Default true. */
  check?: boolean | undefined;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** The tail of the process's stderr. */
  stderr: string;
}

export interface SpawnedProcess {
  /** Chunks as the process writes them; each chunk owns its buffer (safe to transfer). Fails like `exit`. */
  readonly stdout: AsyncIterable<Uint8Array>;
  /** Settles once the process is gone; rejects with a coded error unless it exited 0 (or check: false). */
  readonly exit: Promise<ExitInfo>;
  /** Settles when the helper has started the process; spawnMs is how long its fork + exec took. */
  readonly started: Promise<{ pid: number; spawnMs: number }>;
  /** The stderr tail, once the process has exited. */
  readonly stderr: string;
  /** Streams stdin (stdin: 'pipe'). The chunk is sent as is: do not modify it afterwards. */
  write(chunk: Uint8Array): void;
  end(): void;
  /** Same as aborting the run's signal. */
  kill(): void;
}

/** What a run needs of its connection. */
export interface RunOwner {
  release(run: Run): void;
  /** Resolves when the socket's write buffer has drained (or the socket is gone). */
  drained(): Promise<void>;
}

export const noop = (): void => {};
export const aborted = (): XzError => new XzError(E.XZ_ERR_ABORTED, 'subprocess aborted');

export class Run implements SpawnedProcess {
  readonly exit: Promise<ExitInfo>;
  readonly started: Promise<{ pid: number; spawnMs: number }>;
  stderr = '';
  socket: Socket | undefined;
  #chunks: Uint8Array[] = [];
  #waiter: { resolve: (r: IteratorResult<Uint8Array>) => void; reject: (e: unknown) => void } | undefined;
  #eof = false;
  #error: XzError | undefined;
  #discard = false;
  #done = false;
  #killed = false;
  #ended = false;
  #pending: (Uint8Array | null)[] = [];
  #resolveExit!: (x: ExitInfo) => void;
  #rejectExit!: (e: unknown) => void;
  #resolveStarted!: (x: { pid: number; spawnMs: number }) => void;
  #rejectStarted!: (e: unknown) => void;
  readonly #onAbort = (): void => this.kill();

  constructor(
    readonly conn: RunOwner,
    readonly id: number,
    readonly req: RunRequest,
    readonly opts: RunOptions,
  ) {
    this.exit = new Promise((res, rej) => ((this.#resolveExit = res), (this.#rejectExit = rej)));
    this.started = new Promise((res, rej) => ((this.#resolveStarted = res), (this.#rejectStarted = rej)));
    // Callers often watch only stdout, or only exit: neither may surface as an unhandled rejection.
    this.exit.catch(noop);
    this.started.catch(noop);
    opts.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get done(): boolean {
    return this.#done;
  }

  /** Called by the connection once a socket is up. */
  send(socket: Socket): void {
    if (this.#done) return;
    this.socket = socket;
    socket.write(jsonFrame(F.RUN, this.id, this.req));
    for (const c of this.#pending) this.#sendStdin(c);
    this.#pending = [];
    const src = this.opts.stdin;
    if (src instanceof Uint8Array) {
      this.#sendStdin(src);
      this.#sendStdin(null);
    } else if (src !== undefined && src !== 'pipe') {
      void this.#pump(src);
    }
  }

  async #pump(src: AsyncIterable<Uint8Array>): Promise<void> {
    try {
      for await (const chunk of src) {
        if (this.#done || this.#killed) return;
        if (!this.#sendStdin(chunk)) await this.conn.drained();
      }
      if (!this.#done) this.#sendStdin(null);
    } catch (e) {
      // A failing input source ends the run: the process would wait forever for the rest.
      this.kill();
      this.#fail(e instanceof XzError ? e : new XzError(E.XZ_ERR_INTERNAL, `stdin source failed: ${(e as Error).message}`, { cause: e }));
    }
  }

  #sendStdin(chunk: Uint8Array | null): boolean {
    const s = this.socket;
    if (!s || s.destroyed) return true;
    if (chunk === null) return s.write(frame(F.STDIN_END, this.id));
    let ok = true;
    for (let at = 0; at < chunk.byteLength; at += MAX_CHUNK) ok = s.write(frame(F.STDIN, this.id, chunk.subarray(at, at + MAX_CHUNK)));
    return ok;
  }

  write(chunk: Uint8Array): void {
    if (this.opts.stdin !== 'pipe') throw new XzError(E.XZ_ERR_INTERNAL, 'write() needs stdin: "pipe"');
    if (this.#ended) throw new XzError(E.XZ_ERR_INTERNAL, 'write() after end()');
    if (this.#done || this.#killed) return;
    if (this.socket) this.#sendStdin(chunk);
    else this.#pending.push(chunk);
  }

  end(): void {
    if (this.opts.stdin !== 'pipe' || this.#ended) return;
    this.#ended = true;
    if (this.#done || this.#killed) return;
    if (this.socket) this.#sendStdin(null);
    else this.#pending.push(null);
  }

  kill(): void {
    if (this.#done || this.#killed) return;
    this.#killed = true;
    // The reader hears at once; `exit` waits for the helper to confirm the process is gone.
    this.#failStdout(aborted());
    if (this.socket && !this.socket.destroyed) this.socket.write(frame(F.KILL, this.id));
    else this.#fail(aborted());
  }

  onFrame(type: number, payload: Buffer): void {
    if (this.#done) return;
    switch (type) {
      case F.STARTED:
        this.#resolveStarted(parseJson(payload));
        return;
      case F.STDOUT: {
        if (this.#killed || this.#discard) return;
        // A private copy: the payload shares the socket's buffer, and chunks get transferred.
        const chunk = new Uint8Array(payload.byteLength);
        chunk.set(payload);
        if (this.#waiter) {
          const w = this.#waiter;
          this.#waiter = undefined;
          w.resolve({ value: chunk, done: false });
        } else this.#chunks.push(chunk);
        return;
      }
      case F.EXIT:
        this.#exited(parseJson<ExitReport>(payload));
        return;
      case F.ERROR: {
        const r = parseJson<ErrorReport>(payload);
        this.#fail(new XzError(r.code, r.message, r.details ? { details: r.details } : {}));
        return;
      }
    }
  }

  #exited(r: ExitReport): void {
    this.stderr = r.stderr;
    const cmd = this.req.cmd;
    const details = { cmd, code: r.code, signal: r.signal, stderr: r.stderr.slice(-2000) };
    if (this.#killed || r.reason === 'killed') return this.#fail(aborted());
    if (r.reason === 'timeout') return this.#fail(new XzError(SP.XZ_ERR_SPAWN_TIMEOUT, `${cmd}: no exit within ${this.req.timeoutMs} ms`, { details }));
    if (r.reason === 'output-cap') return this.#fail(new XzError(SP.XZ_ERR_SPAWN_OUTPUT_CAP, `${cmd}: stdout over its limit`, { details }));
    if ((r.code !== 0 || r.signal !== null) && this.opts.check !== false) {
      const how = r.signal ? `killed by ${r.signal}` : `exited with code ${r.code}`;
      return this.#fail(new XzError(SP.XZ_ERR_SPAWN_EXIT, `${cmd} ${how}`, { details }));
    }
    this.#settle();
    this.#eof = true;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
    this.#resolveExit({ code: r.code, signal: r.signal, stderr: r.stderr });
    this.#rejectStarted(new XzError(SP.XZ_ERR_SPAWN_FAILED, 'never started'));
  }

  /** Ends the run with an error (also used by the connection when the socket drops). */
  fail(err: XzError): void {
    this.#fail(err);
  }

  #fail(err: XzError): void {
    if (this.#done) return;
    this.#settle();
    this.#failStdout(err);
    this.#rejectExit(err);
    this.#rejectStarted(err);
  }

  #failStdout(err: XzError): void {
    if (this.#error || this.#eof) return;
    this.#error = err;
    this.#chunks = [];
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.reject(err);
    }
  }

  #settle(): void {
    this.#done = true;
    this.opts.signal?.removeEventListener('abort', this.#onAbort);
    this.conn.release(this);
  }

  readonly stdout: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: (): Promise<IteratorResult<Uint8Array>> => {
        const chunk = this.#chunks.shift();
        if (chunk) return Promise.resolve({ value: chunk, done: false });
        if (this.#error) return Promise.reject(this.#error);
        if (this.#eof || this.#discard) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
      },
      return: (): Promise<IteratorResult<Uint8Array>> => {
        // The reader stopped early: drop output from now on (the process runs on unless killed).
        this.#discard = true;
        this.#chunks = [];
        return Promise.resolve({ value: undefined, done: true });
      },
    }),
  };
}

