/**
 * Everything a session needs for its device's tools, in one object: the MCP client, the legacy
 * IoT bridge, the per-device cache, and the tool list merged from both protocols.
 *
 *   hello (features.mcp) ─▶ start(): initialize ─▶ cache hit? tools now ─▶ background re-list
 *                                                  cache miss ─▶ list ─▶ tools
 *   device `mcp` ─▶ receiveMcp()      device `iot` ─▶ receiveIot()      socket closed ─▶ close()
 *   model calls ─▶ llmTools().toDevice ─▶ call(deviceName, args)
 *
 * `start()` never rejects: a device whose MCP fails still talks, just without device tools.
 */
import type { Clock } from '../../runtime/clock.js';
import { XzError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { DeviceMcp } from './device-mcp.js';
import { MCP } from './errors.js';
import { IotThings, type IotCommandMessage } from './iot.js';
import { isObject } from './rpc.js';
import type { ToolCache } from './tool-cache.js';
import type { LlmTools, LlmToolsOptions } from './tool-names.js';
import { internTools, llmToolsOf } from './tool-intern.js';
import type { CallOptions, DeviceTool, ToolResult } from './types.js';

export type ToolsSource = 'cache' | 'device' | 'iot';
export type ToolboxState = 'idle' | 'initializing' | 'listing' | 'ready' | 'failed' | 'closed';
export type ToolsListener = (tools: readonly DeviceTool[], source: ToolsSource) => void;

export interface DeviceToolboxOptions {
  deviceId: string;
  /** Wraps a JSON-RPC payload into `{session_id, type:'mcp', payload}`; false when the socket is closed. */
  sendMcp(payload: Record<string, unknown>): boolean | void;
  /** Sends an IoT command message as is (adding `session_id` is harmless); false when closed. */
  sendIot(message: IotCommandMessage): boolean | void;
  clock: Clock;
  log: Logger;
  cache?: ToolCache | undefined;
  visionUrl?: string | undefined;
  visionToken?: string | undefined;
  clientVersion?: string | undefined;
  callTimeoutMs?: number | undefined;
  listTimeoutMs?: number | undefined;
  /** Also list user-only tools where the firmware can (kept for operators, never offered to the model). Default true. */
  withUserTools?: boolean | undefined;
}

export class DeviceToolbox {
  readonly mcp: DeviceMcp;
  #iot: IotThings | undefined;
  readonly #opts: DeviceToolboxOptions;
  readonly #log: Logger;
  readonly #listeners = new Set<ToolsListener>();
  #mcpTools: readonly DeviceTool[] = [];
  #state: ToolboxState = 'idle';
  #started: Promise<void> | undefined;
  #refreshed: Promise<void> = Promise.resolve();
  /** MCP then IoT tools, interned: devices with the same list share one copy. */
  #all: readonly DeviceTool[] = [];

  constructor(opts: DeviceToolboxOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.mcp = new DeviceMcp({
      send: opts.sendMcp,
      clock: opts.clock,
      log: opts.log,
      visionUrl: opts.visionUrl,
      visionToken: opts.visionToken,
      clientVersion: opts.clientVersion,
      callTimeoutMs: opts.callTimeoutMs,
      listTimeoutMs: opts.listTimeoutMs,
    });
  }

  /** The legacy IoT bridge, made when first needed: most devices speak MCP only. */
  get iot(): IotThings {
    return (this.#iot ??= new IotThings({ send: this.#opts.sendIot, log: this.#log }));
  }

  /** Legacy IoT states by thing name; undefined for a device that never spoke IoT. */
  iotStates(): { get(thing: string): Readonly<Record<string, unknown>> | undefined } | undefined {
    const iot = this.#iot;
    return iot ? { get: (thing) => iot.stateOf(thing) } : undefined;
  }

  get state(): ToolboxState {
    return this.#state;
  }

  /** Settles when the current background re-list (after a cache hit) is over. */
  get refreshed(): Promise<void> {
    return this.#refreshed;
  }

  /**
   * Starts MCP with the device (call once the hello announced `features.mcp`). Resolves as soon
   * as tools are known: from the cache right after `initialize`, otherwise after listing.
   * Idempotent; never rejects.
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  receiveMcp(payload: unknown): void {
    this.mcp.receive(payload);
  }

  /** A device `iot` message (descriptors and/or states). */
  receiveIot(msg: Record<string, unknown>): void {
    if (this.iot.ingest(msg)) this.#emit('iot');
  }

  /** Every device tool: MCP first (user-only included), then IoT. Shared and frozen. */
  tools(): readonly DeviceTool[] {
    return this.#all;
  }

  /** Function definitions for the model plus the name maps; computed once per distinct list. */
  llmTools(opts: LlmToolsOptions = {}): LlmTools {
    return llmToolsOf(this.#all, opts);
  }

  /** Calls a tool by its device name (map a model's name back with `llmTools().toDevice`). */
  async call(name: string, args: Record<string, unknown> = {}, opts: CallOptions = {}): Promise<ToolResult> {
    if (this.#iot?.has(name)) return this.#iot.call(name, args);
    // Forwarding an unknown name would cost a round trip (or a full timeout on a device without MCP).
    if (!this.#mcpTools.some((t) => t.name === name)) {
      throw new XzError(MCP.XZ_ERR_MCP_UNKNOWN_TOOL, `device has no tool ${name}`, { details: { tool: name } });
    }
    return this.mcp.callTool(name, args, opts);
  }

  onToolsChanged(fn: ToolsListener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** The socket is gone: calls in flight fail with XZ_ERR_MCP_CLOSED. */
  close(reason?: string): void {
    this.#state = 'closed';
    this.mcp.close(reason);
  }

  async #start(): Promise<void> {
    if (this.#isClosed()) return;
    this.#state = 'initializing';
    let info;
    try {
      info = await this.mcp.initialize();
    } catch (err) {
      this.#fail(err, 'device MCP initialize failed: no device tools');
      return;
    }
    const { cache, deviceId } = this.#opts;
    let cached;
    try {
      cached = await cache?.get(deviceId, info.version);
    } catch (err) {
      this.#log.warn({ err }, 'device tool cache unreadable: listing');
    }
    if (cached && !this.#isClosed()) {
      this.#mcpTools = internTools(cached.tools);
      this.#state = 'ready';
      this.#emit('cache');
      this.#refreshed = this.#refresh(info, this.#mcpTools);
      return;
    }
    this.#state = 'listing';
    this.#refreshed = this.#refresh(info, undefined);
    await this.#refreshed;
  }

  async #refresh(info: { name: string; version: string }, current: readonly DeviceTool[] | undefined): Promise<void> {
    // `current` is interned, so an unchanged listing interns to the very same array.
    let tools: DeviceTool[];
    try {
      tools = await this.mcp.listTools({ withUserTools: this.#opts.withUserTools ?? true });
    } catch (err) {
      // With a cached list the session keeps it; without one the device simply has no tools.
      if (current) this.#log.warn({ err: errInfo(err) }, 'device tool refresh failed: keeping the cached list');
      else this.#fail(err, 'device tools/list failed: no device tools');
      return;
    }
    if (this.#isClosed()) return;
    this.#state = 'ready';
    const shared = internTools(tools);
    if (shared !== current) {
      this.#mcpTools = shared;
      this.#emit('device');
    }
    this.#log.info({ tools: tools.length, board: info.name, firmware: info.version, cached: current !== undefined }, 'device tools listed');
    try {
      await this.#opts.cache?.put(this.#opts.deviceId, info.version, info.name, tools);
    } catch (err) {
      this.#log.warn({ err }, 'device tool cache write failed');
    }
  }

  // A method, not an inline check: the state changes across awaits (close() from the session).
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #fail(err: unknown, msg: string): void {
    if (this.#isClosed()) return;
    this.#state = 'failed';
    this.#log.warn({ err: errInfo(err) }, msg);
  }

  #emit(source: ToolsSource): void {
    const iot = this.#iot?.tools() ?? [];
    this.#all = iot.length === 0 ? this.#mcpTools : internTools([...this.#mcpTools, ...iot]);
    const tools = this.#all;
    for (const fn of [...this.#listeners]) {
      try {
        fn(tools, source);
      } catch (err) {
        this.#log.error({ err }, 'onToolsChanged listener threw');
      }
    }
  }
}

function errInfo(err: unknown): unknown {
  return isObject(err) && typeof err['code'] === 'string' ? { code: err['code'], message: err['message'] } : err;
}

/**
 * Arguments as a model wrote them (JSON text) → an object; an empty string means no arguments.
 * Throws XZ_ERR_MCP_BAD_ARGUMENTS for anything else, which the caller hands back to the model.
 */
export function parseToolArgs(argsJson: string): Record<string, unknown> {
  if (argsJson.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(argsJson);
  } catch {
    throw new XzError(MCP.XZ_ERR_MCP_BAD_ARGUMENTS, 'tool arguments are not valid JSON');
  }
  if (!isObject(v)) throw new XzError(MCP.XZ_ERR_MCP_BAD_ARGUMENTS, 'tool arguments must be a JSON object');
  return v;
}
