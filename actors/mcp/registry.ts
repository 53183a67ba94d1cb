/**
 * Puts a device's tools into the session's tool registry (actors/tools/registry.ts) and keeps
 * them current: every time the toolbox announces a new list (cache, device, IoT), the device's
 * entries are replaced as a whole. Names offered to the model are vendor-safe and avoid the
 * names other sources (server functions, external MCP servers) already use.
 */
import type { Tool, ToolRegistry } from '../tools/registry.js';
import type { DeviceToolbox } from './toolbox.js';

export const DEVICE_TOOL_SOURCE = 'device';

/** The toolbox's model-facing tools as registry entries; user-only tools stay out. */
export function deviceRegistryTools(box: DeviceToolbox, reserved: Iterable<string> = []): Tool[] {
  const llm = box.llmTools({ reserved });
  return llm.definitions.map((definition) => ({
    definition,
    source: DEVICE_TOOL_SOURCE,
    run: (args, ctx) => box.call(llm.toDevice.get(definition.name)!, args, { signal: ctx.signal }),
  }));
}

/** Fills the registry now and on every change; returns the unsubscribe. */
export function syncDeviceTools(registry: ToolRegistry, box: DeviceToolbox): () => void {
  const apply = () => {
    registry.removeSource(DEVICE_TOOL_SOURCE);
    const others = registry.definitions((t) => t.source !== DEVICE_TOOL_SOURCE).map((d) => d.name);
    for (const t of deviceRegistryTools(box, others)) registry.add(t);
  };
  apply();
  return box.onToolsChanged(apply);
}
