/**
 * Names and allow-lists of external MCP tools.
 *
 * Naming: a tool `get_forecast` of server `weather` is offered to models as
 * `weather__get_forecast`: characters vendors refuse become `_`, the result is cut to 64, and a
 * clash inside one server (`a.b` and `a_b`) gets `_2`, `_3`… Server names cannot contain `__` nor
 * end in `_` (config.ts), so the first `__` always ends the server part and two servers can never
 * produce the same name. Names depend only on the server's list, so they survive restarts.
 *
 * Allow-lists: a role's `tools: [...]` entries that concern external MCP servers:
 *
 *   mcp:*                     every tool of every external server
 *   mcp:weather               every tool of server `weather`
 *   weather__get_forecast     one tool, by the name the model sees (as in logs and the status route)
 *   mcp:weather/get_forecast  one tool, by the server's own name (immune to renaming)
 *
 * Other entries (server functions, device tools) are ignored here. A role whose list names no
 * external server or tool gets no external tools: they can act on the world, so they are opt-in.
 */
import type { ToolDefinition } from '../../../providers/contracts/llm.js';

const VALID = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;
export const SEPARATOR = '__';

/** A tool as the server lists it. */
export interface RemoteTool {
  readonly name: string;
  readonly title?: string | undefined;
  readonly description?: string | undefined;
  readonly inputSchema: Record<string, unknown>;
  readonly annotations?: Record<string, unknown> | undefined;
}

/** A server's tool with the name the model sees. */
export interface NamedTool {
  readonly server: string;
  /** The server's own name, used in `tools/call`. */
  readonly name: string;
  /** The vendor-safe name offered to models. */
  readonly llmName: string;
  readonly definition: ToolDefinition;
}

export function nameTools(server: string, tools: readonly RemoteTool[]): NamedTool[] {
  const taken = new Set<string>();
  const out: NamedTool[] = [];
  const seen = new Set<string>();
  for (const t of tools) {
    if (seen.has(t.name)) continue; // a server listing a name twice: the first one wins
    seen.add(t.name);
    const llmName = unique(`${server}${SEPARATOR}${t.name}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, MAX), taken);
    taken.add(llmName);
    out.push({
      server,
      name: t.name,
      llmName,
      definition: { name: llmName, description: t.description || t.title || t.name, parameters: parameters(t.inputSchema) },
    });
  }
  return out;
}

function unique(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name) && VALID.test(name)) return name;
  for (let n = 2; ; n++) {
    const tail = `_${n}`;
    const candidate = name.slice(0, MAX - tail.length) + tail;
    if (!taken.has(candidate)) return candidate;
  }
}

/** A copy vendors accept: always an object schema with `properties`. */
function parameters(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(schema);
  out['type'] = 'object';
  if (typeof out['properties'] !== 'object' || out['properties'] === null) out['properties'] = {};
  return out;
}

export type AllowPredicate = (tool: Pick<NamedTool, 'server' | 'name' | 'llmName'>) => boolean;

const compiled = new WeakMap<readonly string[], AllowPredicate>();

/** The rule above as a predicate; cached per list (role lists come from the frozen config). */
export function allowList(entries: readonly string[]): AllowPredicate {
  let p = compiled.get(entries);
  if (p) return p;
  let all = false;
  const servers = new Set<string>();
  const llmNames = new Set<string>();
  const own = new Set<string>(); // `server/name`
  for (const e of entries) {
    if (e === 'mcp:*') all = true;
    else if (e.startsWith('mcp:')) {
      const rest = e.slice(4);
      const slash = rest.indexOf('/');
      if (slash < 0) servers.add(rest);
      else own.add(rest);
    } else llmNames.add(e);
  }
  p = (t) => all || servers.has(t.server) || llmNames.has(t.llmName) || own.has(`${t.server}/${t.name}`);
  compiled.set(entries, p);
  return p;
}
