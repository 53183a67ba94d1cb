/**
 * The server's MCP client for the device's own MCP server (protocol.md §8). It lives on the main
 * thread, beside the session, because it rides the device's socket: the session hands it every
 * device `mcp` payload (`receive`) and gives it a `send` that wraps a payload into
 * `{session_id, type:'mcp', payload}`.
 *
 *   initialize ─▶ serverInfo (board, firmware) ─▶ notifications/initialized
 *   tools/list ─▶ page ─▶ nextCursor ─▶ page … (an error after page 1 = end of list)
 *   tools/call ─▶ single content item ─▶ { text, isError }   (error reply ─▶ XZ_ERR_MCP_TOOL_FAILED)
 */
import type { Clock } from '../../runtime/clock.js';
import { XzError, hasCode } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { MCP } from './errors.js';
import { RpcChannel, isObject, type RpcStats } from './rpc.js';
import type { CallOptions, DeviceTool, ServerInfo, ToolResult } from './types.js';

export const MCP_PROTOCOL_VERSION = '2024-11-05';
/** A device with hundreds of tools still fits in a few pages of ~8 KB; more means a cursor loop. */
const MAX_PAGES = 64;

export interface DeviceMcpOptions {
  /** Sends one JSON-RPC object to the device; return false when the socket is closed. */
  send(payload: Record<string, unknown>): boolean | void;
  clock: Clock;
  log: Logger;
  /** Where the device uploads camera photos (protocol.md §12), and the bearer token it sends. */
  visionUrl?: string | undefined;
  visionToken?: string | undefined;
  /** Reported to the device as `clientInfo.version`. */
  clientVersion?: string | undefined;
  /** Per tools/call; the device's own camera upload may take ~30 s. Default 30 000. */
  callTimeoutMs?: number | undefined;
  /** Per initialize and per tools/list page; the device answers these at once. Default 10 000. */
  listTimeoutMs?: number | undefined;
}

export interface DeviceMcpStats extends RpcStats {
  /** Listed tools dropped because they had no usable name. */
  badTools: number;
}

export class DeviceMcp {
  readonly #rpc: RpcChannel;
  readonly #opts: DeviceMcpOptions;
  readonly #log: Logger;
  readonly #callTimeoutMs: number;
  readonly #listTimeoutMs: number;
  #info: ServerInfo | undefined;
  #badTools = 0;
  /** Set once the device refused a list with `withUserTools`: later lists go without it. */
  #userToolsRefused = false;

  constructor(opts: DeviceMcpOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#rpc = new RpcChannel({ send: opts.send, clock: opts.clock });
    this.#callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    this.#listTimeoutMs = opts.listTimeoutMs ?? 10_000;
  }

  /** What `initialize` returned; undefined before it. */
  get serverInfo(): ServerInfo | undefined {
    return this.#info;
  }

  get closed(): boolean {
    return this.#rpc.closed;
  }

  get stats(): DeviceMcpStats {
    return { ...this.#rpc.stats, badTools: this.#badTools };
  }

  /**
   * Whether `tools/list` understands `withUserTools` (FW ≥ 2.0): true/false from the firmware
   * version `initialize` reported, undefined when unknown.
   */
  get supportsUserTools(): boolean | undefined {
    if (this.#userToolsRefused) return false;
    const v = parseVersion(this.#info?.version);
    return v === undefined ? undefined : v.major >= 2;
  }

  /** A device `mcp` message's payload, as the session received it. */
  receive(payload: unknown): void {
    this.#rpc.receive(payload);
  }

  /** The socket is gone: everything in flight fails with XZ_ERR_MCP_CLOSED. */
  close(reason?: string): void {
    this.#rpc.close(reason);
  }

  /**
   * Tells the device who we are and where its camera uploads go (re-sending updates that), and
   * learns its board and firmware version. Then `notifications/initialized`, which the firmware
   * ignores but a standard MCP server expects.
   */
  async initialize(signal?: AbortSignal): Promise<ServerInfo> {
    const capabilities: Record<string, unknown> = {};
    if (this.#opts.visionUrl) {
      capabilities['vision'] = { url: this.#opts.visionUrl, ...(this.#opts.visionToken ? { token: this.#opts.visionToken } : {}) };
    }
    const out = await this.#rpc.request(
      'initialize',
      { protocolVersion: MCP_PROTOCOL_VERSION, capabilities, clientInfo: { name: 'xiaozhi-server', version: this.#opts.clientVersion ?? '0.1.0' } },
      this.#listTimeoutMs,
      signal,
    );
    if (!out.ok) throw new XzError(MCP.XZ_ERR_MCP_INIT_FAILED, `device refused initialize: ${out.message}`, { details: { deviceMessage: out.message } });
    if (!isObject(out.result)) throw new XzError(MCP.XZ_ERR_MCP_BAD_REPLY, 'initialize result is not an object');
    const si = isObject(out.result['serverInfo']) ? out.result['serverInfo'] : {};
    this.#info = {
      name: str(si['name']),
      version: str(si['version']),
      protocolVersion: str(out.result['protocolVersion']),
    };
    this.#rpc.notify('notifications/initialized');
    this.#log.debug({ board: this.#info.name, firmware: this.#info.version }, 'device MCP initialized');
    return this.#info;
  }

  /**
   * The device's whole tool list, page by page. `withUserTools` is sent only where the firmware
   * supports it; if the device refuses the first page with it, the list is fetched again without.
   * Tools come back de-duplicated by name, in the device's order.
   */
  async listTools(opts: { withUserTools?: boolean; signal?: AbortSignal } = {}): Promise<DeviceTool[]> {
    if (!opts.withUserTools || this.supportsUserTools === false) return this.#list(false, opts.signal);
    try {
      return await this.#list(true, opts.signal);
    } catch (err) {
      if (!hasCode(err, MCP.XZ_ERR_MCP_LIST_FAILED)) throw err;
      this.#userToolsRefused = true;
      this.#log.info({ firmware: this.#info?.version, reason: (err as XzError).message }, 'tools/list with withUserTools refused: listing without');
      return this.#list(false, opts.signal);
    }
  }

  /**
   * Calls one tool. Resolves with the device's result; an error reply throws
   * XZ_ERR_MCP_TOOL_FAILED carrying the device's message; no reply in time throws
   * XZ_ERR_MCP_TIMEOUT (and the late reply, if any, is dropped).
   */
  async callTool(name: string, args: Record<string, unknown> = {}, opts: CallOptions = {}): Promise<ToolResult> {
    const out = await this.#rpc.request('tools/call', { name, arguments: args }, opts.timeoutMs ?? this.#callTimeoutMs, opts.signal);
    if (!out.ok) throw new XzError(MCP.XZ_ERR_MCP_TOOL_FAILED, out.message, { details: { tool: name, deviceMessage: out.message } });
    return callResult(out.result, name);
  }

  async #list(withUserTools: boolean, signal?: AbortSignal): Promise<DeviceTool[]> {
    const tools = new Map<string, DeviceTool>();
    const cursors = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const params: Record<string, unknown> = {};
      if (cursor !== undefined) params['cursor'] = cursor;
      if (withUserTools) params['withUserTools'] = true;
      const out = await this.#rpc.request('tools/list', params, this.#listTimeoutMs, signal);
      if (!out.ok) {
        if (page === 0) throw new XzError(MCP.XZ_ERR_MCP_LIST_FAILED, `device refused tools/list: ${out.message}`, { details: { deviceMessage: out.message, withUserTools } });
        // The firmware answers an error where a page would be empty (a tool over the size limit,
        // a cursor naming nothing, only hidden tools left): the list ends here (protocol.md §8.3).
        this.#log.debug({ page, cursor, deviceMessage: out.message }, 'tools/list error after the first page: end of list');
        return [...tools.values()];
      }
      const r = out.result;
      if (!isObject(r) || !Array.isArray(r['tools'])) {
        if (page === 0) throw new XzError(MCP.XZ_ERR_MCP_BAD_REPLY, 'tools/list result has no tools array');
        return [...tools.values()];
      }
      for (const raw of r['tools']) {
        const t = parseTool(raw);
        if (!t) this.#badTools++;
        else if (!tools.has(t.name)) tools.set(t.name, t);
      }
      const next = r['nextCursor'];
      if (typeof next !== 'string' || next === '') return [...tools.values()];
      if (cursors.has(next)) {
        this.#log.warn({ cursor: next }, 'tools/list cursor repeats: stopping');
        return [...tools.values()];
      }
      cursors.add(next);
      cursor = next;
    }
    this.#log.warn({ pages: MAX_PAGES }, 'tools/list has too many pages: stopping');
    return [...tools.values()];
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** `2.4.2`, `v1.9.0-rc1` → major/minor; anything else → undefined. */
export function parseVersion(v: string | undefined): { major: number; minor: number } | undefined {
  const m = v === undefined ? null : /^v?(\d+)\.(\d+)/.exec(v.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

function parseTool(raw: unknown): DeviceTool | undefined {
  if (!isObject(raw)) return undefined;
  const name = raw['name'];
  if (typeof name !== 'string' || name === '' || name.length > 256) return undefined;
  const schema = isObject(raw['inputSchema']) ? raw['inputSchema'] : { type: 'object', properties: {} };
  const annotations = isObject(raw['annotations']) ? raw['annotations'] : undefined;
  const audience = annotations?.['audience'];
  // Hidden from the model only when meant for the user and not also for the assistant.
  const userOnly = Array.isArray(audience) && audience.includes('user') && !audience.includes('assistant');
  return {
    name,
    description: str(raw['description']),
    inputSchema: schema,
    ...(annotations ? { annotations } : {}),
    userOnly,
  };
}

/** The firmware's result: always one content item, text (or, in code only, an image). */
function callResult(result: unknown, tool: string): ToolResult {
  if (!isObject(result) || !Array.isArray(result['content'])) {
    throw new XzError(MCP.XZ_ERR_MCP_BAD_REPLY, `tools/call ${tool}: result has no content array`, { details: { tool } });
  }
  const parts: string[] = [];
  for (const item of result['content']) {
    if (!isObject(item)) continue;
    if (item['type'] === 'text' && typeof item['text'] === 'string') parts.push(item['text']);
    else if (item['type'] === 'image') parts.push(describeImage(item));
  }
  return { text: parts.join('\n'), isError: result['isError'] === true };
}

/**
 * The firmware nests a stringified `{type, mimeType, data}` in `image`; standard MCP puts
 * `mimeType`/`data` on the item. Either way a model gets a note, not kilobytes of base64.
 */
function describeImage(item: Record<string, unknown>): string {
  let inner: Record<string, unknown> = item;
  if (typeof item['image'] === 'string') {
    try {
      const parsed: unknown = JSON.parse(item['image']);
      if (isObject(parsed)) inner = parsed;
    } catch {
      // Not JSON: described without details below.
    }
  }
  const mime = typeof inner['mimeType'] === 'string' ? inner['mimeType'] : 'unknown type';
  const data = typeof inner['data'] === 'string' ? inner['data'] : '';
  const bytes = Math.floor((data.replace(/=+$/, '').length * 3) / 4);
  return `[image: ${mime}, ${bytes} bytes]`;
}
