/**
 * Legacy IoT (protocol.md §9, firmware before 1.8 built with "Xiaozhi IoT 1.0"): the device
 * announces "things" (descriptors) and their states in `iot` messages; the server controls them
 * with `{"type":"iot","commands":[…]}`, to which the device never replies.
 *
 * Each thing method becomes a device tool (`iot_Speaker_SetVolume`), and `iot_get_state` reads
 * the cached states, so the model sees IoT devices and MCP devices the same way.
 */
import { XzError } from '../../runtime/errors.js';
import type { Logger } from '../../runtime/log.js';
import { MCP } from './errors.js';
import { isObject } from './rpc.js';
import type { DeviceTool, ToolResult } from './types.js';

export interface IotCommand {
  readonly name: string;
  readonly method: string;
  readonly parameters: Record<string, boolean | number | string>;
}

/** What goes to the device; the session may add `session_id` (the device ignores it). */
export interface IotCommandMessage {
  readonly type: 'iot';
  readonly commands: IotCommand[];
}

type IotType = 'boolean' | 'number' | 'string';

interface IotParam {
  readonly name: string;
  readonly description: string;
  readonly type: IotType;
}

interface IotMethod {
  readonly thing: string;
  readonly method: string;
  readonly description: string;
  readonly parameters: IotParam[];
}

interface IotThing {
  readonly name: string;
  readonly description: string;
}

export const IOT_STATE_TOOL = 'iot_get_state';

// A device has a handful of things; the caps only bound what a broken or hostile peer can make us hold.
const MAX_THINGS = 32;
const MAX_METHODS = 32;
const MAX_PARAMS = 16;
const MAX_TEXT = 1000;

export interface IotThingsOptions {
  send(message: IotCommandMessage): boolean | void;
  log?: Logger | undefined;
}

export class IotThings {
  readonly #send: IotThingsOptions['send'];
  readonly #log: Logger | undefined;
  readonly #things = new Map<string, IotThing>();
  /** Tool name → method, in announcement order. */
  readonly #methods = new Map<string, IotMethod>();
  readonly #states = new Map<string, Record<string, unknown>>();
  ignored = 0;

  constructor(opts: IotThingsOptions) {
    this.#send = opts.send;
    this.#log = opts.log;
  }

  get hasThings(): boolean {
    return this.#things.size > 0;
  }

  /**
   * One device `iot` message. Returns true when the tool list changed (new descriptors), so the
   * caller can tell whoever offers tools to the model.
   */
  ingest(msg: Record<string, unknown>): boolean {
    let changed = false;
    if (Array.isArray(msg['descriptors'])) {
      for (const d of msg['descriptors']) changed = this.#descriptor(d) || changed;
    }
    if (Array.isArray(msg['states'])) {
      for (const s of msg['states']) {
        if (!isObject(s) || typeof s['name'] !== 'string' || !isObject(s['state'])) {
          this.ignored++;
          continue;
        }
        if (!this.#states.has(s['name']) && this.#states.size >= MAX_THINGS) continue;
        // Each entry is the whole state of one thing (the device re-sends changed things only).
        this.#states.set(s['name'], { ...s['state'] });
      }
    }
    return changed;
  }

  /** The last reported state of each thing. */
  /** The last state each thing reported, by thing name (read-only view). */
  stateOf(thing: string): Readonly<Record<string, unknown>> | undefined {
    return this.#states.get(thing);
  }

  states(): Record<string, Record<string, unknown>> {
    return Object.fromEntries(this.#states);
  }

  has(toolName: string): boolean {
    return this.#methods.has(toolName) || (toolName === IOT_STATE_TOOL && this.hasThings);
  }

  /** One tool per thing method, then `iot_get_state`; empty until a descriptor arrived. */
  tools(): DeviceTool[] {
    if (!this.hasThings) return [];
    const out: DeviceTool[] = [];
    for (const [name, m] of this.#methods) {
      const thing = this.#things.get(m.thing);
      const properties: Record<string, unknown> = {};
      for (const p of m.parameters) {
        // The device reads numbers with `valueint`, so the model is asked for integers.
        properties[p.name] = { type: p.type === 'number' ? 'integer' : p.type, ...(p.description ? { description: p.description } : {}) };
      }
      const required = m.parameters.map((p) => p.name);
      out.push({
        name,
        description: `${m.description || m.method} (${m.thing}${thing?.description ? `: ${thing.description}` : ''})`,
        inputSchema: { type: 'object', properties, ...(required.length ? { required } : {}) },
        userOnly: false,
      });
    }
    out.push({
      name: IOT_STATE_TOOL,
      description: `Current state of the device's things (${[...this.#things.keys()].join(', ')}). Read it before changing a thing whose state is unknown.`,
      inputSchema: { type: 'object', properties: { name: { type: 'string', description: 'One thing, e.g. Speaker; omit for all' } } },
      userOnly: false,
    });
    return out;
  }

  /**
   * Runs a tool: a method tool sends one command and resolves once it is sent (the device never
   * answers); `iot_get_state` answers from the cached states.
   */
  async call(toolName: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
    if (toolName === IOT_STATE_TOOL && this.hasThings) {
      const which = args['name'];
      if (typeof which === 'string' && which !== '') {
        const st = this.#states.get(which);
        if (!st) return { text: `no state known for ${which}`, isError: true };
        return { text: JSON.stringify({ [which]: st }), isError: false };
      }
      return { text: JSON.stringify(this.states()), isError: false };
    }
    const m = this.#methods.get(toolName);
    if (!m) throw new XzError(MCP.XZ_ERR_MCP_UNKNOWN_TOOL, `no IoT tool ${toolName}`, { details: { tool: toolName } });
    const parameters: Record<string, boolean | number | string> = {};
    for (const p of m.parameters) {
      const v = coerce(args[p.name], p.type);
      // The firmware dereferences every parameter without a check: a missing one must not leave here.
      if (v === undefined) throw new XzError(MCP.XZ_ERR_MCP_BAD_ARGUMENTS, `${toolName}: parameter ${p.name} (${p.type}) is required`, { details: { tool: toolName, parameter: p.name } });
      parameters[p.name] = v;
    }
    const message: IotCommandMessage = { type: 'iot', commands: [{ name: m.thing, method: m.method, parameters }] };
    let sent: boolean | void;
    try {
      sent = this.#send(message);
    } catch (err) {
      throw new XzError(MCP.XZ_ERR_MCP_CLOSED, `could not send the IoT command for ${toolName}`, { cause: err });
    }
    if (sent === false) throw new XzError(MCP.XZ_ERR_MCP_CLOSED, `device channel closed before ${toolName} was sent`);
    return { text: 'ok', isError: false };
  }

  #descriptor(d: unknown): boolean {
    if (!isObject(d) || typeof d['name'] !== 'string' || d['name'] === '') {
      this.ignored++;
      return false;
    }
    const name = d['name'].slice(0, MAX_TEXT);
    if (!this.#things.has(name) && this.#things.size >= MAX_THINGS) {
      this.#log?.warn({ thing: name }, 'too many IoT things: descriptor ignored');
      return false;
    }
    // A re-sent descriptor replaces the thing, methods included.
    for (const [tool, m] of this.#methods) if (m.thing === name) this.#methods.delete(tool);
    this.#things.set(name, { name, description: text(d['description']) });
    const methods = isObject(d['methods']) ? Object.entries(d['methods']).slice(0, MAX_METHODS) : [];
    for (const [method, spec] of methods) {
      if (!isObject(spec)) continue;
      const params = isObject(spec['parameters']) ? Object.entries(spec['parameters']).slice(0, MAX_PARAMS) : [];
      const parameters: IotParam[] = [];
      for (const [pname, pspec] of params) {
        const type = isObject(pspec) ? pspec['type'] : undefined;
        if (type !== 'boolean' && type !== 'number' && type !== 'string') continue;
        parameters.push({ name: pname, description: text(isObject(pspec) ? pspec['description'] : undefined), type });
      }
      const tool = `iot_${name}_${method}`;
      if (tool !== IOT_STATE_TOOL && !this.#methods.has(tool)) this.#methods.set(tool, { thing: name, method, description: text(spec['description']), parameters });
    }
    return true;
  }
}

function text(v: unknown): string {
  return typeof v === 'string' ? v.slice(0, MAX_TEXT) : '';
}

/** What the device can take for a parameter of this type; models often quote numbers and booleans. */
function coerce(v: unknown, type: IotType): boolean | number | string | undefined {
  switch (type) {
    case 'number': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      return Number.isFinite(n) ? Math.round(n) : undefined;
    }
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      return undefined;
    case 'string':
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      return undefined;
  }
}
