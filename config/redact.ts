/**
 * A copy of the config that is safe to log. Secrets are recognised by key name anywhere in the
 * tree (vendor options are free-form, so a list of known paths would miss new vendors), plus
 * credentials embedded in URLs. Over-redacting a harmless key costs nothing; leaking one does.
 */
import type { Config } from './schema.js';

export const REDACTED = '***';

const SECRET_WORDS = new Set(['key', 'apikey', 'token', 'secret', 'password', 'passwd', 'credential', 'credentials', 'auth', 'authorization', 'cookie']);

/** True for keys like api_key, apiKey, access_token, secret, client-secret, password. */
export function isSecretKey(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[_\-.]+/)
    .filter(Boolean);
  const last = words.at(-1);
  if (last === undefined) return false;
  return SECRET_WORDS.has(last);
}

// `server.tls.key` is a file path, not key material; logging it helps operators.
const NOT_SECRET_PATHS = new Set(['server.tls.key']);

function redactValue(value: unknown, path: string): unknown {
  if (typeof value === 'string') return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, `$1${REDACTED}@`);
  if (Array.isArray(value)) return value.map((v, i) => redactValue(v, `${path}[${i}]`));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = path ? `${path}.${k}` : k;
    const secret = (typeof v === 'string' ? v !== '' : typeof v === 'number') && isSecretKey(k) && !NOT_SECRET_PATHS.has(p);
    out[k] = secret ? REDACTED : redactValue(v, p);
  }
  return out;
}

/** A plain, unfrozen copy with every secret replaced by "***"; unset secrets stay null. */
export function redact<T extends Partial<Config>>(config: T): T {
  return redactValue(config, '') as T;
}
