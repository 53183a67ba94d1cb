/**
 * What the environment contributes: `${VAR}` references inside file values, and `XZ_A__B=value`
 * variables that override single keys. Both record problems instead of throwing so that `load()`
 * can report everything at once.
 */
import { parse as parseYaml } from 'yaml';
import type { RawIssue } from './checks.js';

export const ENV_PREFIX = 'XZ_';
const SEPARATOR = '__';

// `$${` is an escaped literal `${`; a `${` that matches neither form is malformed.
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string of `value`; returns a new tree. */
export function interpolate(value: unknown, env: NodeJS.ProcessEnv, issues: RawIssue[], path: (string | number)[] = []): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
      if (match === '$${') return '${';
      if (name === undefined) {
        issues.push({ path, message: 'malformed ${...} reference (expected ${NAME} or ${NAME:-default}; write $${ for a literal)' });
        return match;
      }
      const v = env[name];
      // Shell semantics: `:-` also covers a variable that is set but empty.
      if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
      if (v === undefined) {
        issues.push({ path, message: `environment variable ${name} is not set (write \${${name}:-default} to make it optional)` });
        return match;
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, issues, [...path, i]));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      // Assigning it would swap the object's prototype instead of setting a key.
      if (k === '__proto__') issues.push({ path: [...path, k], message: 'key not allowed' });
      else out[k] = interpolate(v, env, issues, [...path, k]);
    }
    return out;
  }
  return value;
}

export interface Override {
  variable: string;
  path: string[];
  value: unknown;
}

/** Reads `XZ_SERVER__HTTP_PORT=9000`-style variables; names without `__` (XZ_CONFIG, …) are not overrides. */
export function envOverrides(env: NodeJS.ProcessEnv, issues: RawIssue[]): Override[] {
  const out: Override[] = [];
  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith(ENV_PREFIX) || !variable.includes(SEPARATOR) || raw === undefined) continue;
    const path = variable.slice(ENV_PREFIX.length).split(SEPARATOR).map((s) => s.toLowerCase());
    if (path.some((s) => s === '')) {
      issues.push({ path: [], message: `${variable}: empty path segment (use __ only between key names)` });
      continue;
    }
    try {
      out.push({ variable, path, value: parseEnvValue(raw) });
    } catch (err) {
      issues.push({ path, message: `${variable}: cannot parse value: ${(err as Error).message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` });
    }
  }
  // Deeper paths last, so XZ_A__B__C refines what XZ_A__B set instead of being overwritten by it.
  return out.sort((a, b) => a.path.length - b.path.length || a.variable.localeCompare(b.variable));
}

/**
 * YAML scalars without YAML's surprises: `#x` is not a comment, `a: b` is not a map, and digits
 * with a leading zero (PINs, some keys) stay strings. Flow collections `[a, b]` / `{a: 1}` and
 * quoted strings go through the YAML parser.
 */
export function parseEnvValue(raw: string): unknown {
  const s = raw.trim();
  if (s === 'null' || s === '~') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^[-+]?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$/.test(s)) return Number(s);
  if (/^[[{"']/.test(s)) return parseYaml(s, { uniqueKeys: true }) as unknown;
  return raw;
}

export function applyOverride(root: Record<string, unknown>, o: Override, issues: RawIssue[]): void {
  let node = root;
  for (let i = 0; i < o.path.length - 1; i++) {
    const key = o.path[i]!;
    const next = node[key];
    if (next === undefined || next === null) {
      node = node[key] = {};
    } else if (isPlainObject(next)) {
      node = next;
    } else {
      issues.push({ path: o.path.slice(0, i + 1), message: `${o.variable}: cannot set a key inside a ${Array.isArray(next) ? 'list' : typeof next}` });
      return;
    }
  }
  node[o.path.at(-1)!] = o.value;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
