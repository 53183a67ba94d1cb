/**
 * Names and allow-lists of external MCP tools.
 *
 * Naming: a tool `get_forecast` of server `weather` is offered to models as
 * `weather__get_forecast`: characters vendors refuse become `_`, the result is cut to 64, and a
 * clash inside one server (`a.b` and `a_b`) gets `_2`, `_3`… Server names cannot contain `__` nor
 * end in `_` (config.ts), so the first `__` always ends the server part and two servers can never
 * produce the same name. Names depend only on the server's list, so they survive restarts.
 *
 * Allow-lists: the project has one rule for a role's `tools: [...]`, `toolAllowed` in
 * actors/dialogue/roles.ts (entries match a tool's name or its source, `*` is a wildcard, case
 * does not matter, an empty list allows everything), and sessions apply it on every turn. For
 * external tools, whose source is `mcp:<server>`, that reads:
 *
 *   mcp:*                    every tool of every external server
 *   mcp:weather              every tool of server `weather`
 *   weather__get_forecast    one tool, by the name the model sees (as in logs and the status route)
 *   weather__get_*           some tools of one server
 *
 * `allowList` below is that same rule as a predicate over our tools, for pre-filtering.
 */
import type { ToolDefinition } from '../../../providers/contracts/llm.js';
import { toolAllowed } from '../../dialogue/roles.js';

const VALID = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;
import { objectSchema, uniqueToolName } from '../tool-names.js';

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
    const llmName = uniqueToolName(`${server}${SEPARATOR}${t.name}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, MAX), taken);
    taken.add(llmName);
    out.push({
      server,
      name: t.name,
      llmName,
      definition: { name: llmName, description: t.description || t.title || t.name, parameters: objectSchema(t.inputSchema) },
    });
  }
  return out;
}

export type AllowPredicate = (tool: Pick<NamedTool, 'server' | 'llmName'>) => boolean;

const compiled = new WeakMap<readonly string[], AllowPredicate>();

/** The roles' rule (see above) as a predicate; cached per list (role lists come from the frozen config). */
export function allowList(entries: readonly string[]): AllowPredicate {
  let p = compiled.get(entries);
  if (p) return p;
  const role = { tools: entries };
  p = (t) => toolAllowed(role, { source: `mcp:${t.server}`, definition: { name: t.llmName, description: '', parameters: {} } });
  compiled.set(entries, p);
  return p;
}
