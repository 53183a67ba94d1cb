/**
 * Roles (agents): a prompt, a voice, a language and a tool allow-list, named in config `roles`.
 * A device gets its role from config `devices` — an entry keyed by its id, or a group entry whose
 * `match` lists it — and the user can switch roles by voice through the `switch_role` tool.
 *
 * Tool allow-list entries match a tool's name or its source, with `*` as a wildcard:
 * `get_weather`, `self_*` (device tools by name), `device` (every device tool), `mcp:*`. An empty
 * list allows every tool, which is what the default role (tools: []) has always meant.
 */
import type { Tool } from '../tools/registry.js';

/** What config `roles.<name>` holds (structural, so a later `description` key needs no change here). */
export interface RoleConfigLike {
  readonly prompt: string;
  readonly voice: string | null;
  readonly language: string | null;
  readonly tools: readonly string[];
  readonly description?: string | undefined;
}

/** What config `devices.<id or group>` holds. */
export interface DeviceConfigLike {
  readonly match?: readonly string[] | undefined;
  readonly role?: string | undefined;
  readonly language?: string | null | undefined;
  readonly voice?: string | null | undefined;
  readonly llm?: string | undefined;
}

export interface Role {
  readonly name: string;
  readonly prompt: string;
  readonly voice: string | null;
  readonly language: string | null;
  readonly tools: readonly string[];
  /** One line for the switch_role tool description. */
  readonly description: string;
}

/** A device's effective settings: its role, with the device's own overrides applied. */
export interface DeviceProfile {
  readonly role: Role;
  readonly voice: string | null;
  readonly language: string | null;
  /** A named LLM instance for this device, when config sets one. */
  readonly llm: string | undefined;
  /** Config entries that applied, most general first (for logs). */
  readonly matched: readonly string[];
}

export function rolesFrom(cfg: Readonly<Record<string, RoleConfigLike>>): Map<string, Role> {
  const out = new Map<string, Role>();
  for (const [name, r] of Object.entries(cfg)) {
    out.set(name, { name, prompt: r.prompt, voice: r.voice, language: r.language, tools: [...r.tools], description: r.description?.trim() || firstSentence(r.prompt) });
  }
  return out;
}

/** The first sentence of a prompt, at most 80 characters: enough for the model to tell roles apart. */
function firstSentence(prompt: string): string {
  const s = prompt.trim().split(/(?<=[.!?。！？])\s*/u)[0] ?? '';
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function glob(pattern: string): RegExp {
  const body = pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, 'i');
}

/**
 * The config entries that apply to a device, least specific first: groups matching it by a
 * wildcard, then groups listing it exactly, then the entry keyed by its id. Later entries win.
 */
export function deviceEntries(devices: Readonly<Record<string, DeviceConfigLike>>, deviceId: string): [string, DeviceConfigLike][] {
  const id = deviceId.toLowerCase();
  const wild: [string, DeviceConfigLike][] = [];
  const exact: [string, DeviceConfigLike][] = [];
  let own: [string, DeviceConfigLike] | undefined;
  for (const [key, entry] of Object.entries(devices)) {
    if (entry.match) {
      if (entry.match.some((m) => !m.includes('*') && m.toLowerCase() === id)) exact.push([key, entry]);
      else if (entry.match.some((m) => m.includes('*') && glob(m).test(deviceId))) wild.push([key, entry]);
    } else if (key.toLowerCase() === id) {
      own = [key, entry];
    }
  }
  return [...wild, ...exact, ...(own ? [own] : [])];
}

export function resolveDevice(
  roles: ReadonlyMap<string, Role>,
  devices: Readonly<Record<string, DeviceConfigLike>>,
  deviceId: string,
  fallbackRole = 'default',
): DeviceProfile {
  const entries = deviceEntries(devices, deviceId);
  let roleName: string | undefined;
  let voice: string | null | undefined;
  let language: string | null | undefined;
  let llm: string | undefined;
  for (const [, e] of entries) {
    if (e.role !== undefined) roleName = e.role;
    if (e.voice !== undefined) voice = e.voice;
    if (e.language !== undefined) language = e.language;
    if (e.llm !== undefined) llm = e.llm;
  }
  // A role named in devices but missing from roles is a config mistake; the session still runs.
  const role = (roleName !== undefined ? roles.get(roleName) : undefined) ?? roles.get(fallbackRole) ?? roles.values().next().value ?? emptyRole(fallbackRole);
  return {
    role,
    // The device's own voice/language beat the role's, which beat the server's defaults.
    voice: voice !== undefined ? voice : role.voice,
    language: language !== undefined ? language : role.language,
    llm,
    matched: entries.map(([k]) => k),
  };
}

function emptyRole(name: string): Role {
  return { name, prompt: '', voice: null, language: null, tools: [], description: '' };
}

/** Whether a role lets the model see a tool (an empty allow-list allows all). */
export function toolAllowed(role: Pick<Role, 'tools'>, tool: Pick<Tool, 'source' | 'definition'>): boolean {
  if (role.tools.length === 0) return true;
  return role.tools.some((p) => {
    const re = glob(p);
    return re.test(tool.definition.name) || re.test(tool.source);
  });
}

/** Finds the role a user (through the model) asked for: "teacher", "Teacher role", "老师角色". */
export function findRole(roles: ReadonlyMap<string, Role>, asked: string): Role | undefined {
  const norm = (s: string) => s.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{S}\s]/gu, '');
  const strip = (s: string) => norm(s).replace(/^(the)/, '').replace(/(role|persona|mode|角色|模式)$/u, '');
  const q = strip(asked);
  if (q === '') return undefined;
  const all = [...roles.values()];
  return (
    all.find((r) => norm(r.name) === norm(asked)) ??
    all.find((r) => strip(r.name) === q) ??
    // Substring either way, only when it picks exactly one role.
    only(all.filter((r) => strip(r.name).includes(q) || q.includes(strip(r.name))))
  );
}

function only<T>(xs: T[]): T | undefined {
  return xs.length === 1 ? xs[0] : undefined;
}

export interface SwitchRoleOptions {
  readonly roles: ReadonlyMap<string, Role>;
  /** The session's current role name. */
  readonly current: () => string;
  /** Applies the switch (prompt from the next turn, voice, tool list). */
  readonly onSwitch: (role: Role) => void | Promise<void>;
}

/** `switch_role`: lets the user say "switch to the teacher role". */
export function switchRoleTool(o: SwitchRoleOptions): Tool {
  const names = [...o.roles.keys()];
  const listing = [...o.roles.values()].map((r) => (r.description ? `"${r.name}" (${r.description})` : `"${r.name}"`)).join('; ');
  return {
    source: 'server',
    definition: {
      name: 'switch_role',
      description: `Switch the assistant to another role (persona, character or agent) when the user asks for it. Available roles: ${listing}.`,
      parameters: {
        type: 'object',
        properties: { role: { type: 'string', enum: names, description: 'The role to switch to.' } },
        required: ['role'],
      },
    },
    async run(args) {
      const asked = typeof args['role'] === 'string' ? args['role'] : '';
      const role = findRole(o.roles, asked);
      if (!role) return { text: `No role called "${asked}". Available roles: ${names.join(', ')}. Ask the user which one they mean.`, isError: true };
      if (role.name === o.current()) return { text: `Already in the "${role.name}" role. Tell the user so, briefly.`, isError: false };
      await o.onSwitch(role);
      return {
        text: `Switched to the "${role.name}" role. From now on you are: ${firstSentence(role.prompt) || role.name}. Confirm the switch to the user in one short sentence, in that role.`,
        isError: false,
      };
    },
  };
}
