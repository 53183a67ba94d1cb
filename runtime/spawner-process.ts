/**
 * The spawner helper: a small long-lived process that starts every subprocess for the server.
 *
 * Why a process: `fork()` copies the caller's page tables, so `spawn()` blocks its thread in
 * proportion to the caller's memory (3 ms at 42 MB, 36 ms at 1 GB). This process holds almost
 * nothing, so its forks stay cheap, and no thread of the server ever forks during a session.
 *
 * It listens on a Unix socket (in a 0700 directory: whoever can connect can run commands) and
 * speaks the frames of spawner-wire.ts. Started by `Spawner.start()` with one JSON argument.
 * Children share this process's process group, so the server can kill leftovers with one
 * `kill(-pid)` if this process dies; when the server dies our stdin closes and we take our
 * children with us.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { SP } from './spawner-errors.js';
import { F, FrameDecoder, frame, jsonFrame, parseJson, type ErrorReport, type ExitReason, type ExitReport, type RunRequest } from './spawner-wire.js';

export interface HelperOptions {
  address: string;
  maxProcs: number;
  maxQueued: number;
  stdoutCapBytes: number;
  stderrTailBytes: number;
  killGraceMs: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as HelperOptions;
process.title = 'xz-spawner';

// Children get a small environment plus what each run asks for: the server's own environment
// holds provider secrets that a tool has no business seeing.
const BASE_ENV: Record<string, string> = {};
for (const k of ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TMPDIR', 'TZ']) {
  const v = process.env[k];
  if (v !== undefined) BASE_ENV[k] = v;
}

const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

class Run {
  child: ChildProcess | undefined;
  reason: ExitReason | undefined;
  stdoutBytes = 0;
  stderr: Buffer[] = [];
  stderrBytes = 0;
  pendingStdin: (Buffer | null)[] = [];
  timer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
  done = false;
  constructor(
    readonly conn: Conn,
    readonly id: number,
    readonly req: RunRequest,
  ) {}
}

let running = 0;
const queue: Run[] = [];

class Conn {
  readonly runs = new Map<number, Run>();
  #paused = false;
  closed = false;
  constructor(readonly socket: Socket) {
    // Output of every run shares this socket: when the client reads slowly, pause the children
    // instead of buffering without bound here.
    socket.on('drain', () => {
      this.#paused = false;
      for (const r of this.runs.values()) r.child?.stdout?.resume();
    });
  }
  send(buf: Buffer): void {
    if (this.closed) return;
    if (!this.socket.write(buf) && !this.#paused) {
      this.#paused = true;
      for (const r of this.runs.values()) r.child?.stdout?.pause();
    }
  }
  get paused(): boolean {
    return this.#paused;
  }
}

function fail(run: Run, err: ErrorReport): void {
  if (run.done) return;
  run.done = true;
  clearTimeout(run.timer);
  run.conn.runs.delete(run.id);
  run.conn.send(jsonFrame(F.ERROR, run.id, err));
}

function finish(run: Run, code: number | null, signal: string | null): void {
  if (run.done) return;
  run.done = true;
  clearTimeout(run.timer);
  clearTimeout(run.killTimer);
  run.conn.runs.delete(run.id);
  const report: ExitReport = { code, signal, stderr: Buffer.concat(run.stderr).toString('utf8') };
  if (run.reason) report.reason = run.reason;
  run.conn.send(jsonFrame(F.EXIT, run.id, report));
}

/** Ends a run for `reason`: SIGTERM first (a clean exit flushes), SIGKILL after the grace. */
function stop(run: Run, reason: ExitReason, hard = false): void {
  if (run.done) return;
  run.reason ??= reason;
  const child = run.child;
  if (!child) {
    // Still queued: it never started.
    const at = queue.indexOf(run);
    if (at >= 0) queue.splice(at, 1);
    finish(run, null, null);
    return;
  }
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(hard ? 'SIGKILL' : 'SIGTERM');
  if (!hard && !run.killTimer) run.killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killGraceMs);
}

function start(run: Run): void {
  const { req } = run;
  const t0 = performance.now();
  let child: ChildProcess;
  try {
    child = spawn(req.cmd, req.args, {
      stdio: [req.stdin, 'pipe', 'pipe'],
      env: { ...BASE_ENV, ...req.env },
      ...(req.cwd ? { cwd: req.cwd } : {}),
    });
  } catch (e) {
    fail(run, { code: SP.XZ_ERR_SPAWN_FAILED, message: `${req.cmd}: ${(e as Error).message}` });
    pump();
    return;
  }
  const spawnMs = performance.now() - t0;
  run.child = child;
  running++;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    running--;
    pump();
  };
  child.on('error', (e: NodeJS.ErrnoException) => {
    // Without a pid the exec failed (ENOENT, EACCES); later errors are failed kills, harmless.
    if (child.pid !== undefined) return;
    release();
    fail(run, { code: SP.XZ_ERR_SPAWN_FAILED, message: `${req.cmd}: ${e.message}`, details: { errno: e.code } });
  });
  if (child.pid === undefined) return;
  run.conn.send(jsonFrame(F.STARTED, run.id, { pid: child.pid, spawnMs }));

  child.stdout!.on('data', (chunk: Buffer) => {
    if (run.reason) return;
    run.stdoutBytes += chunk.length;
    const cap = req.stdoutCapBytes ?? opts.stdoutCapBytes;
    if (run.stdoutBytes > cap) {
      stop(run, 'output-cap', true);
      return;
    }
    run.conn.send(frame(F.STDOUT, run.id, chunk));
  });
  if (run.conn.paused) child.stdout!.pause();
  child.stderr!.on('data', (chunk: Buffer) => {
    run.stderr.push(chunk);
    run.stderrBytes += chunk.length;
    while (run.stderrBytes > opts.stderrTailBytes && run.stderr.length > 1) run.stderrBytes -= run.stderr.shift()!.length;
  });
  child.on('exit', () => {
    // Killed on purpose: a grandchild holding our pipes must not delay the answer.
    if (run.reason) {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
  });
  child.on('close', (code, signal) => {
    release();
    finish(run, code, signal);
  });
  if (child.stdin) {
    child.stdin.on('error', () => {}); // EPIPE when the child exits without reading all input
    for (const c of run.pendingStdin) {
      if (c === null) child.stdin.end();
      else child.stdin.write(c);
    }
  }
  run.pendingStdin = [];
}

function pump(): void {
  while (running < opts.maxProcs && queue.length > 0) start(queue.shift()!);
}

function onFrame(conn: Conn, type: number, id: number, payload: Buffer): void {
  if (type === F.RUN) {
    if (conn.runs.has(id)) {
      conn.send(jsonFrame(F.ERROR, id, { code: SP.XZ_ERR_SPAWN_PROTOCOL, message: `run id ${id} in use` }));
      return;
    }
    const req = parseJson<RunRequest>(payload);
    const run = new Run(conn, id, req);
    conn.runs.set(id, run);
    if (req.timeoutMs && req.timeoutMs > 0) run.timer = setTimeout(() => stop(run, 'timeout'), req.timeoutMs);
    if (running < opts.maxProcs) start(run);
    else if (queue.length < opts.maxQueued) queue.push(run);
    else fail(run, { code: SP.XZ_ERR_SPAWN_BUSY, message: `${running} running and ${queue.length} queued` });
    return;
  }
  const run = conn.runs.get(id);
  if (!run) return; // a late frame for a run that already ended
  switch (type) {
    case F.STDIN:
    case F.STDIN_END: {
      const chunk = type === F.STDIN ? payload : null;
      const stdin = run.child?.stdin;
      if (!run.child) run.pendingStdin.push(chunk);
      else if (stdin && !stdin.destroyed) {
        if (chunk) stdin.write(chunk);
        else stdin.end();
      }
      return;
    }
    case F.KILL:
      stop(run, 'killed');
      return;
  }
}

const conns = new Set<Conn>();
const server = createServer((socket) => {
  const conn = new Conn(socket);
  conns.add(conn);
  const decoder = new FrameDecoder((type, id, payload) => onFrame(conn, type, id, payload));
  socket.on('data', (chunk) => {
    try {
      decoder.push(chunk);
    } catch (e) {
      log(`spawner: dropping a client: ${(e as Error).message}`);
      socket.destroy();
    }
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    conn.closed = true;
    conns.delete(conn);
    // Nobody will read these results: end the work instead of finishing it.
    for (const run of [...conn.runs.values()]) stop(run, 'disconnected', true);
  });
});

function shutdown(why: string): void {
  log(`spawner: exiting (${why})`);
  queue.length = 0;
  server.close();
  // SIGKILL: the server is gone or leaving, nothing waits for a clean finish.
  for (const conn of conns) for (const run of conn.runs.values()) run.child?.kill('SIGKILL');
  process.exit(0);
}

try {
  unlinkSync(opts.address); // left behind by a helper that died
} catch {
  /* none */
}
server.listen(opts.address, () => {
  process.stdout.write('ready\n');
});
server.on('error', (e) => {
  log(`spawner: cannot listen on ${opts.address}: ${e.message}`);
  process.exit(1);
});
// The server holds our stdin: when it exits for any reason, the pipe closes.
process.stdin.on('end', () => shutdown('parent gone'));
process.stdin.on('error', () => shutdown('parent gone'));
process.stdin.resume();
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => {}); // the server decides when we stop
