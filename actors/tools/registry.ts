/**
 * The tools a session's language model may call: server functions and, added per device, the
 * device's own MCP tools. Names offered to models are vendor-safe (`^[a-zA-Z0-9_-]{1,64}$`);
 * each tool keeps the name its owner knows it by.
 */
import { defineErrors, XzError } from '../../runtime/errors.js';
import type { ToolDefinition } from '../../providers/contracts/llm.js';
import type { ToolResult } from '../think/messages.js';

export const TOOL_ERR = defineErrors({
  XZ_ERR_TOOL_UNKNOWN: { category: 'invalid-request', retryable: false, message: 'no such tool' },
  XZ_ERR_TOOL_BAD_ARGS: { category: 'invalid-request', retryable: false, message: 'tool arguments are not a JSON object' },
});

export interface ToolContext {
  readonly sessionId: string;
  readonly deviceId: string;
  readonly signal: AbortSignal;
}

export interface Tool {
  readonly definition: ToolDefinition;
  /** Where it comes from, for logs and allow-lists: 'server', 'device', 'mcp:<server>'. */
  readonly source: string;
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult>;
}

export class ToolRegistry {
  readonly #tools = new Map<string, Tool>();

  add(tool: Tool): void {
    this.#tools.set(tool.definition.name, tool);
  }

  /** Removes every tool from one source (a device's list is replaced as a whole). */
  removeSource(source: string): void {
    for (const [name, t] of this.#tools) if (t.source === source) this.#tools.delete(name);
  }

  definitions(allow?: (t: Tool) => boolean): ToolDefinition[] {
    return [...this.#tools.values()].filter((t) => !allow || allow(t)).map((t) => t.definition);
  }

  get size(): number {
    return this.#tools.size;
  }

  /** Runs a call as the model wrote it; failures come back as an error result for the model. */
  async call(name: string, argsJson: string, ctx: ToolContext): Promise<ToolResult> {
    const tool = this.#tools.get(name);
    if (!tool) throw new XzError(TOOL_ERR.XZ_ERR_TOOL_UNKNOWN, `no tool "${name}"`);
    let args: unknown;
    try {
      args = argsJson.trim() === '' ? {} : JSON.parse(argsJson);
    } catch {
      throw new XzError(TOOL_ERR.XZ_ERR_TOOL_BAD_ARGS, `arguments of ${name} are not valid JSON`);
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new XzError(TOOL_ERR.XZ_ERR_TOOL_BAD_ARGS, `arguments of ${name} must be an object`);
    return tool.run(args as Record<string, unknown>, ctx);
  }
}

/** Server functions every session has. */
export function serverTools(opts: { timezone?: string } = {}): Tool[] {
  return [
    {
      source: 'server',
      definition: {
        name: 'get_current_time',
        description: 'Current local date, time and weekday. Use it for any question about the time or date.',
        parameters: { type: 'object', properties: {} },
      },
      async run() {
        const now = new Date();
        const fmt = new Intl.DateTimeFormat('en-GB', {
          dateStyle: 'full',
          timeStyle: 'long',
          ...(opts.timezone ? { timeZone: opts.timezone } : {}),
        });
        return { text: fmt.format(now), isError: false };
      },
    },
  ];
}
