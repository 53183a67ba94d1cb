/**
 * Puts the external MCP tools into a session's tool registry and keeps them current: when a
 * server becomes ready, dies, or changes its list, every `mcp:<server>` entry is replaced. A name
 * another source (a server function, a device tool) already holds stays theirs.
 *
 * The role's allow-list needs no re-sync: the session filters the registry with `toolAllowed`
 * (actors/dialogue/roles.ts) on every turn and every call, so a role switch just takes effect.
 * `allow` only pre-filters, for a caller that wants some tools never to enter a registry at all.
 *
 *   const unsync = syncExternalTools(s.tools, mcp);   // session start
 *   unsync();                                         // session end
 */
import type { ToolRegistry } from '../../tools/registry.js';
import type { ExternalMcp } from './manager.js';
import { allowList } from './names.js';

export function syncExternalTools(registry: ToolRegistry, mcp: ExternalMcp, allow?: readonly string[]): () => void {
  const p = allow === undefined ? undefined : allowList(allow);
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
