/**
 * The device registry over the store contract: what the server knows of each device (from its
 * OTA checks), whether a person has bound it, and the 6-digit activation codes that do the
 * binding (protocol.md §2.3, §2.5).
 *
 * Activation, as the device sees it: while unbound, every OTA reply carries `activation` with a
 * code and a challenge; the device shows and speaks the code, polls /activate (202 until bound)
 * and re-runs OTA. A person types the code into the operations API (`bind`); from then on OTA
 * stops sending `activation` and /activate answers 200.
 *
 * Namespaces:
 *   devices             deviceId → DeviceRecord
 *   activation.codes    code → CodeRecord; kept `codeRetentionMs` past expiry, so a late `bind`
 *                       hears "expired" rather than "unknown", and so the code is not handed to
 *                       another device while a person may still be typing it
 *   activation.offers   deviceId → the device's pending offer, so repeated polls get one code
 *
 * Every read-modify-write is a single-key `update`, the only atomic step a networked store is
 * asked for; a code is unique because it is claimed by compare-and-set on its own key.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { XzError } from '../../runtime/errors.js';
import { ST } from './errors.js';
import { UNCHANGED, type Namespace, type Store } from './contract.js';
import { getOrCreateSecret } from './secret.js';

export interface DeviceRecord {
  deviceId: string;
  clientId?: string;
  boardType?: string;
  firmwareVersion?: string;
  macAddress?: string;
  language?: string;
  /** A name the person gave the device when binding it. */
  label?: string;
  /** Epoch ms of the bind; absent while unbound. */
  boundAt?: number;
  firstSeen: number;
  lastSeen: number;
}

/** What an OTA check tells about a device; undefined fields leave the record as it was. */
export interface DeviceInfo {
  clientId?: string | undefined;
  boardType?: string | undefined;
  firmwareVersion?: string | undefined;
  macAddress?: string | undefined;
  language?: string | undefined;
}

export interface ActivationOffer {
  /** Six digits, unique among pending codes. */
  readonly code: string;
  /** Sent to the device, which echoes it (and an HMAC over it, on Activation-Version 2) to /activate. */
  readonly challenge: string;
  /** Epoch ms; after it the next OTA check gets a new code. */
  readonly expiresAt: number;
}

export interface DeviceRegistryOptions {
  /** How long a code stays valid. Default 15 minutes. */
  readonly codeTtlMs?: number;
  /** How long an expired code is remembered (and kept from other devices). Default 1 hour. */
  readonly codeRetentionMs?: number;
  /** Wall-clock ms; tests inject a controllable one. */
  readonly now?: () => number;
  /** Candidate codes (six digits); tests narrow it to force collisions. Default: uniform random. */
  readonly nextCode?: () => string;
}

interface CodeRecord {
  deviceId: string;
  clientId?: string;
  challenge: string;
  expiresAt: number;
}

interface OfferRecord {
  code: string;
  challenge: string;
  expiresAt: number;
}

const INFO_FIELDS = ['clientId', 'boardType', 'firmwareVersion', 'macAddress', 'language'] as const;
const CODE_PATTERN = /^\d{6}$/;
// With a million codes, needing this many draws means nearly all are pending at once.
const MAX_CODE_DRAWS = 64;

function randomCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

export class DeviceRegistry {
  readonly #store: Store;
  readonly #devices: Namespace;
  readonly #codes: Namespace;
  readonly #offers: Namespace;
  readonly #now: () => number;
  readonly #nextCode: () => string;
  readonly #codeTtlMs: number;
  readonly #retentionMs: number;

  constructor(store: Store, opts: DeviceRegistryOptions = {}) {
    this.#store = store;
    this.#devices = store.ns('devices');
    this.#codes = store.ns('activation.codes');
    this.#offers = store.ns('activation.offers');
    this.#now = opts.now ?? Date.now;
    this.#nextCode = opts.nextCode ?? randomCode;
    this.#codeTtlMs = positive(opts.codeTtlMs ?? 15 * 60_000, 'codeTtlMs');
    this.#retentionMs = positive(opts.codeRetentionMs ?? 60 * 60_000, 'codeRetentionMs');
  }

  get(deviceId: string): Promise<DeviceRecord | undefined> {
    return this.#devices.get<DeviceRecord>(deviceId);
  }

  /** Records an OTA check: creates the record on first sight, refreshes `lastSeen` and the info. */
  async touch(deviceId: string, info: DeviceInfo = {}): Promise<DeviceRecord> {
    const now = this.#now();
    const patch: Partial<DeviceRecord> = {};
    // Only known fields, so a caller passing a whole request cannot overwrite the binding.
    for (const f of INFO_FIELDS) {
      const v = info[f];
      if (typeof v === 'string' && v !== '') patch[f] = v;
    }
    const rec = await this.#devices.update<DeviceRecord>(deviceId, (cur) => ({
      ...cur,
      ...patch,
      deviceId,
      firstSeen: cur?.firstSeen ?? now,
      lastSeen: now,
    }));
    return rec!;
  }

  async isBound(deviceId: string): Promise<boolean> {
    const rec = await this.#devices.get<DeviceRecord>(deviceId);
    return typeof rec?.boundAt === 'number';
  }

  /**
   * The code an unbound device should show. The same code comes back on every poll until it
   * expires; then a new one. Whether to offer at all (the device may be bound) is the caller's call.
   */
  async offerActivation(deviceId: string, clientId?: string): Promise<ActivationOffer> {
    const now = this.#now();
    const existing = await this.#offers.get<OfferRecord>(deviceId);
    if (existing && existing.expiresAt > now) {
      const claim = await this.#codes.get<CodeRecord>(existing.code);
      if (claim?.challenge === existing.challenge && claim.deviceId === deviceId) return offerOf(existing);
    }

    const expiresAt = now + this.#codeTtlMs;
    const challenge = randomBytes(16).toString('hex');
    const claim: CodeRecord = { deviceId, challenge, expiresAt, ...(clientId ? { clientId } : {}) };
    const code = await this.#claimCode(claim, now);
    const mine: OfferRecord = { code, challenge, expiresAt };

    // A concurrent poll of the same device may have placed its own offer meanwhile: the first
    // one stored wins, so the device never sees two codes.
    const stale = existing?.challenge;
    const stored = await this.#offers.update<OfferRecord>(
      deviceId,
      (cur) => (cur && cur.expiresAt > now && cur.challenge !== stale ? UNCHANGED : mine),
      { ttlMs: this.#codeTtlMs },
    );
    if (stored!.challenge !== challenge) {
      await this.#codes.update<CodeRecord>(code, (cur) => (cur?.challenge === challenge ? undefined : UNCHANGED));
    }
    return offerOf(stored!);
  }

  /**
   * Binds the device waiting with `code`. Fails with XZ_ERR_ACTIVATION_UNKNOWN_CODE or
   * XZ_ERR_ACTIVATION_EXPIRED. A code binds once; it is consumed atomically, so two people
   * typing the same code cannot both succeed.
   */
  async bind(code: string, opts: { label?: string | undefined } = {}): Promise<DeviceRecord> {
    const now = this.#now();
    if (typeof code !== 'string' || !CODE_PATTERN.test(code)) {
      throw new XzError(ST.XZ_ERR_ACTIVATION_UNKNOWN_CODE, 'activation codes are six digits', { details: { code: String(code) } });
    }
    let claimed = undefined as CodeRecord | undefined;
    let expired = false;
    await this.#codes.update<CodeRecord>(code, (cur) => {
      claimed = undefined;
      expired = cur !== undefined && cur.expiresAt <= now;
      if (!cur || expired) return UNCHANGED;
      claimed = cur;
      return undefined;
    });
    if (!claimed) {
      throw new XzError(expired ? ST.XZ_ERR_ACTIVATION_EXPIRED : ST.XZ_ERR_ACTIVATION_UNKNOWN_CODE, undefined, { details: { code } });
    }
    const { deviceId, clientId, challenge } = claimed;
    const label = typeof opts.label === 'string' && opts.label !== '' ? opts.label : undefined;
    const rec = await this.#devices.update<DeviceRecord>(deviceId, (cur) => {
      const next: DeviceRecord = { ...(cur ?? { deviceId, firstSeen: now, lastSeen: now }), boundAt: now };
      if (!next.clientId && clientId) next.clientId = clientId;
      if (label !== undefined) next.label = label;
      return next;
    });
    await this.#offers.update<OfferRecord>(deviceId, (cur) => (cur?.challenge === challenge ? undefined : UNCHANGED));
    return rec!;
  }

  /** Makes the device unbound again (its next OTA check offers a code). Resolves to whether it was bound. */
  async unbind(deviceId: string): Promise<boolean> {
    let was = false;
    await this.#devices.update<DeviceRecord>(deviceId, (cur) => {
      was = typeof cur?.boundAt === 'number';
      if (!cur || !was) return UNCHANGED;
      const next = { ...cur };
      delete next.boundAt;
      delete next.label;
      return next;
    });
    return was;
  }

  /** Known devices in device-id order; `bound` filters by binding state. */
  async list(opts: { bound?: boolean | undefined; limit?: number | undefined } = {}): Promise<DeviceRecord[]> {
    const out: DeviceRecord[] = [];
    const limit = opts.limit ?? Infinity;
    if (limit <= 0) return out;
    for await (const { value } of this.#devices.range<DeviceRecord>()) {
      if (opts.bound !== undefined && (typeof value.boundAt === 'number') !== opts.bound) continue;
      out.push(value);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** The server's token secret: made at first start, the same on every later one. */
  getOrCreateSecret(): Promise<string> {
    return getOrCreateSecret(this.#store, this.#now);
  }

  async #claimCode(claim: CodeRecord, now: number): Promise<string> {
    for (let i = 0; i < MAX_CODE_DRAWS; i++) {
      const code = this.#nextCode();
      if (!CODE_PATTERN.test(code)) throw new XzError(ST.XZ_ERR_STORE_BAD_VALUE, `activation code source gave ${JSON.stringify(code)}`);
      let won = false;
      // A remembered code (pending, or expired within the retention) is taken; the record's TTL
      // frees it when the retention ends.
      await this.#codes.update<CodeRecord>(
        code,
        (cur) => {
          won = cur === undefined;
          return won ? claim : UNCHANGED;
        },
        { ttlMs: claim.expiresAt - now + this.#retentionMs },
      );
      if (won) return code;
    }
    throw new XzError(ST.XZ_ERR_ACTIVATION_NO_FREE_CODE, undefined, { details: { draws: MAX_CODE_DRAWS } });
  }
}

function offerOf(o: OfferRecord): ActivationOffer {
  return { code: o.code, challenge: o.challenge, expiresAt: o.expiresAt };
}

function positive(v: number, name: string): number {
  if (!Number.isFinite(v) || v <= 0) throw new XzError(ST.XZ_ERR_STORE_BAD_VALUE, `${name} must be a positive number of milliseconds`);
  return v;
}
