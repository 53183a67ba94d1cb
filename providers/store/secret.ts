/**
 * The server's own HMAC secret for device tokens when `auth.secret` is not configured: made once
 * at first start and kept in the store, so tokens handed out before a restart still verify after
 * it (and, on a shared store, on every node).
 */
import { randomBytes } from 'node:crypto';
import { UNCHANGED, type Store } from './contract.js';

interface SecretRecord {
  secret: string;
  createdAt: number;
}

const NAMESPACE = 'server';
const KEY = 'hmac-secret';

export async function getOrCreateSecret(store: Store, now: () => number = Date.now): Promise<string> {
  // update, not get-then-put: two nodes starting together on one store must agree on one secret.
  const rec = await store.ns(NAMESPACE).update<SecretRecord>(KEY, (cur) =>
    cur && typeof cur.secret === 'string' && cur.secret !== '' ? UNCHANGED : { secret: randomBytes(32).toString('base64url'), createdAt: now() },
  );
  return rec!.secret;
}
