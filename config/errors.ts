/**
 * The one error `load()` throws, and the wording of each problem. config/ may not import the
 * runtime's error registry, so ConfigError carries the same fields (code, category, retryable)
 * and serialises to the same wire shape; callers check `err.code`.
 */
import type { z } from 'zod';
import { isSecretKey } from './redact.js';

export const CONFIG_INVALID = 'XZ_ERR_CONFIG_INVALID';

export interface ConfigIssue {
  /** Dotted path into the document, e.g. `server.ws_port` or `pipeline.asr[0]`; '' for the whole file. */
  path: string;
  message: string;
  /** The file the problem is in, when it comes from one. */
  file?: string;
  line?: number;
  column?: number;
  /** The XZ_ variable that supplied the offending value. */
  env?: string;
}

export class ConfigError extends Error {
  readonly code = CONFIG_INVALID;
  readonly category = 'invalid-request' as const;
  readonly retryable = false;
  readonly issues: readonly ConfigIssue[];
  readonly file: string | null;

  constructor(issues: ConfigIssue[], file: string | null) {
    const lines = issues.map((i) => `  - ${describeIssue(i)}`);
    const n = issues.length;
    super(`invalid configuration${file ? ` (${file})` : ''}: ${n} problem${n === 1 ? '' : 's'}\n${lines.join('\n')}`);
    this.name = 'ConfigError';
    this.issues = Object.freeze(issues.map((i) => Object.freeze({ ...i })));
    this.file = file;
  }

  toJSON() {
    return {
      code: this.code,
      category: this.category,
      retryable: this.retryable,
      message: this.message,
      details: { file: this.file, issues: this.issues.map((i) => ({ ...i })) },
    };
  }
}

export function describeIssue(i: ConfigIssue): string {
  const where = i.line !== undefined ? `${i.file ?? ''}:${i.line}${i.column !== undefined ? `:${i.column}` : ''}: ` : '';
  const from = i.env ? ` (set by ${i.env})` : '';
  return `${where}${i.path ? `${i.path}: ` : ''}${i.message}${from}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[\w:-]+$/.test(String(seg))) out += out ? `.${String(seg)}` : String(seg);
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

type Issue = z.core.$ZodIssue & { input?: unknown };

function show(value: unknown, path: readonly PropertyKey[]): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') {
    const last = path.at(-1);
    if (typeof last === 'string' && isSecretKey(last)) return 'a string';
    return value.length > 40 ? `"${value.slice(0, 37)}..."` : JSON.stringify(value);
  }
  return String(value);
}

const noun = (t: string): string =>
  ({ int: 'an integer', array: 'a list', object: 'a map', record: 'a map', number: 'a number', string: 'a string', boolean: 'true or false' })[t] ?? t;

const cmp = (less: boolean, inclusive: boolean | undefined) => (less ? (inclusive ? '≤' : '<') : inclusive ? '≥' : '>');

function sized(origin: string, n: number | bigint, most: boolean, inclusive: boolean | undefined): string {
  const bound = inclusive ? Number(n) : Number(n) + (most ? -1 : 1);
  if (origin === 'string') return bound === 1 && !most ? 'must not be empty' : `expected ${most ? 'at most' : 'at least'} ${bound} characters`;
  if (origin === 'array') return `expected ${most ? 'at most' : 'at least'} ${bound} item${bound === 1 ? '' : 's'}`;
  return `expected ${origin} ${cmp(most, inclusive)} ${n}`;
}

/** Zod issues in our wording; one issue per unknown key, with a suggestion when a key is close. */
export function fromZod(issues: readonly Issue[], known: (path: readonly PropertyKey[]) => string[]): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  for (const iss of issues) {
    const path = iss.path;
    const got = 'input' in iss ? ` (got ${show(iss.input, path)})` : '';
    switch (iss.code) {
      case 'unrecognized_keys':
        for (const key of iss.keys) {
          const guess = closest(key, known(path));
          out.push({ path: [...path, key], message: `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}` });
        }
        break;
      case 'invalid_type':
        out.push({
          path,
          message: iss.input === undefined ? `required: expected ${noun(iss.expected)}` : `expected ${noun(iss.expected)}, received ${show(iss.input, path)}`,
        });
        break;
      case 'too_big':
        out.push({ path, message: sized(iss.origin, iss.maximum, true, iss.inclusive) + (iss.origin === 'number' ? got : '') });
        break;
      case 'too_small':
        out.push({ path, message: sized(iss.origin, iss.minimum, false, iss.inclusive) + (iss.origin === 'number' ? got : '') });
        break;
      case 'invalid_value':
        out.push({ path, message: `expected one of ${iss.values.map((v) => (typeof v === 'string' ? `"${v}"` : String(v))).join(', ')}${got}` });
        break;
      case 'invalid_format':
        out.push({ path, message: iss.format === 'starts_with' && 'prefix' in iss ? `must start with "${String(iss.prefix)}"` : `expected ${iss.format} format` });
        break;
      default:
        out.push({ path, message: iss.message });
    }
  }
  return out;
}

function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(sub, (prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
