// openStore picks the implementation by config `store.type`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorSpec, XzError } from '../../runtime/errors.js';
import { openStore, storeTypes, ST } from '../../providers/store/index.js';
import { coded, FakeClock, T } from './conformance.js';

test('store types: lmdb and memory are known; anything else is XZ_ERR_STORE_UNKNOWN_TYPE listing them', T, async () => {
  assert.deepEqual([...storeTypes].sort(), ['lmdb', 'memory']);
  await assert.rejects(openStore({ type: 'redis' }), (e) => {
    coded('XZ_ERR_STORE_UNKNOWN_TYPE')(e);
    assert.ok(e instanceof XzError);
    assert.deepEqual(e.details, { type: 'redis', known: ['lmdb', 'memory'] });
    assert.match(e.message, /lmdb, memory/);
    return true;
  });
  // Not fooled by names every object has.
  await assert.rejects(openStore({ type: 'toString' }), coded('XZ_ERR_STORE_UNKNOWN_TYPE'));
  await assert.rejects(openStore({ type: 'memory', sweep_interval_ms: -5 }), coded('XZ_ERR_STORE_BAD_VALUE'));
});

test('store types: openStore builds each with the injected clock', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xz-store-factory-'));
  try {
    for (const cfg of [{ type: 'memory' }, { type: 'lmdb', path: join(dir, 'db') }]) {
      const clock = new FakeClock();
      const store = await openStore(cfg, { now: clock.now });
      assert.equal(store.type, cfg.type);
      assert.equal(store.capabilities.persistent, cfg.type === 'lmdb');
      await store.ns('n').put('k', 1, { ttlMs: 10 });
      assert.equal(await store.ns('n').get('k'), 1);
      clock.advance(10);
      assert.equal(await store.ns('n').get('k'), undefined);
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store error codes carry category and retryable', T, () => {
  for (const code of Object.values(ST)) {
    const spec = errorSpec(code);
    assert.ok(spec, code);
    assert.equal(typeof spec.retryable, 'boolean');
  }
  assert.equal(errorSpec(ST.XZ_ERR_STORE_IO)?.retryable, true);
  assert.equal(errorSpec(ST.XZ_ERR_ACTIVATION_EXPIRED)?.category, 'invalid-request');
});
