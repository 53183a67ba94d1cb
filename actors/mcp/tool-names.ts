/**
 * Device tools as language-model function definitions. Vendors accept only
 * `^[a-zA-Z0-9_-]{1,64}$` as a function name, and device tools are named
 * `self.audio_speaker.set_volume`; so each tool gets a vendor-safe name
 * (`self_audio_speaker_set_volume`) and a reverse map takes the model's call back to the device's
 * name. The mapping depends only on the list, so it is the same on every turn of a session (and
 * for a cached list on the next connection).
 */
import type { ToolDefinition } from '../../providers/contracts/llm.js';
import type { DeviceTool } from './types.js';

const VALID = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;

export interface LlmTools {
  readonly definitions: ToolDefinition[];
  /** LLM-side name → device name. */
  readonly toDevice: ReadonlyMap<string, string>;
  /** Device name → LLM-side name. */
  readonly toLlm: ReadonlyMap<string, string>;
}

export interface LlmToolsOptions {
  /** Also offer tools meant only for a person (reboot, firmware upgrade…). Default false. */
  includeUserOnly?: boolean;
  /** Names already taken in the same request (server functions, other MCP servers' tools). */
  reserved?: Iterable<string>;
}

export function toLlmTools(tools: readonly DeviceTool[], opts: LlmToolsOptions = {}): LlmTools {
  const offered = tools.filter((t) => opts.includeUserOnly || !t.userOnly);
  const taken = new Set<string>(opts.reserved ?? []);
  const toDevice = new Map<string, string>();
  const toLlm = new Map<string, string>();
  // Names that are valid already keep them, so a device tool called `a_b` is not renamed because
  // `a.b` came earlier in the list and collapsed onto it.
  for (const t of offered) {
    if (VALID.test(t.name) && !taken.has(t.name) && !toLlm.has(t.name)) {
      taken.add(t.name);
      toDevice.set(t.name, t.name);
      toLlm.set(t.name, t.name);
    }
  }
  for (const t of offered) {
    if (toLlm.has(t.name)) continue;
    const safe = uniqueToolName(sanitizeToolName(t.name), taken);
    taken.add(safe);
    toDevice.set(safe, t.name);
    toLlm.set(t.name, safe);
  }
  const definitions = offered
    .filter((t, i) => offered.findIndex((o) => o.name === t.name) === i)
    .map((t) => ({ name: toLlm.get(t.name)!, description: t.description || t.name, parameters: objectSchema(t.inputSchema) }));
  return { definitions, toDevice, toLlm };
}

/** `self.audio_speaker.set_volume` → `self_audio_speaker_set_volume`; at most 64 characters. */
export function sanitizeToolName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, MAX);
  return s === '' ? 'tool' : s;
}

/** Appends `_2`, `_3`… (within 64 characters) until the name is free (and vendor-valid). */
export function uniqueToolName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name) && /^[a-zA-Z0-9_-]{1,64}$/.test(name)) return name;
  for (let n = 2; ; n++) {
    const tail = `_${n}`;
    const candidate = name.slice(0, MAX - tail.length) + tail;
    if (!taken.has(candidate)) return candidate;
  }
}

/** A copy the vendor can take: always an object schema with `properties`. */
export function objectSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(schema);
  out['type'] = 'object';
  if (typeof out['properties'] !== 'object' || out['properties'] === null) out['properties'] = {};
  return out;
}
