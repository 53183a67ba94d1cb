/**
 * The MCP stdio transport over a spawner process: newline-delimited JSON-RPC on the child's
 * stdin/stdout, as the MCP stdio transport specifies. The SDK's StdioClientTransport would call
 * `spawn()` from this thread, and a fork from the main thread stalls pacing for every device
 * (design.md, "Who owns what"); here the small spawner helper forks instead.
 *
 *   start(): run through the spawner ─▶ wait for `started` (a missing command fails here)
 *   stdout chunks ─▶ ReadBuffer (the SDK's line splitter) ─▶ onmessage
 *   the process exits ─▶ `exitError` says how ─▶ onclose (once)
 *   close(): end stdin (the spec's polite stop) ─▶ grace ─▶ kill (SIGTERM, then SIGKILL)
 */
import { resolve } from 'node:path';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ReadBuffer, serializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { XzError, toWire } from '../../../runtime/errors.js';
import type { ExitInfo, SpawnClient, SpawnedProcess } from '../../../runtime/spawner-client.js';
import { MCP } from '../errors.js';

export interface SpawnerStdioOptions {
  command: string;
  args: readonly string[];
  env?: Readonly<Record<string, string>> | undefined;
  cwd?: string | undefined;
  /** How long a closing server gets after its stdin ends before it is killed. Default 500 ms. */
  closeGraceMs?: number | undefined;
  /** Label for errors. */
  server: string;
}

const noop = (): void => {};

export class SpawnerStdioTransport implements Transport {
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  onmessage?: (<T extends JSONRPCMessage>(message: T) => void) | undefined;

  readonly #client: () => Promise<SpawnClient>;
  readonly #opts: SpawnerStdioOptions;
  readonly #buffer = new ReadBuffer();
  #proc: SpawnedProcess | undefined;
  #pid: number | undefined;
  #closing = false;
  #closed = false;
  #exitError: XzError | undefined;

  constructor(client: () => Promise<SpawnClient>, opts: SpawnerStdioOptions) {
    this.#client = client;
    this.#opts = opts;
  }

  /** The child's pid once started. */
  get pid(): number | undefined {
    return this.#pid;
  }

  /** Why the process ended, when it ended on its own (not by close()). */
  get exitError(): XzError | undefined {
    return this.#exitError;
  }

  async start(): Promise<void> {
    if (this.#proc) throw new Error('SpawnerStdioTransport already started');
    const { command, args, env, cwd } = this.#opts;
    const client = await this.#client();
    const proc = client.run(command, args, {
      stdin: 'pipe',
      ...(env && Object.keys(env).length > 0 ? { env: { ...env } } : {}),
      ...(cwd ? { cwd: resolve(cwd) } : {}),
      // The server lives as long as we do: its output over a lifetime must not hit the per-run cap.
      stdoutCapBytes: Number.MAX_SAFE_INTEGER,
      check: false,
    });
    this.#proc = proc;
    // Registered before the exit handler, so a process that dies at once still counts as started.
    proc.started.then((s) => (this.#pid = s.pid), noop);
    proc.exit.then(
      (info) => this.#ended(info, undefined),
      (err: unknown) => this.#ended(undefined, err),
    );
    try {
      await proc.started;
    } catch (err) {
      const w = toWire(err);
      throw new XzError(MCP.XZ_ERR_MCP_CONNECT_FAILED, `${this.#opts.server}: cannot start ${command}: ${w.message}`, { cause: err, details: { code: w.code } });
    }
    if (this.#closing) throw new XzError(MCP.XZ_ERR_MCP_CONNECT_FAILED, `${this.#opts.server}: closed while starting`);
    void this.#pump(proc);
  }

  async #pump(proc: SpawnedProcess): Promise<void> {
    try {
      for await (const chunk of proc.stdout) {
        try {
          this.#buffer.append(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        } catch (err) {
          // Over 10 MB without a newline: not an MCP server, or a broken one. Restarting is the cure.
          this.onerror?.(err as Error);
          void this.close();
          return;
        }
        this.#drain();
      }
    } catch {
      // stdout fails exactly when `exit` does; #ended reports it.
    }
  }

  #drain(): void {
    for (;;) {
      let msg: JSONRPCMessage | null;
      try {
        msg = this.#buffer.readMessage();
      } catch (err) {
        // A line that is not JSON-RPC (a server logging to stdout): skip it, keep the session.
        // ReadBuffer has already consumed the line when it throws, so the loop moves on.
        this.onerror?.(err as Error);
        continue;
      }
      if (msg === null) return;
      this.onmessage?.(msg);
    }
  }

  #ended(info: ExitInfo | undefined, err: unknown): void {
    // Without a pid it never ran: start() reports that (missing command, bad cwd) as a start failure.
    if (!this.#closing && this.#pid !== undefined) {
      const server = this.#opts.server;
      if (info) {
        const how = info.signal ? `killed by ${info.signal}` : `exited with code ${info.code}`;
        const stderr = info.stderr.trim().slice(-500);
        this.#exitError = new XzError(MCP.XZ_ERR_MCP_SERVER_EXITED, `${server}: process ${how}${stderr ? `: ${stderr}` : ''}`, {
          details: { code: info.code, signal: info.signal, stderr },
        });
      } else {
        const w = toWire(err);
        this.#exitError = new XzError(MCP.XZ_ERR_MCP_SERVER_EXITED, `${server}: process lost: ${w.message}`, { cause: err, details: { code: w.code } });
      }
    }
    this.#fireClose();
  }

  #fireClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer.clear();
    this.onclose?.();
  }

  async send(message: JSONRPCMessage): Promise<void> {
    const proc = this.#proc;
    if (!proc || this.#closing || this.#closed) throw new XzError(MCP.XZ_ERR_MCP_CLOSED, `${this.#opts.server}: not connected`);
    proc.write(Buffer.from(serializeMessage(message), 'utf8'));
  }

  /** Ends stdin, gives the server a moment to exit by itself, then kills it; resolves once it is gone. */
  async close(): Promise<void> {
    const proc = this.#proc;
    if (this.#closing) {
      if (proc) await proc.exit.then(noop, noop);
      return;
    }
    this.#closing = true;
    if (!proc) return this.#fireClose();
    const gone = proc.exit.then(noop, noop);
    proc.end();
    if (!(await settlesWithin(gone, this.#opts.closeGraceMs ?? 500))) {
      proc.kill();
      // The helper confirms after SIGTERM (or its SIGKILL); bounded in case the helper is gone too.
      await settlesWithin(gone, 3000);
    }
    this.#fireClose();
  }
}

async function settlesWithin(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
