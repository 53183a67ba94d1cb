// The device registry: OTA bookkeeping, activation codes and binding, the server secret — on the
// memory store and on LMDB, since it must behave the same over any store.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../providers/store/index.js';
import { DeviceRegistry, type DeviceRegistryOptions } from '../../providers/store/devices.js';
import { headersFrom } from '../../actors/frontdoor/identity.js';
import { buildOtaReply, parseOtaRequest } from '../../actors/frontdoor/ota.js';
import { CLIENT_UUID, DEVICE_MAC, OTA_BODY, OTA_HEADERS } from '../frontdoor/helpers.js';
import { coded, FakeClock, T } from './conformance.js';

const root = mkdtempSync(join(tmpdir(), 'xz-store-devices-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

const kinds = {
  memory: (clock: FakeClock) => openStore({ type: 'memory', sweep_interval_ms: 0 }, { now: clock.now }),
  lmdb: (clock: FakeClock) => openStore({ type: 'lmdb', path: join(root, `d${++n}`), sweep_interval_ms: 0 }, { now: clock.now }),
};

const TTL = 10 * 60_000;
const RETAIN = 60 * 60_000;

function each(name: string, fn: (reg: DeviceRegistry, clock: FakeClock, store: Store) => Promise<void>, opts: DeviceRegistryOptions = {}): void {
  for (const [kind, make] of Object.entries(kinds)) {
    test(`devices (${kind}): ${name}`, T, async () => {
      const clock = new FakeClock();
      const store = await make(clock);
      try {
        await fn(new DeviceRegistry(store, { now: clock.now, codeTtlMs: TTL, codeRetentionMs: RETAIN, ...opts }), clock, store);
      } finally {
        await store.close();
      }
    });
  }
}

/** What the OTA route does with the registry, down to the reply the device reads. */
async function otaCheck(reg: DeviceRegistry, now: number) {
  const parsed = parseOtaRequest(headersFrom(OTA_HEADERS), OTA_BODY);
  assert.ok(parsed.ok);
  const req = parsed.request;
  await reg.touch(req.deviceId, { clientId: req.clientId, boardType: req.boardType, firmwareVersion: req.appVersion });
  const bound = await reg.isBound(req.deviceId);
  const offer = bound ? undefined : await reg.offerActivation(req.deviceId, req.clientId);
  const built = buildOtaReply({
    request: req,
    nowMs: now,
    timezoneOffsetMinutes: 0,
    origin: { host: '192.168.1.10', peerAddress: '192.168.1.23' },
    originOptions: { tls: false },
    websocket: { publicUrl: null, port: 8765, path: '/xiaozhi/v1/', token: '', version: 1 },
    http: { publicUrl: null, port: 8080, downloadPath: '/xiaozhi/ota/download/' },
    bound,
    activation: offer ? { code: offer.code, challenge: offer.challenge, timeoutMs: offer.expiresAt - now } : undefined,
  });
  assert.ok(built.ok);
  return built.reply;
}

each('touch creates a record, then refreshes it without losing what it knew', async (reg, clock) => {
  const first = await reg.touch('aa:00:00:00:00:01', { clientId: 'c1', boardType: 'bread-compact-wifi', firmwareVersion: '1.6.0' });
  assert.deepEqual(first, {
    deviceId: 'aa:00:00:00:00:01',
    clientId: 'c1',
    boardType: 'bread-compact-wifi',
    firmwareVersion: '1.6.0',
    firstSeen: clock.t,
    lastSeen: clock.t,
  });
  const t0 = clock.t;
  clock.advance(5000);
  const hostile = { firmwareVersion: '2.4.2', boardType: undefined, boundAt: 1, label: 'x' } as unknown as Parameters<DeviceRegistry['touch']>[1];
  const second = await reg.touch('aa:00:00:00:00:01', hostile);
  assert.equal(second.firmwareVersion, '2.4.2');
  assert.equal(second.boardType, 'bread-compact-wifi', 'undefined leaves a field as it was');
  assert.equal(second.firstSeen, t0);
  assert.equal(second.lastSeen, t0 + 5000);
  assert.equal(second.boundAt, undefined, 'touch cannot bind');
  assert.deepEqual(await reg.get('aa:00:00:00:00:01'), second);
  assert.equal(await reg.get('aa:00:00:00:00:99'), undefined);
});

each('offer → same code on every poll → bind → bound → OTA drops activation', async (reg, clock) => {
  const before = await otaCheck(reg, clock.t);
  assert.ok(before.activation, 'an unbound device is offered a code');
  const { code, challenge } = before.activation;
  assert.match(code, /^\d{6}$/);
  assert.match(challenge, /^[0-9a-f]{32}$/);
  assert.equal(before.activation.timeout_ms, TTL);

  for (let i = 0; i < 5; i++) {
    clock.advance(3000); // the device re-polls every few seconds
    const again = await otaCheck(reg, clock.t);
    assert.equal(again.activation?.code, code);
    assert.equal(again.activation?.challenge, challenge);
  }
  assert.equal(await reg.isBound(DEVICE_MAC), false);

  const rec = await reg.bind(code, { label: 'kitchen' });
  assert.equal(rec.deviceId, DEVICE_MAC);
  assert.equal(rec.clientId, CLIENT_UUID);
  assert.equal(rec.label, 'kitchen');
  assert.equal(rec.boundAt, clock.t);
  assert.equal(rec.boardType, 'bread-compact-wifi');
  assert.equal(await reg.isBound(DEVICE_MAC), true);

  const afterBind = await otaCheck(reg, clock.t);
  assert.equal(afterBind.activation, undefined, 'a bound device gets no activation section');
  assert.ok(afterBind.websocket.url.startsWith('ws://'));
  await assert.rejects(reg.bind(code), coded('XZ_ERR_ACTIVATION_UNKNOWN_CODE'), 'a code binds once');
});

each('concurrent polls of one device agree on one code', async (reg) => {
  const offers = await Promise.all(Array.from({ length: 8 }, () => reg.offerActivation('aa:00:00:00:00:02', 'c')));
  assert.equal(new Set(offers.map((o) => `${o.code}/${o.challenge}`)).size, 1);
  const bound = await reg.bind(offers[0]!.code);
  assert.equal(bound.deviceId, 'aa:00:00:00:00:02');
});

each('an expired offer is replaced by a new code at the next poll; a clientId is optional', async (reg, clock) => {
  const first = await reg.offerActivation('aa:00:00:00:00:03', undefined);
  assert.equal(first.expiresAt, clock.t + TTL);
  clock.advance(TTL - 1);
  assert.equal((await reg.offerActivation('aa:00:00:00:00:03')).code, first.code);
  clock.advance(1);
  const second = await reg.offerActivation('aa:00:00:00:00:03');
  assert.notEqual(second.code, first.code, 'the old code is still remembered, so never reissued at once');
  assert.notEqual(second.challenge, first.challenge);
  await assert.rejects(reg.bind(first.code), coded('XZ_ERR_ACTIVATION_EXPIRED'));
  const rec = await reg.bind(second.code);
  assert.equal(rec.clientId, undefined);
  assert.equal(rec.firstSeen, clock.t, 'binding a device never touched still makes its record');
});

each('bind with a wrong, malformed, expired or forgotten code fails with a coded error', async (reg, clock) => {
  const offer = await reg.offerActivation('aa:00:00:00:00:04', 'c');
  const wrong = offer.code === '000000' ? '000001' : '000000';
  await assert.rejects(reg.bind(wrong), coded('XZ_ERR_ACTIVATION_UNKNOWN_CODE'));
  for (const bad of ['12345', '1234567', 'abcdef', '', ' 12345'] as const) {
    await assert.rejects(reg.bind(bad), coded('XZ_ERR_ACTIVATION_UNKNOWN_CODE'), bad);
  }
  await assert.rejects(reg.bind(42 as unknown as string), coded('XZ_ERR_ACTIVATION_UNKNOWN_CODE'));
  clock.advance(TTL);
  await assert.rejects(reg.bind(offer.code), coded('XZ_ERR_ACTIVATION_EXPIRED'));
  assert.equal(await reg.isBound('aa:00:00:00:00:04'), false);
  clock.advance(RETAIN);
  await assert.rejects(reg.bind(offer.code), coded('XZ_ERR_ACTIVATION_UNKNOWN_CODE'), 'forgotten after the retention');
});

each('two people binding one code at once: exactly one succeeds', async (reg) => {
  const offer = await reg.offerActivation('aa:00:00:00:00:05', 'c');
  const results = await Promise.allSettled([reg.bind(offer.code, { label: 'a' }), reg.bind(offer.code, { label: 'b' })]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
});

each('unbind makes the device ask again; list filters by binding', async (reg) => {
  for (const id of ['aa:00:00:00:00:07', 'aa:00:00:00:00:06', 'aa:00:00:00:00:08']) await reg.touch(id, {});
  await reg.bind((await reg.offerActivation('aa:00:00:00:00:07')).code, { label: 'desk' });
  await reg.bind((await reg.offerActivation('aa:00:00:00:00:08')).code);
  assert.deepEqual((await reg.list()).map((d) => d.deviceId), ['aa:00:00:00:00:06', 'aa:00:00:00:00:07', 'aa:00:00:00:00:08']);
  assert.deepEqual((await reg.list({ bound: true })).map((d) => d.deviceId), ['aa:00:00:00:00:07', 'aa:00:00:00:00:08']);
  assert.deepEqual((await reg.list({ bound: false })).map((d) => d.deviceId), ['aa:00:00:00:00:06']);
  assert.equal((await reg.list({ limit: 1 })).length, 1);

  assert.equal(await reg.unbind('aa:00:00:00:00:07'), true);
  assert.equal(await reg.unbind('aa:00:00:00:00:07'), false);
  assert.equal(await reg.unbind('aa:00:00:00:00:99'), false);
  const rec = await reg.get('aa:00:00:00:00:07');
  assert.equal(rec?.boundAt, undefined);
  assert.equal(rec?.label, undefined);
  assert.equal(await reg.isBound('aa:00:00:00:00:07'), false);
  const fresh = await reg.offerActivation('aa:00:00:00:00:07');
  assert.equal((await reg.bind(fresh.code)).deviceId, 'aa:00:00:00:00:07');
});

// Codes drawn from 700 values only, so 500 concurrent offers collide constantly and must resolve
// every collision through the claim.
let drawn = 0;
each(
  'codes stay unique across 500 pending devices, even when draws collide',
  async (reg) => {
    const ids = Array.from({ length: 500 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);
    const offers = await Promise.all(ids.map((id) => reg.offerActivation(id, `client-${id}`)));
    assert.equal(new Set(offers.map((o) => o.code)).size, 500);
    // Each code binds the device it was offered to, and only that one.
    const bound = await Promise.all(offers.map((o) => reg.bind(o.code)));
    bound.forEach((rec, i) => {
      assert.equal(rec.deviceId, ids[i]);
      assert.equal(rec.clientId, `client-${ids[i]}`);
    });
  },
  { nextCode: () => String(100_000 + (Math.imul(++drawn, 2654435761) >>> 0) % 700) },
);

each('codes from the default source are unique across 500 pending devices', async (reg) => {
  const offers = await Promise.all(Array.from({ length: 500 }, (_, i) => reg.offerActivation(`dev-${i}`)));
  assert.equal(new Set(offers.map((o) => o.code)).size, 500);
  for (const o of offers) assert.match(o.code, /^\d{6}$/);
});

each(
  'no free code left is XZ_ERR_ACTIVATION_NO_FREE_CODE (retryable)',
  async (reg) => {
    await reg.offerActivation('aa:00:00:00:00:0a');
    await assert.rejects(reg.offerActivation('aa:00:00:00:00:0b'), (e) => coded('XZ_ERR_ACTIVATION_NO_FREE_CODE')(e) && (e as { retryable: boolean }).retryable);
  },
  { nextCode: () => '123456' },
);

each('the server secret is made once: 32 random bytes, base64url', async (reg, _clock, store) => {
  const [a, b] = await Promise.all([reg.getOrCreateSecret(), new DeviceRegistry(store).getOrCreateSecret()]);
  assert.equal(a, b, 'two starters at once agree');
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(Buffer.from(a, 'base64url').length, 32);
  assert.equal(await reg.getOrCreateSecret(), a);
});

test('devices (lmdb): the secret and the bindings survive a reopen', T, async () => {
  const path = join(root, 'reopen');
  const clock = new FakeClock();
  const s1 = await openStore({ type: 'lmdb', path }, { now: clock.now });
  const r1 = new DeviceRegistry(s1, { now: clock.now });
  const secret = await r1.getOrCreateSecret();
  const pending = await r1.offerActivation('aa:00:00:00:00:0c', 'c');
  await r1.bind((await r1.offerActivation('aa:00:00:00:00:0d', 'c')).code, { label: 'hall' });
  await s1.close();

  const s2 = await openStore({ type: 'lmdb', path }, { now: clock.now });
  try {
    const r2 = new DeviceRegistry(s2, { now: clock.now });
    assert.equal(await r2.getOrCreateSecret(), secret);
    assert.equal(await r2.isBound('aa:00:00:00:00:0d'), true);
    assert.equal((await r2.get('aa:00:00:00:00:0d'))?.label, 'hall');
    assert.equal((await r2.offerActivation('aa:00:00:00:00:0c', 'c')).code, pending.code, 'a pending code survives too');
  } finally {
    await s2.close();
  }
});
