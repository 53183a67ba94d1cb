/**
 * Reading a Volcengine provider's config slice (plain YAML data). Credential keys accept the
 * names of the console (`appid`, `access_token`) and of the headers (`app_key`, `access_key`), as
 * configs copied from other xiaozhi servers use either.
 */
import { E, XzError } from '../../runtime/errors.js';
import type { V3Credentials } from './socket.js';

export type Cfg = Record<string, unknown>;

export function invalid(path: string, message: string): XzError {
  return new XzError(E.XZ_ERR_CONFIG_INVALID, `${path}: ${message}`, { details: { path } });
}

export function str(cfg: Cfg, key: string, path: string): string | null {
  const v = cfg[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'number') return String(v); // app ids are digits; YAML reads them as numbers
  if (typeof v !== 'string') throw invalid(`${path}.${key}`, 'must be a string');
  return v;
}

export function firstStr(cfg: Cfg, keys: readonly string[], path: string): string | null {
  for (const k of keys) {
    const v = str(cfg, k, path);
    if (v !== null) return v;
  }
  return null;
}

export function num(cfg: Cfg, key: string, dflt: number, min: number, max: number, path: string): number {
  const v = cfg[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalid(`${path}.${key}`, `must be a number in ${min}..${max}`);
  return v;
}

export function bool(cfg: Cfg, key: string, dflt: boolean, path: string): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw invalid(`${path}.${key}`, 'must be true or false');
  return v;
}

export function oneOf<T extends string>(cfg: Cfg, key: string, allowed: readonly T[], dflt: T, path: string): T {
  const v = cfg[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalid(`${path}.${key}`, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

export function wsUrl(cfg: Cfg, dflt: string, path: string): string {
  const url = str(cfg, 'url', path) ?? dflt;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(`${path}.url`, `not a URL: ${JSON.stringify(url)}`);
  }
  if (u.protocol !== 'wss:' && u.protocol !== 'ws:') throw invalid(`${path}.url`, 'must be a ws:// or wss:// URL');
  return url;
}

/** Credentials for the v3 handshake: an api key, or an app id with an access token. */
export function credentials(cfg: Cfg, defaultResource: string, path: string): V3Credentials {
  const apiKey = str(cfg, 'api_key', path);
  const appId = firstStr(cfg, ['appid', 'app_id', 'app_key'], path);
  const accessKey = firstStr(cfg, ['access_token', 'access_key'], path);
  if (!apiKey && !(appId && accessKey)) throw invalid(path, 'needs api_key, or appid and access_token');
  return { apiKey, appId, accessKey, resourceId: str(cfg, 'resource_id', path) ?? defaultResource };
}
