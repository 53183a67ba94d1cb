// The device's MCP server as the firmware implements it (78/xiaozhi-esp32 main/mcp_server.{h,cc};
// protocol.md §8), for tests: replies are built by string concatenation exactly like the
// firmware's, so their bytes (and their faults: an error message is not JSON-escaped) match.
//
//   server ──{type:'mcp', payload}──▶ handle() ──(delay)──▶ reply text ──▶ client.receive / socket
//
// Wire it straight to a client with `link()`, or `attach()` it to a TestDevice so it answers what
// the real server sends over the socket.
import { realClock, type Clock } from '../../runtime/clock.js';
import type { TestDevice } from './device.js';
import { commonTools, lamps, uploadPhoto, userTools } from '../mcp/sim-tools.js';

export { TINY_JPEG, lamps } from '../mcp/sim-tools.js';

export type SimArg = boolean | number | string;
export type SimValue = boolean | number | string | Record<string, unknown> | { image: { mimeType: string; data: Uint8Array } };

export interface SimProperty {
  name: string;
  type: 'boolean' | 'integer' | 'string';
  default?: SimArg;
  minimum?: number;
  maximum?: number;
}

export interface SimTool {
  name: string;
  description: string;
  properties?: SimProperty[];
  userOnly?: boolean;
  /** Throwing makes an error reply carrying the message, as the firmware's std::exception does. */
  call?(args: Record<string, SimArg>, dev: McpDeviceSim): SimValue | Promise<SimValue>;
}

export interface McpDeviceOptions {
  board?: string;
  /** Firmware version reported by initialize; user-only tools exist from 2.0. Default '2.4.2'. */
  version?: string;
  backlight?: boolean;
  /** LVGL boards: set_theme and the screen user tools. */
  lvgl?: boolean;
  camera?: boolean;
  /** Board tools appended after the common ones: a count (generated lamps) or tool definitions. */
  extraTools?: number | SimTool[];
  /** Reply budget of one tools/list page. Default 8000 (the firmware's). */
  pageBytes?: number;
  /** Delay before each reply, in ms of `clock`; Infinity = never answer. Default 0. */
  delayMs?: number | ((method: string, params: Record<string, unknown>) => number);
  clock?: Clock;
  /** Replaces the camera upload (default: POST to the vision URL from initialize, like the device). */
  explain?(question: string, vision: { url: string; token: string }): Promise<string>;
  deviceId?: string;
  clientId?: string;
}

export interface DeviceStatus {
  volume: number;
  brightness: number;
  theme: string;
  battery: { level: number; charging: boolean };
  network: { type: string; ssid: string; signal: string };
}

const INT_MAX = 2147483647;
const INT_MIN = -2147483648;

export class McpDeviceSim {
  readonly board: string;
  readonly version: string;
  readonly tools: SimTool[];
  readonly status: DeviceStatus = {
    volume: 70,
    brightness: 80,
    theme: 'light',
    battery: { level: 85, charging: false },
    network: { type: 'wifi', ssid: 'HomeWiFi', signal: 'strong' },
  };
  /** Every payload handed to the device, and every reply text it produced (sent or not yet). */
  readonly received: unknown[] = [];
  readonly replies: string[] = [];
  /** Tool invocations that passed argument checks, in order. */
  readonly calls: { name: string; args: Record<string, SimArg> }[] = [];
  /** Payloads dropped without a reply, with the firmware rule that dropped them. */
  readonly ignored: { payload: unknown; why: string }[] = [];
  vision: { url: string; token: string } | undefined;
  rebootRequested = false;
  /** Replies the client could not parse (a message with a quote breaks the firmware's JSON). */
  badJson = 0;
  #out: ((text: string) => void) | undefined;
  #connected = true;
  readonly #opts: McpDeviceOptions;
  readonly #clock: Clock;

  constructor(opts: McpDeviceOptions = {}) {
    this.#opts = opts;
    this.#clock = opts.clock ?? realClock;
    this.board = opts.board ?? 'bread-compact-wifi';
    this.version = opts.version ?? '2.4.2';
    const major = Number(/^v?(\d+)/.exec(this.version)?.[1] ?? 0);
    const extra = typeof opts.extraTools === 'number' ? lamps(opts.extraTools) : (opts.extraTools ?? []);
    // The firmware's order: common tools first (prompt caching), board tools, then user-only ones.
    this.tools = [...commonTools(opts), ...extra, ...(major >= 2 ? userTools(opts) : [])];
  }

  /**
   * Direct wiring without a socket: returns the `send` to give the client; replies go to
   * `receive`, parsed. Until `disconnect()`, as a socket would.
   */
  link(receive: (payload: unknown) => void): (payload: Record<string, unknown>) => boolean {
    this.#out = (text) => {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        this.badJson++;
        return;
      }
      receive(v);
    };
    return (payload) => {
      if (!this.#connected) return false;
      // What crosses a socket is JSON text: the device sees the payload as serialized.
      this.handle(JSON.parse(JSON.stringify(payload)));
      return true;
    };
  }

  /** The socket drops: sends fail, replies still queued are lost. */
  disconnect(): void {
    this.#connected = false;
  }

  /**
   * Answers the `mcp` messages a TestDevice receives, over its socket, wrapped as the firmware
   * does: `{"session_id":"<from the server hello>","type":"mcp","payload":<reply>}`.
   */
  attach(dev: TestDevice): () => void {
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        return;
      }
      if (isObj(msg) && msg['type'] === 'mcp' && isObj(msg['payload'])) this.handle(msg['payload']);
    };
    this.#out = (text) => {
      if (dev.closeCode !== undefined || !this.#connected) return;
      dev.sendText(`{"session_id":"${sessionIdOf(dev)}","type":"mcp","payload":${text}}`);
    };
    dev.ws.on('message', onMessage);
    return () => void dev.ws.off('message', onMessage);
  }

  /** McpServer::ParseMessage for one payload object. */
  handle(payload: unknown): void {
    this.received.push(payload);
    const drop = (why: string) => void this.ignored.push({ payload, why });
    if (!isObj(payload)) return drop('payload is not an object');
    if (payload['jsonrpc'] !== '2.0') return drop('Invalid JSONRPC version');
    const method = payload['method'];
    if (typeof method !== 'string') return drop('Missing method');
    if (method.startsWith('notifications')) return drop('notification');
    const params = payload['params'];
    if (params !== undefined && !isObj(params)) return drop(`Invalid params for method: ${method}`);
    const rawId = payload['id'];
    if (typeof rawId !== 'number') return drop(`Invalid id for method: ${method}`);
    // cJSON's valueint: truncated and saturated to a C int.
    const id = Math.trunc(Math.min(INT_MAX, Math.max(INT_MIN, rawId)));
    const p = params ?? {};
    const delay = typeof this.#opts.delayMs === 'function' ? this.#opts.delayMs(method, p) : (this.#opts.delayMs ?? 0);
    const result = (r: string) => this.#deliver(`{"jsonrpc":"2.0","id":${id},"result":${r}}`, delay);
    const error = (m: string) => this.#deliver(`{"jsonrpc":"2.0","id":${id},"error":{"message":"${m}"}}`, delay);

    if (method === 'initialize') {
      const caps = isObj(params) && isObj(params['capabilities']) ? params['capabilities'] : undefined;
      const vision = caps?.['vision'];
      if (isObj(vision) && typeof vision['url'] === 'string' && this.#opts.camera !== false) {
        this.vision = { url: vision['url'], token: typeof vision['token'] === 'string' ? vision['token'] : '' };
      }
      return result(`{"protocolVersion":"2024-11-05","capabilities":{"tools":{}},"serverInfo":{"name":"${this.board}","version":"${this.version}"}}`);
    }
    if (method === 'tools/list') {
      const cursor = typeof p['cursor'] === 'string' ? p['cursor'] : '';
      const r = this.#list(cursor, p['withUserTools'] === true);
      return r.ok ? result(r.json) : error(r.message);
    }
    if (method === 'tools/call') {
      if (!isObj(params)) return error('Missing params');
      const name = params['name'];
      if (typeof name !== 'string') return error('Missing name');
      const args = params['arguments'];
      if (args !== undefined && !isObj(args)) return error('Invalid arguments');
      void this.#call(name, args, result, error);
      return;
    }
    return error(`Method not implemented: ${method}`);
  }

  /** McpServer::GetToolsList: pages cut by reply size, cursor = name of the first tool left out. */
  #list(cursor: string, withUser: boolean): { ok: true; json: string } | { ok: false; message: string } {
    const max = this.#opts.pageBytes ?? 8000;
    let json = '{"tools":[';
    let found = cursor === '';
    let next = '';
    for (const t of this.tools) {
      if (!found) {
        if (t.name !== cursor) continue;
        found = true;
      }
      if (!withUser && t.userOnly) continue;
      const item = toolJson(t) + ',';
      if (Buffer.byteLength(json) + Buffer.byteLength(item) + 30 > max) {
        next = t.name;
        break;
      }
      json += item;
    }
    if (json.endsWith(',')) json = json.slice(0, -1);
    if (json.endsWith('[') && this.tools.length > 0) return { ok: false, message: `Failed to add tool ${next} because of payload size limit` };
    return { ok: true, json: next === '' ? `${json}]}` : `${json}],"nextCursor":"${next}"}` };
  }

  /** McpServer::DoToolCall: arguments checked at once, the tool run later on the main task. */
  async #call(name: string, args: Record<string, unknown> | undefined, result: (r: string) => void, error: (m: string) => void): Promise<void> {
    const tool = this.tools.find((t) => t.name === name);
    if (!tool) return error(`Unknown tool: ${name}`);
    const values: Record<string, SimArg> = {};
    for (const prop of tool.properties ?? []) {
      // cJSON_GetObjectItem matches keys case-insensitively.
      const v = args === undefined ? undefined : args[Object.keys(args).find((k) => k.toLowerCase() === prop.name.toLowerCase()) ?? prop.name];
      let found = false;
      if (prop.type === 'boolean' && typeof v === 'boolean') (values[prop.name] = v), (found = true);
      else if (prop.type === 'string' && typeof v === 'string') (values[prop.name] = v), (found = true);
      else if (prop.type === 'integer' && typeof v === 'number') {
        const n = Math.trunc(Math.min(INT_MAX, Math.max(INT_MIN, v)));
        if (prop.minimum !== undefined && n < prop.minimum) return error(`Property '${prop.name}': value ${n} is below minimum ${prop.minimum}`);
        if (prop.maximum !== undefined && n > prop.maximum) return error(`Property '${prop.name}': value ${n} exceeds maximum ${prop.maximum}`);
        values[prop.name] = n;
        found = true;
      }
      if (!found) {
        if (prop.default === undefined) return error(`Missing valid argument: ${prop.name}`);
        values[prop.name] = prop.default;
      }
    }
    this.calls.push({ name, args: values });
    let value: SimValue;
    try {
      value = await (tool.call ? tool.call(values, this) : true);
    } catch (e) {
      return error(e instanceof Error ? e.message : String(e));
    }
    result(JSON.stringify({ content: [content(value)], isError: false }));
  }

  #deliver(text: string, delay: number): void {
    this.replies.push(text);
    if (delay === Infinity) return;
    const send = () => {
      if (this.#connected) this.#out?.(text);
    };
    if (delay > 0) this.#clock.setTimer(delay, send);
    else setImmediate(send);
  }

  /** The camera's upload to the vision URL (protocol.md §12); the response body is the result. */
  async explain(question: string): Promise<string> {
    if (!this.vision) throw new Error('Image explain URL or token is not set');
    if (this.#opts.explain) return this.#opts.explain(question, this.vision);
    return uploadPhoto(this.vision, question, { deviceId: this.#opts.deviceId ?? 'aa:bb:cc:dd:ee:ff', clientId: this.#opts.clientId ?? '6f1c2e9a-3b4d-4c5e-9f00-112233445566' });
  }
}

function content(v: SimValue): Record<string, unknown> {
  if (isObj(v) && isObj(v['image']) && v['image']['data'] instanceof Uint8Array) {
    const img = v['image'] as { mimeType: string; data: Uint8Array };
    return { type: 'image', image: JSON.stringify({ type: 'image', mimeType: img.mimeType, data: Buffer.from(img.data).toString('base64') }) };
  }
  const text = typeof v === 'boolean' ? String(v) : typeof v === 'number' ? String(Math.trunc(v)) : typeof v === 'string' ? v : JSON.stringify(v);
  return { type: 'text', text };
}

/** McpTool::to_json, key order included (cJSON keeps insertion order). */
export function toolJson(t: SimTool): string {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const p of t.properties ?? []) {
    const o: Record<string, unknown> = { type: p.type };
    if (p.default !== undefined) o['default'] = p.default;
    else required.push(p.name);
    if (p.minimum !== undefined) o['minimum'] = p.minimum;
    if (p.maximum !== undefined) o['maximum'] = p.maximum;
    properties[p.name] = o;
  }
  return JSON.stringify({
    name: t.name,
    description: t.description,
    inputSchema: { type: 'object', properties, ...(required.length ? { required } : {}) },
    ...(t.userOnly ? { annotations: { audience: ['user'] } } : {}),
  });
}

/** The session id the device copies from the server hello ("" before one arrived). */
function sessionIdOf(dev: TestDevice): string {
  for (let i = dev.received.length - 1; i >= 0; i--) {
    const r = dev.received[i]!;
    if (r.kind === 'json' && r.value['type'] === 'hello' && typeof r.value['session_id'] === 'string') return r.value['session_id'];
  }
  return '';
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
