/**
 * Puts the external MCP tools a role may use into a session's tool registry and keeps them
 * current: when a server becomes ready, dies, or changes its list, every `mcp:<server>` entry is
 * replaced. A name another source (a server function, a device tool) already holds stays theirs.
 *
 *   const unsync = syncExternalTools(s.tools, mcp, role.tools);   // session start
 *   unsync(); unsync = syncExternalTools(s.tools, mcp, newRole.tools); // role switch
 *   unsync();                                                      // session end
 */
import type { ToolRegistry } from '../../tools/registry.js';
import type { ExternalMcp } from './manager.js';
import { allowList } from './names.js';

export function syncExternalTools(registry: ToolRegistry, mcp: ExternalMcp, allow: readonly string[]): () => void {
  const p = allowList(allow);
  const sources = new Set(mcp.sources);
  const apply = (): void => {
    for (const s of sources) registry.removeSource(s);
    const taken = new Set(registry.definitions().map((d) => d.name));
    for (const t of mcp.registryTools(p)) if (!taken.has(t.definition.name)) registry.add(t);
  };
  apply();
  const off = mcp.onToolsChanged(apply);
  return () => {
    off();
    for (const s of sources) registry.removeSource(s);
  };
}
