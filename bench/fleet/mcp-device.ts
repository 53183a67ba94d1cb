/**
 * The device's MCP server as the firmware implements it (protocol.md §8): JSON-RPC requests from
 * the server arrive in `{"type":"mcp","payload":…}`; the device answers `initialize`, `tools/list`
 * (paged by reply size, the cursor being the name of the first tool not yet sent) and
 * `tools/call`, ignores notifications, ignores requests whose id is not a number, and reports
 * errors without a `code` field. Pure: the caller sends the reply it returns.
 */

export const BOARD = { name: 'bread-compact-wifi', version: '2.4.2' } as const;
/** The firmware's budget for one tools/list reply. */
export const TOOLS_PAGE_BYTES = 8000;

interface Prop {
  type: 'boolean' | 'integer' | 'string';
  minimum?: number;
  maximum?: number;
}
interface Tool {
  name: string;
  description: string;
  properties: Record<string, Prop>;
  userOnly?: boolean;
  call(args: Record<string, unknown>, state: DeviceToolState): string;
}

export interface DeviceToolState {
  volume: number;
  brightness: number;
  theme: string;
}

export function initialToolState(): DeviceToolState {
  return { volume: 70, brightness: 80, theme: 'light' };
}

// Descriptions as the firmware words them: servers feed them to a language model, and their
// length is what makes paging happen on boards with many tools.
const BUILTIN: Tool[] = [
  {
    name: 'self.get_device_status',
    description:
      'Provides the real-time information of the device, including the current status of the audio speaker, screen, battery, network, etc.\n' +
      'Use this tool for: \n1. Answering questions about current condition (e.g. what is the current volume of the audio speaker?)\n' +
      '2. As the first step to control the device (e.g. turn up / down the volume of the audio speaker, etc.)',
    properties: {},
    call: (_a, s) =>
      JSON.stringify({
        audio_speaker: { volume: s.volume },
        screen: { brightness: s.brightness, theme: s.theme },
        battery: { level: 85, charging: false },
        network: { type: 'wifi', ssid: 'HomeWiFi', signal: 'strong' },
      }),
  },
  {
    name: 'self.audio_speaker.set_volume',
    description: 'Set the volume of the audio speaker. If the current volume is unknown, you must call `self.get_device_status` tool first and then call this tool.',
    properties: { volume: { type: 'integer', minimum: 0, maximum: 100 } },
    call: (a, s) => ((s.volume = a['volume'] as number), 'true'),
  },
  {
    name: 'self.screen.set_brightness',
    description: 'Set the brightness of the screen.',
    properties: { brightness: { type: 'integer', minimum: 0, maximum: 100 } },
    call: (a, s) => ((s.brightness = a['brightness'] as number), 'true'),
  },
  {
    name: 'self.screen.set_theme',
    description: 'Set the theme of the screen. The theme can be `light` or `dark`.',
    properties: { theme: { type: 'string' } },
    call: (a, s) => ((s.theme = String(a['theme'])), 'true'),
  },
  {
    name: 'self.get_system_info',
    description: 'Get the system information of the device, including chip model, flash size, firmware version and memory usage.',
    properties: {},
    userOnly: true,
    call: () => JSON.stringify({ chip_model_name: 'esp32s3', flash_size: 16777216, application: { version: BOARD.version } }),
  },
  {
    name: 'self.reboot',
    description: 'Reboot the device.',
    properties: {},
    userOnly: true,
    call: () => 'true',
  },
];

const catalogs = new Map<number, readonly Tool[]>();

/**
 * The built-ins plus `extra` board-specific tools (to make lists page). Built once per size and
 * shared by every device: tool state lives in `DeviceToolState`, not in the catalog.
 */
export function toolCatalog(extra = 0): readonly Tool[] {
  let c = catalogs.get(extra);
  if (!c) catalogs.set(extra, (c = buildCatalog(extra)));
  return c;
}

function buildCatalog(extra: number): Tool[] {
  const tools = [...BUILTIN];
  for (let i = 1; i <= extra; i++) {
    tools.push({
      name: `self.lamp_${i}.set_state`,
      description: `Turn lamp ${i} of the living room on or off and set its brightness. Call self.get_device_status first when the current state is unknown.`,
      properties: { on: { type: 'boolean' }, level: { type: 'integer', minimum: 0, maximum: 100 } },
      call: () => 'true',
    });
  }
  return tools;
}

function toolJson(t: Tool): Record<string, unknown> {
  const required = Object.keys(t.properties);
  return {
    name: t.name,
    description: t.description,
    inputSchema: { type: 'object', properties: t.properties, ...(required.length ? { required } : {}) },
    ...(t.userOnly ? { annotations: { audience: ['user'] } } : {}),
  };
}

export type McpOutcome =
  | { kind: 'reply'; method: string; payload: Record<string, unknown> }
  | { kind: 'notification' }
  /** The firmware drops it without a reply; `why` says which device rule it broke. */
  | { kind: 'ignored'; why: string };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function handleMcp(payload: unknown, state: DeviceToolState, tools: readonly Tool[], pageBytes = TOOLS_PAGE_BYTES): McpOutcome {
  if (!isObject(payload)) return { kind: 'ignored', why: 'payload is not a JSON object' };
  if (payload['jsonrpc'] !== '2.0') return { kind: 'ignored', why: 'jsonrpc is not "2.0"' };
  const method = payload['method'];
  if (typeof method !== 'string') return { kind: 'ignored', why: 'method is not a string' };
  if (method.startsWith('notifications')) return { kind: 'notification' };
  const params = payload['params'];
  if (params !== undefined && !isObject(params)) return { kind: 'ignored', why: 'params is not an object' };
  const id = payload['id'];
  if (typeof id !== 'number' || !Number.isInteger(id)) return { kind: 'ignored', why: `id is ${typeof id === 'string' ? 'a string' : 'not an integer'}` };
  const p = params ?? {};
  const result = (r: Record<string, unknown>) => ({ kind: 'reply' as const, method, payload: { jsonrpc: '2.0', id, result: r } });
  const error = (message: string) => ({ kind: 'reply' as const, method, payload: { jsonrpc: '2.0', id, error: { message } } });

  switch (method) {
    case 'initialize':
      return result({ protocolVersion: '2024-11-05', capabilities: { tools: {} }, serverInfo: { name: BOARD.name, version: BOARD.version } });
    case 'tools/list': {
      const cursor = typeof p['cursor'] === 'string' ? p['cursor'] : '';
      const withUser = p['withUserTools'] === true;
      let i = 0;
      if (cursor !== '') {
        i = tools.findIndex((t) => t.name === cursor);
        if (i < 0) return error(`Unknown cursor: ${cursor}`);
      }
      const page: Record<string, unknown>[] = [];
      let bytes = '{"tools":[]}'.length;
      let next: string | undefined;
      for (; i < tools.length; i++) {
        const t = tools[i]!;
        if (t.userOnly && !withUser) continue;
        const size = JSON.stringify(toolJson(t)).length + 1;
        // Same rule as the firmware: stop before the reply outgrows its buffer (30 bytes of slack).
        if (bytes + size + 30 > pageBytes) {
          next = t.name;
          break;
        }
        bytes += size;
        page.push(toolJson(t));
      }
      if (page.length === 0) return error(`Failed to add tool ${next ?? cursor} because of payload size limit`);
      return result({ tools: page, ...(next !== undefined ? { nextCursor: next } : {}) });
    }
    case 'tools/call': {
      const name = p['name'];
      const args = p['arguments'];
      if (typeof name !== 'string') return error('Missing name');
      if (args !== undefined && !isObject(args)) return error('Invalid arguments');
      const tool = tools.find((t) => t.name === name);
      if (!tool) return error(`Unknown tool: ${name}`);
      const a = args ?? {};
      for (const [k, prop] of Object.entries(tool.properties)) {
        const v = a[k];
        const ok = prop.type === 'integer' ? typeof v === 'number' && Number.isInteger(v) : typeof v === prop.type;
        if (!ok) return error(`Missing valid argument: ${k}`);
        if (prop.type === 'integer' && ((prop.minimum !== undefined && (v as number) < prop.minimum) || (prop.maximum !== undefined && (v as number) > prop.maximum))) {
          return error(`Invalid value for argument: ${k}`);
        }
      }
      return result({ content: [{ type: 'text', text: tool.call(a, state) }], isError: false });
    }
    default:
      // The firmware's own reply text for a method it lacks (protocol.md §8.1), reproduced exactly.
      return error(`Method not implemented: ${method}`);
  }
}
