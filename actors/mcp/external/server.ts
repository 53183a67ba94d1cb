/**
 * One external MCP server's life on the main thread: connect, initialize, list, serve calls,
 * notice when it is gone, retry.
 *
 *   connecting ──ok──▶ ready ──process exit / ping fails──▶ backoff ──timer──▶ connecting
 *        │                                                     ▲
 *        └──────────fails or takes longer than connect_timeout_ms┘
 *   stdio: more than `restart.max` failures within `restart.window_ms` ──▶ failed (given up)
 *   http/sse: retried for ever at up to `max_backoff_ms` (a network outage ends by itself)
 *
 * A stdio server's death is certain (its process exits); a network server's is not, so a
 * transport error or a call failing on the channel triggers a ping, and only a failed ping
 * reconnects. While not ready, the server offers no tools and calls fail at once with a code.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ToolListChangedNotificationSchema, type Implementation } from '@modelcontextprotocol/sdk/types.js';
import { E, XzError, toWire } from '../../../runtime/errors.js';
import type { Logger } from '../../../runtime/log.js';
import type { SpawnClientFactory } from '../../../runtime/spawner.js';
import { MCP } from '../errors.js';
import type { McpServerConfig, McpTransportKind } from '../../../config/mcp-servers.js';
import { nameTools, type NamedTool, type RemoteTool } from './names.js';
import { classifyCallError, errorResult, resultFromCall, resultFromError, type ExternalToolResult } from './results.js';
import { SpawnerStdioTransport } from './spawner-transport.js';
import { makeTransport } from './transports.js';

export type ServerState = 'disabled' | 'connecting' | 'ready' | 'backoff' | 'failed' | 'closed';

export interface ServerSnapshot {
  readonly name: string;
  readonly transport: McpTransportKind;
  readonly state: ServerState;
  /** Tool names as the model sees them (empty unless ready). */
  readonly tools: readonly string[];
  /** Connection attempts after the first one. */
  readonly restarts: number;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string } | null;
  /** The stdio server's process id, while it runs (or is being connected to). */
  readonly pid: number | null;
  /** When the state last changed (ISO time). */
  readonly since: string;
}

export interface ExternalServerOptions {
  name: string;
  config: McpServerConfig;
  spawnClient?: SpawnClientFactory | undefined;
  log: Logger;
  clientInfo: Implementation;
  maxResultChars: number;
  /** Called whenever the offered tools change (ready, lost, list refreshed). */
  onToolsChanged: () => void;
}

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
}

/** One connection (or attempt): the SDK client and the transport under it. */
interface Live {
  readonly client: Client;
  readonly transport: Transport;
  probing: boolean;
  /** We know it is gone (and are closing it); its late events mean nothing. */
  dropped: boolean;
}

const PAGE_LIMIT = 100;
const noop = (): void => {};

export class ExternalServer {
  readonly name: string;
  readonly config: McpServerConfig;
  readonly #o: ExternalServerOptions;
  readonly #log: Logger;
  #state: ServerState;
  #since = Date.now();
  #tools: readonly NamedTool[] = [];
  #live: Live | undefined;
  #attempt: Live | undefined;
  #gen = 0;
  #restarts = 0;
  #failures: number[] = [];
  #lastError: ServerSnapshot['lastError'] = null;
  #timer: NodeJS.Timeout | undefined;
  #refreshing = false;
  #refreshAgain = false;
  readonly #first: Promise<void>;
  #firstDone!: () => void;

  constructor(o: ExternalServerOptions) {
    this.#o = o;
    this.name = o.name;
    this.config = o.config;
    this.#log = o.log;
    this.#state = o.config.enabled ? 'connecting' : 'disabled';
    this.#first = new Promise((r) => (this.#firstDone = r));
  }

  get state(): ServerState {
    return this.#state;
  }

  /** The tools offered now (none unless ready). */
  get tools(): readonly NamedTool[] {
    return this.#tools;
  }

  /** Settles once the first connection attempt has succeeded or failed. */
  get firstAttempt(): Promise<void> {
    return this.#first;
  }

  start(): void {
    if (this.#gen > 0) return; // started already
    if (this.#state !== 'connecting') return this.#firstDone(); // disabled, or closed before start
    void this.#connect();
  }

  snapshot(): ServerSnapshot {
    const t = (this.#live ?? this.#attempt)?.transport;
    return {
      name: this.name,
      transport: this.config.transport,
      state: this.#state,
      tools: this.#tools.map((x) => x.llmName),
      restarts: this.#restarts,
      lastError: this.#lastError,
      pid: t instanceof SpawnerStdioTransport ? (t.pid ?? null) : null,
      since: new Date(this.#since).toISOString(),
    };
  }

  /** The error result a call would get now, or undefined while the server is ready. */
  unavailable(): ExternalToolResult | undefined {
    return this.#live && this.#state === 'ready' ? undefined : resultFromError(this.#downError());
  }

  /** Calls a tool by the server's own name. Never throws: failures are coded error results. */
  async call(tool: string, args: Record<string, unknown>, opts: CallOptions = {}): Promise<ExternalToolResult> {
    const live = this.#live;
    if (!live || this.#state !== 'ready') return resultFromError(this.#downError());
    const timeoutMs = opts.timeoutMs ?? this.config.timeout_ms;
    if (opts.signal?.aborted) return errorResult(E.XZ_ERR_ABORTED, `${this.name}: ${tool}: call cancelled`);
    try {
      const r = await live.client.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
      return resultFromCall(r as Record<string, unknown>, this.#o.maxResultChars);
    } catch (err) {
      const { error, transportFailed } = classifyCallError(err, { server: this.name, tool, timeoutMs, signal: opts.signal });
      if (transportFailed) void this.#probe(live, error);
      return resultFromError(error);
    }
  }

  /** Stops for good: closes the connection (a stdio server's stdin ends, then it is killed). */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#gen++; // attempts in flight see a newer generation and stand down
    clearTimeout(this.#timer);
    const lives = [this.#live, this.#attempt].filter((l): l is Live => l !== undefined);
    this.#live = this.#attempt = undefined;
    const had = this.#tools.length > 0;
    this.#tools = [];
    this.#setState('closed');
    this.#firstDone();
    if (had) this.#o.onToolsChanged();
    await Promise.all(lives.map((l) => this.#closeLive(l, true)));
  }

  async #connect(): Promise<void> {
    const gen = ++this.#gen;
    this.#setState('connecting');
    const transport = makeTransport(this.name, this.config, this.#o.spawnClient);
    const client = new Client(this.#o.clientInfo, { capabilities: {} });
    const live: Live = { client, transport, probing: false, dropped: false };
    this.#attempt = live;
    client.onclose = () => this.#lost(live);
    client.onerror = (e) => this.#transportError(live, e);
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => this.#refresh(live));
    const ms = this.config.connect_timeout_ms;
    let timer: NodeJS.Timeout | undefined;
    try {
      const work = (async () => {
        await client.connect(transport, { timeout: ms });
        return client.getServerCapabilities()?.tools ? this.#list(client, ms) : [];
      })();
      work.catch(noop); // after a timeout nobody awaits it
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new XzError(MCP.XZ_ERR_MCP_CONNECT_FAILED, `${this.name}: not ready within ${ms} ms`)), ms);
      });
      const tools = await Promise.race([work, timeout]);
      if (gen !== this.#gen) return void this.#closeLive(live, true);
      this.#attempt = undefined;
      this.#live = live;
      this.#tools = nameTools(this.name, tools);
      this.#setState('ready');
      this.#log.info({ server: this.name, tools: this.#tools.length, restarts: this.#restarts }, 'external MCP server ready');
      this.#o.onToolsChanged();
    } catch (err) {
      if (gen !== this.#gen) return void this.#closeLive(live, true);
      this.#attempt = undefined;
      const error = this.#connectError(err, live);
      void this.#closeLive(live, true);
      this.#failed(error);
    } finally {
      clearTimeout(timer);
      this.#firstDone();
    }
  }

  async #list(client: Client, timeoutMs: number): Promise<RemoteTool[]> {
    const out: RemoteTool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < PAGE_LIMIT; page++) {
      const r = await client.listTools(cursor ? { cursor } : undefined, { timeout: timeoutMs });
      out.push(...(r.tools as RemoteTool[]));
      cursor = r.nextCursor;
      if (!cursor) break;
    }
    return out;
  }

  /** `notifications/tools/list_changed`: list again; overlapping notifications coalesce. */
  async #refresh(live: Live): Promise<void> {
    if (live !== this.#live) return;
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return;
    }
    this.#refreshing = true;
    try {
      do {
        this.#refreshAgain = false;
        let tools: RemoteTool[];
        try {
          tools = await this.#list(live.client, this.config.connect_timeout_ms);
        } catch (err) {
          if (live !== this.#live) return;
          // The old list stays: a failed refresh is no reason to take tools away.
          this.#record(new XzError(MCP.XZ_ERR_MCP_LIST_FAILED, `${this.name}: tools/list after list_changed failed: ${toWire(err).message}`));
          continue;
        }
        if (live !== this.#live) return;
        const named = nameTools(this.name, tools);
        if (JSON.stringify(named) === JSON.stringify(this.#tools)) continue;
        this.#tools = named;
        this.#log.info({ server: this.name, tools: named.length }, 'external MCP tools changed');
        this.#o.onToolsChanged();
      } while (this.#refreshAgain && live === this.#live);
    } finally {
      this.#refreshing = false;
    }
  }

  /** The client closed: a stdio process exited, or a transport gave up. */
  #lost(live: Live): void {
    if (live.dropped) return;
    live.dropped = true;
    if (live !== this.#live) return; // an attempt: its own catch reports it
    const t = live.transport;
    const err = (t instanceof SpawnerStdioTransport ? t.exitError : undefined) ?? new XzError(MCP.XZ_ERR_MCP_CLOSED, `${this.name}: connection closed`);
    this.#drop(live, err);
  }

  #transportError(live: Live, e: Error): void {
    if (live.dropped) return;
    this.#log.debug({ server: this.name, err: e.message }, 'external MCP transport error');
    // stdio: a stray line on stdout; the process's exit is the real signal of death. During an
    // attempt, the attempt's own outcome decides.
    if (this.config.transport !== 'stdio' && live === this.#live) void this.#probe(live, e);
  }

  /** Is a network server still there? One ping decides; a dead one is reconnected. */
  async #probe(live: Live, cause: unknown): Promise<void> {
    if (this.config.transport === 'stdio' || live.probing || live.dropped || live !== this.#live) return;
    live.probing = true;
    try {
      await live.client.ping({ timeout: Math.min(5000, this.config.connect_timeout_ms) });
    } catch {
      if (live !== this.#live || live.dropped) return;
      this.#drop(live, new XzError(MCP.XZ_ERR_MCP_CONNECT_FAILED, `${this.name}: server lost (${toWire(cause).message})`));
    } finally {
      live.probing = false;
    }
  }

  #drop(live: Live, err: XzError): void {
    live.dropped = true;
    if (live === this.#live) this.#live = undefined;
    this.#tools = [];
    this.#o.onToolsChanged();
    void this.#closeLive(live, false);
    this.#failed(err);
  }

  /** Counts a failure and schedules the next attempt, or gives up. */
  #failed(err: XzError): void {
    this.#record(err);
    const now = Date.now();
    const r = this.config.restart;
    this.#failures = this.#failures.filter((t) => now - t < r.window_ms);
    this.#failures.push(now);
    if (this.config.transport === 'stdio' && this.#failures.length > r.max) {
      this.#setState('failed');
      this.#log.error({ server: this.name, failures: this.#failures.length, windowMs: r.window_ms }, 'external MCP server given up: it keeps failing');
      return;
    }
    const delay = Math.min(r.backoff_ms * 2 ** (this.#failures.length - 1), r.max_backoff_ms);
    this.#setState('backoff');
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#restarts++;
      void this.#connect();
    }, delay);
    // A pending retry alone must not keep the process alive (shutdown, tests).
    this.#timer.unref();
  }

  #record(err: XzError): void {
    // A server that stays down fails the same way on every retry: say it once, then quietly.
    const repeat = this.#lastError?.code === err.code && this.#lastError.message === err.message;
    this.#lastError = { code: err.code, message: err.message, at: new Date().toISOString() };
    this.#log[repeat ? 'debug' : 'warn']({ server: this.name, code: err.code }, err.message);
  }

  #connectError(err: unknown, live: Live): XzError {
    const t = live.transport;
    // A process that died during initialize says more (exit code, stderr) than "connection closed".
    if (t instanceof SpawnerStdioTransport && t.exitError) return t.exitError;
    if (err instanceof XzError) return err;
    // The SDK's HTTP and SSE errors carry the status as a number `code`: keep it visible (401 vs 404).
    const code = (err as { code?: unknown }).code;
    const status = typeof code === 'number' && code >= 100 && code <= 599 ? code : undefined;
    const msg = `${this.name}: ${toWire(err).message}${status !== undefined ? ` (HTTP ${status})` : ''}`;
    return new XzError(MCP.XZ_ERR_MCP_CONNECT_FAILED, msg, { cause: err, ...(status !== undefined ? { details: { status } } : {}) });
  }

  #downError(): XzError {
    switch (this.#state) {
      case 'failed':
        return new XzError(MCP.XZ_ERR_MCP_GAVE_UP, `${this.name}: server given up after repeated failures (${this.#lastError?.message ?? 'no detail'})`);
      case 'closed':
        return new XzError(MCP.XZ_ERR_MCP_CLOSED, `${this.name}: server is shut down`);
      case 'disabled':
        return new XzError(MCP.XZ_ERR_MCP_SERVER_DOWN, `${this.name}: server is disabled in the config`);
      default:
        return new XzError(MCP.XZ_ERR_MCP_SERVER_DOWN, `${this.name}: server is not connected (${this.#state})`);
    }
  }

  async #closeLive(live: Live, polite: boolean): Promise<void> {
    live.dropped = true;
    const t = live.transport;
    // Tell a streamable HTTP server its session is over (bounded: a dead server must not stall shutdown).
    if (polite && t instanceof StreamableHTTPClientTransport && t.sessionId) {
      await Promise.race([t.terminateSession().catch(noop), new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    await live.client.close().catch(noop);
  }

  #setState(s: ServerState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.#since = Date.now();
  }
}
