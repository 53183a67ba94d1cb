// The LMDB store: the shared conformance suite on real files, then what only a store on disk
// has to get right (directories, reopening, refusing a bad path).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../providers/store/index.js';
import { openLmdbStore } from '../../providers/store/lmdb/store.js';
import { conformance, collect, coded, FakeClock, T } from './conformance.js';

const root = mkdtempSync(join(tmpdir(), 'xz-store-lmdb-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(root, `s${++n}`);

conformance('lmdb', (clock) => openLmdbStore({ path: freshPath(), now: clock.now, sweepIntervalMs: 0 }));

test('lmdb: opening creates a missing directory, nested or with a dot in its name', T, async () => {
  for (const path of [join(root, 'deep', 'er', 'still'), join(root, 'data.d')]) {
    const store = await openStore({ type: 'lmdb', path });
    await store.ns('x').put('k', 1);
    await store.close();
    assert.ok(statSync(path).isDirectory(), path);
    assert.ok(existsSync(join(path, 'data.mdb')), `${path}/data.mdb`);
  }
});

test('lmdb: a store reopened after close reads back values, bytes and expiries', T, async () => {
  const path = freshPath();
  const clock = new FakeClock();
  const first = await openLmdbStore({ path, now: clock.now, sweepIntervalMs: 0 });
  const ns = first.ns('keep');
  await ns.put('obj', { name: '小智', n: [1, 2, 3] });
  await ns.putBytes('opus', Uint8Array.from([0xf8, 0xff, 0xfe, 0, 1]));
  await ns.put('soon', 'gone', { ttlMs: 1000 });
  await ns.update<number>('count', (c) => (c ?? 0) + 41);
  // Written but not awaited: close must still land them.
  void ns.put('late', 'landed');
  await first.close();

  const again = await openLmdbStore({ path, now: clock.now, sweepIntervalMs: 0 });
  const ns2 = again.ns('keep');
  assert.deepEqual(await ns2.get('obj'), { name: '小智', n: [1, 2, 3] });
  assert.deepEqual([...(await ns2.getBytes('opus'))!], [0xf8, 0xff, 0xfe, 0, 1]);
  assert.equal(await ns2.get('soon'), 'gone');
  assert.equal(await ns2.update<number>('count', (c) => (c ?? 0) + 1), 42);
  assert.equal(await ns2.get('late'), 'landed');
  clock.advance(1000);
  assert.equal(await ns2.get('soon'), undefined, 'the expiry survived the reopen');
  assert.equal(await again.sweep(), 1, 'and so did its index row');
  await again.close();
});

test('lmdb: a path that is a file fails with XZ_ERR_STORE_OPEN', T, async () => {
  const path = join(root, 'a-file');
  writeFileSync(path, 'not a database');
  await assert.rejects(openStore({ type: 'lmdb', path }), coded('XZ_ERR_STORE_OPEN'));
});

test('lmdb: the background sweep frees expired entries by itself', T, async () => {
  const clock = new FakeClock();
  const store = await openLmdbStore({ path: freshPath(), now: clock.now, sweepIntervalMs: 20 });
  try {
    const ns = store.ns('bg');
    await ns.put('a', 1, { ttlMs: 10 });
    clock.advance(11);
    // Gone from disk, not merely hidden by the read-time check: look at the raw database.
    const deadline = Date.now() + 5000;
    while (store.values.get(['bg', 'a']) !== undefined) {
      assert.ok(Date.now() < deadline, 'background sweep did not run');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(await collect(ns.range()), []);
  } finally {
    await store.close();
  }
});
