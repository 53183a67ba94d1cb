/**
 * Checks shared by every store implementation, so a key that works on one store works on all:
 * LMDB caps keys near 2 KB and cannot hold NUL in string keys; Redis keys are built as
 * `<ns>:<key>`, which the namespace pattern keeps unambiguous.
 */
import { XzError } from '../../runtime/errors.js';
import { ST } from './errors.js';
import type { PutOptions } from './contract.js';

const NS_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MAX_KEY_BYTES = 1024;

export function checkNamespace(name: string): void {
  if (typeof name !== 'string' || !NS_PATTERN.test(name)) {
    throw new XzError(ST.XZ_ERR_STORE_BAD_KEY, `namespace ${JSON.stringify(name)} must be 1-64 of [A-Za-z0-9._-]`);
  }
}

export function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '') throw new XzError(ST.XZ_ERR_STORE_BAD_KEY, 'key must be a non-empty string');
  checkKeyText(key, 'key');
}

export function checkPrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string') throw new XzError(ST.XZ_ERR_STORE_BAD_KEY, 'prefix must be a string');
  checkKeyText(prefix, 'prefix');
  return prefix;
}

function checkKeyText(text: string, what: string): void {
  if (text.includes('\0')) throw new XzError(ST.XZ_ERR_STORE_BAD_KEY, `${what} must not contain NUL`);
  if (Buffer.byteLength(text, 'utf8') > MAX_KEY_BYTES) {
    throw new XzError(ST.XZ_ERR_STORE_BAD_KEY, `${what} longer than ${MAX_KEY_BYTES} bytes`);
  }
}

export function checkValue(value: unknown): void {
  if (value === undefined) throw new XzError(ST.XZ_ERR_STORE_BAD_VALUE, 'value must not be undefined (use del)');
}

export function checkBytes(bytes: unknown): void {
  if (!(bytes instanceof Uint8Array)) throw new XzError(ST.XZ_ERR_STORE_BAD_VALUE, 'bytes must be a Uint8Array');
}

export function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return Infinity;
  if (typeof limit !== 'number' || !(limit >= 0)) throw new XzError(ST.XZ_ERR_STORE_BAD_VALUE, 'limit must be a number >= 0');
  return limit;
}

/** The absolute expiry for a write, or 0 for "never". */
export function expiryFor(opts: PutOptions | undefined, now: () => number): number {
  const ttl = opts?.ttlMs;
  if (ttl === undefined) return 0;
  if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0) {
    throw new XzError(ST.XZ_ERR_STORE_BAD_VALUE, 'ttlMs must be a positive finite number');
  }
  return now() + ttl;
}

/** 0 means the entry never expires. */
export function isLive(expiresAt: number, now: number): boolean {
  return expiresAt === 0 || expiresAt > now;
}

/** Key order as stores with byte-ordered keys (LMDB, Redis ZRANGEBYLEX) see it. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
