/**
 * Boot-time configuration:
 *
 *   built-in defaults ◀── file (XZ_CONFIG | .config.yaml | config.yaml), `${VAR}` filled in
 *                     ◀── XZ_SECTION__KEY=value variables
 *                     ──▶ validate once ──▶ deep-frozen Config, or one ConfigError listing every problem
 *
 * Maps merge key by key; arrays and scalars replace. Nothing here runs after boot.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { crossCheck, type RawIssue } from './checks.js';
import { applyOverride, envOverrides, interpolate, isPlainObject, type Override } from './env.js';
import { ConfigError, formatPath, fromZod, type ConfigIssue } from './errors.js';
import { configSchema, type Config } from './schema.js';

export interface LoadOptions {
  /** Where `${VAR}`, XZ_CONFIG and XZ_ overrides come from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where relative paths and the default file names are resolved; defaults to process.cwd(). */
  cwd?: string;
  /** An explicit file, taking precedence over XZ_CONFIG; it must exist. */
  file?: string;
}

export const FILE_NAMES = ['.config.yaml', 'config.yaml'] as const;

/** Finds, merges, validates and freezes the configuration; throws ConfigError on any problem. */
export function load(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = locate(opts, env);
  const doc = file === null ? {} : readYaml(file);
  return build(doc, env, true, file);
}

/** Validates `input` merged onto the defaults (no file lookup, no XZ_ overrides): for tests and embedding. */
export function configFrom(input: unknown, opts: { env?: NodeJS.ProcessEnv } = {}): Config {
  return build(input ?? {}, opts.env ?? process.env, false, null);
}

let cachedDefaults: Config | undefined;

/** The built-in defaults, as a validated and frozen Config. */
export function defaults(): Config {
  cachedDefaults ??= deepFreeze(configSchema.parse({}) as Config);
  return cachedDefaults;
}

function locate(opts: LoadOptions, env: NodeJS.ProcessEnv): string | null {
  const cwd = opts.cwd ?? process.cwd();
  const named = opts.file ?? (env.XZ_CONFIG ? env.XZ_CONFIG : undefined);
  if (named !== undefined) {
    const path = resolve(cwd, named);
    if (!existsSync(path)) {
      const by = opts.file !== undefined ? 'the file option' : 'XZ_CONFIG';
      throw new ConfigError([{ path: '', message: `config file named by ${by} does not exist: ${path}`, file: path }], path);
    }
    return path;
  }
  for (const name of FILE_NAMES) {
    const path = resolve(cwd, name);
    if (existsSync(path) && statSync(path).isFile()) return path;
  }
  return null;
}

function readYaml(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read: ${(err as Error).message}`, file: path }], path);
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e): ConfigIssue => {
      const pos = e.linePos?.[0];
      const message = `YAML syntax: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
      return pos ? { path: '', message, file: path, line: pos.line, column: pos.col } : { path: '', message, file: path };
    });
    throw new ConfigError(issues, path);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError([{ path: '', message: `YAML: ${(err as Error).message}`, file: path }], path);
  }
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    throw new ConfigError([{ path: '', message: `expected a map of sections at the top level, got ${Array.isArray(value) ? 'a list' : typeof value}`, file: path }], path);
  }
  return value;
}

function build(doc: unknown, env: NodeJS.ProcessEnv, withOverrides: boolean, file: string | null): Config {
  const early: RawIssue[] = [];
  if (!isPlainObject(doc)) {
    throw new ConfigError([{ path: '', message: 'expected a map of sections at the top level' }], file);
  }
  const merged = merge(structuredClone(defaults()), interpolate(doc, env, early)) as Record<string, unknown>;
  const overrides: Override[] = withOverrides ? envOverrides(env, early) : [];
  for (const o of overrides) applyOverride(merged, o, early);

  const parsed = configSchema.safeParse(merged, { reportInput: true });
  const late = [
    ...(parsed.success ? [] : fromZod(parsed.error.issues, knownKeys)),
    ...crossCheck(parsed.success ? parsed.data : merged),
  ];
  // A value already reported (e.g. an unset ${VAR}) would only produce a confusing second message.
  const reported = new Set(early.map((i) => formatPath(i.path)));
  const issues = [...early, ...late.filter((i) => !reported.has(formatPath(i.path)))].map((i) => toIssue(i, overrides));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues, file);
  return deepFreeze(parsed.data as Config);
}

function toIssue(i: { path: readonly PropertyKey[]; message: string }, overrides: Override[]): ConfigIssue {
  const issue: ConfigIssue = { path: formatPath(i.path), message: i.message };
  const source = overrides.findLast((o) => o.path.every((seg, n) => String(i.path[n]) === seg));
  if (source) issue.env = source.variable;
  return issue;
}

function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

interface SchemaNode {
  _zod: { def: { type: string; innerType?: SchemaNode; out?: SchemaNode; shape?: Record<string, SchemaNode>; valueType?: SchemaNode; element?: SchemaNode } };
}

/** The keys the schema allows at `path`, for "did you mean" hints. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  let node: SchemaNode | undefined = configSchema as unknown as SchemaNode;
  let i = 0;
  while (node) {
    const def: SchemaNode['_zod']['def'] = node._zod.def;
    if (def.innerType) node = def.innerType;
    else if (def.type === 'pipe') node = def.out;
    else if (i === path.length) return def.shape ? Object.keys(def.shape) : [];
    else if (def.shape) node = def.shape[String(path[i++])];
    else if (def.valueType) (node = def.valueType), i++;
    else if (def.element) (node = def.element), i++;
    else return [];
  }
  return [];
}
