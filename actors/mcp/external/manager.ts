/**
 * Every external MCP server of the config, on the main thread (tool calls are rare and wait on
 * I/O; nothing here touches audio). Started once at boot, shared by all sessions.
 *
 *   boot:      const mcp = new ExternalMcp({ servers: config.mcp_servers, spawnClient, log });
 *              await mcp.start({ waitMs: 3000 });   // connects in parallel; never waits longer
 *   session:   syncExternalTools(registry, mcp)   (registry.ts; the role filter applies per turn)
 *   model:     registry.call('weather__get_forecast', …) ─▶ mcp.call() ─▶ server's `get_forecast`
 *   status:    mcp.snapshot()
 *   shutdown:  await mcp.close()                    // stdio servers: stdin ends, then kill
 *
 * The `Tool` objects handed to registries are built once per tool list and shared by every
 * session, so a thousand sessions cost a thousand array slots, not a thousand copies.
 */
import type { Implementation } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../../runtime/log.js';
import type { SpawnClientFactory } from '../../../runtime/spawner.js';
import type { Tool } from '../../tools/registry.js';
import { MCP } from '../errors.js';
import type { McpServersConfig } from '../../../config/mcp-servers.js';
import { allowList, type AllowPredicate, type NamedTool } from './names.js';
import { DEFAULT_MAX_RESULT_CHARS, errorResult, type ExternalToolResult } from './results.js';
import { ExternalServer, type CallOptions, type ServerSnapshot } from './server.js';

export interface ExternalMcpOptions {
  servers: McpServersConfig;
  /** How stdio servers get started (the spawner); required if any is configured. */
  spawnClient?: SpawnClientFactory | undefined;
  log: Logger;
  /** What we tell servers in `initialize`. */
  clientInfo?: Implementation | undefined;
  /** Longer tool answers are cut for the model. Default 16 000 characters. */
  maxResultChars?: number | undefined;
}

/** The registry source of a server's tools. */
export const mcpSource = (server: string): string => `mcp:${server}`;

interface Entry {
  readonly server: ExternalServer;
  readonly tool: NamedTool;
  readonly registryTool: Tool;
}

export class ExternalMcp {
  readonly #servers = new Map<string, ExternalServer>();
  readonly #listeners = new Set<() => void>();
  readonly #log: Logger;
  #index = new Map<string, Entry>();
  #started = false;

  constructor(o: ExternalMcpOptions) {
    this.#log = o.log;
    for (const [name, config] of Object.entries(o.servers)) {
      this.#servers.set(
        name,
        new ExternalServer({
          name,
          config,
          spawnClient: o.spawnClient,
          log: o.log,
          clientInfo: o.clientInfo ?? { name: 'xiaozhi-server', version: '0.1.0' },
          maxResultChars: o.maxResultChars ?? DEFAULT_MAX_RESULT_CHARS,
          onToolsChanged: () => this.#changed(),
        }),
      );
    }
  }

  /** Server names in config order. */
  get serverNames(): string[] {
    return [...this.#servers.keys()];
  }

  /** The registry sources this manager can fill (`mcp:<server>` each). */
  get sources(): string[] {
    return this.serverNames.map(mcpSource);
  }

  /**
   * Starts every server in parallel. Resolves when each has finished its first attempt, or after
   * `waitMs` (default 3000), whichever is first: a slow or broken server goes on in the
   * background and its tools appear when it is ready. Never rejects.
   */
  async start(opts: { waitMs?: number } = {}): Promise<void> {
    if (!this.#started) {
      this.#started = true;
      for (const s of this.#servers.values()) s.start();
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((r) => (timer = setTimeout(r, opts.waitMs ?? 3000)));
    await Promise.race([Promise.all([...this.#servers.values()].map((s) => s.firstAttempt)), waited]);
    clearTimeout(timer);
    const states = Object.fromEntries([...this.#servers.values()].map((s) => [s.name, s.state]));
    if (this.#servers.size > 0) this.#log.info({ servers: states, tools: this.#index.size }, 'external MCP servers started');
  }

  /** Tools of ready servers, optionally filtered by a role's allow-list (names.ts). */
  tools(allow?: readonly string[] | AllowPredicate): NamedTool[] {
    const p = allow === undefined ? undefined : typeof allow === 'function' ? allow : allowList(allow);
    const out: NamedTool[] = [];
    for (const e of this.#index.values()) if (!p || p(e.tool)) out.push(e.tool);
    return out;
  }

  /** Registry entries (source `mcp:<server>`), all or those an allow-list lets through. */
  registryTools(allow?: readonly string[] | AllowPredicate): Tool[] {
    const p = allow === undefined ? undefined : typeof allow === 'function' ? allow : allowList(allow);
    const out: Tool[] = [];
    for (const e of this.#index.values()) if (!p || p(e.tool)) out.push(e.registryTool);
    return out;
  }

  /**
   * Calls a tool by the name the model used. Never throws: an unknown tool, a dead server, a
   * timeout or a cancelled call come back as an error result with a code, at once where possible.
   */
  async call(llmName: string, args: Record<string, unknown>, opts: CallOptions = {}): Promise<ExternalToolResult> {
    const e = this.#index.get(llmName);
    if (!e) {
      // Its server may be restarting: say so, rather than "no such tool", when the prefix names one.
      const down = this.#servers.get(llmName.split('__')[0] ?? '')?.unavailable();
      if (down) return down;
      return errorResult(MCP.XZ_ERR_MCP_UNKNOWN_TOOL, `no external MCP tool ${llmName}`);
    }
    return e.server.call(e.tool.name, args, opts);
  }

  /** Called after every change of the offered tools; returns the unsubscribe. */
  onToolsChanged(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Per server: transport, state, tools, restarts, last error, pid. For the status route. */
  snapshot(): ServerSnapshot[] {
    return [...this.#servers.values()].map((s) => s.snapshot());
  }

  /** The server object, for tests and diagnostics. */
  server(name: string): ExternalServer | undefined {
    return this.#servers.get(name);
  }

  /** Closes every server (stdio processes are stopped and awaited). Idempotent. */
  async close(): Promise<void> {
    await Promise.all([...this.#servers.values()].map((s) => s.close()));
    this.#listeners.clear();
  }

  #changed(): void {
    const index = new Map<string, Entry>();
    for (const server of this.#servers.values()) {
      for (const tool of server.tools) {
        const prev = this.#index.get(tool.llmName);
        // Keep the shared Tool object when nothing about it changed: registries compare nothing,
        // but sessions holding it keep working across unrelated list changes.
        const same = prev && prev.server === server && JSON.stringify(prev.tool) === JSON.stringify(tool);
        index.set(tool.llmName, same ? prev : { server, tool, registryTool: this.#registryTool(server, tool) });
      }
    }
    this.#index = index;
    for (const fn of [...this.#listeners]) {
      try {
        fn();
      } catch (err) {
        this.#log.error({ err }, 'external MCP tools listener threw');
      }
    }
  }

  #registryTool(server: ExternalServer, tool: NamedTool): Tool {
    const name = tool.llmName;
    return {
      definition: tool.definition,
      source: mcpSource(server.name),
      run: (args, ctx) => this.call(name, args, { signal: ctx.signal }),
    };
  }
}
