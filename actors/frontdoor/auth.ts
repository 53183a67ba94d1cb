/**
 * Who may open a session. `token` mode (the default) accepts a device that presents an HMAC token
 * issued by our OTA reply for its device id and client id, or whose id is on the allow-list;
 * `off` accepts anyone (development). Refusals carry the token check's code for the log; the
 * device only sees 401.
 */
import type { Identity } from './identity.js';
import { presentedToken } from './identity.js';
import { issueToken, verifyToken } from './token.js';
import { refuse, type Refusal } from './errors.js';

export interface AuthSettings {
  readonly mode: 'token' | 'off' | 'none';
  readonly allowDevices: readonly string[];
  readonly secret: string;
  readonly ttlSeconds: number;
}

export type AuthResult = { readonly ok: true; readonly via: 'off' | 'allow-list' | 'token' } | Refusal;

export class Authenticator {
  readonly #s: AuthSettings;
  readonly #allowed: ReadonlySet<string>;

  constructor(s: AuthSettings) {
    this.#s = s;
    this.#allowed = new Set(s.allowDevices.map((d) => d.trim().toLowerCase()));
  }

  get enabled(): boolean {
    return this.#s.mode === 'token';
  }

  check(id: Identity, nowMs: number): AuthResult {
    if (!this.enabled) return { ok: true, via: 'off' };
    if (this.#allowed.has(id.deviceId) || this.#allowed.has(id.deviceIdRaw.toLowerCase())) return { ok: true, via: 'allow-list' };
    const v = verifyToken(presentedToken(id.authorization), {
      secret: this.#s.secret,
      deviceId: id.deviceId,
      clientId: id.clientId,
      nowMs,
      ttlSeconds: this.#s.ttlSeconds,
    });
    return v.ok ? { ok: true, via: 'token' } : refuse(v.code, v.reason);
  }

  /** The token OTA hands out; "" when auth is off (the device then sends no Authorization). */
  issue(deviceId: string, clientId: string | undefined, nowMs: number): string {
    if (!this.enabled) return '';
    return issueToken({ secret: this.#s.secret, deviceId, clientId, nowMs });
  }
}
