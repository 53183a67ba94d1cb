// The store contract's conformance suite: every implementation runs it unchanged (memory.test.ts,
// lmdb.test.ts; a future Redis store adds its own one-line caller). It pins what callers may rely
// on whichever store is configured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../runtime/errors.js';
import { UNCHANGED, type Store } from '../../providers/store/index.js';

export const T = { timeout: 20_000 };

/** A wall clock the test moves by hand, so expiry is tested without sleeping. */
export class FakeClock {
  t = 1_754_640_000_000;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export type MakeStore = (clock: FakeClock) => Promise<Store>;

export function coded(code: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(hasCode(e, code), `expected ${code}, got ${(e as { code?: string })?.code ?? String(e)}`);
    return true;
  };
}

export async function collect<V>(it: AsyncIterable<{ key: string; value: V }>): Promise<[string, V][]> {
  const out: [string, V][] = [];
  for await (const { key, value } of it) out.push([key, value]);
  return out;
}

async function withStore(make: MakeStore, fn: (store: Store, clock: FakeClock) => Promise<void>): Promise<void> {
  const clock = new FakeClock();
  const store = await make(clock);
  try {
    await fn(store, clock);
  } finally {
    await store.close();
  }
}

export function conformance(label: string, make: MakeStore): void {
  const it = (name: string, fn: (store: Store, clock: FakeClock) => Promise<void>) =>
    test(`${label}: ${name}`, T, () => withStore(make, fn));

  it('declares its capabilities and type', async (store) => {
    assert.equal(typeof store.type, 'string');
    for (const k of ['persistent', 'multiProcess', 'multiNode', 'nativeExpiry'] as const) {
      assert.equal(typeof store.capabilities[k], 'boolean', k);
    }
  });

  it('put, get, overwrite, del; absent reads as undefined', async (store) => {
    const ns = store.ns('things');
    assert.equal(await ns.get('a'), undefined);
    const v = { n: 1, s: 'ü文', list: [1, 'two', null, { deep: true }], none: null, f: 1.5, neg: -3 };
    await ns.put('a', v);
    assert.deepEqual(await ns.get('a'), v);
    await ns.put('a', 'now a string');
    assert.equal(await ns.get('a'), 'now a string');
    await ns.put('zero', 0);
    await ns.put('false', false);
    await ns.put('null', null);
    assert.equal(await ns.get('zero'), 0);
    assert.equal(await ns.get('false'), false);
    assert.equal(await ns.get('null'), null);
    await ns.del('a');
    assert.equal(await ns.get('a'), undefined);
    await ns.del('never-there'); // harmless
  });

  it('values come back as copies, never the caller’s object', async (store) => {
    const ns = store.ns('copies');
    const v = { list: [1, 2], inner: { x: 1 } };
    await ns.put('k', v);
    v.list.push(3);
    v.inner.x = 99;
    const got = await ns.get<typeof v>('k');
    assert.deepEqual(got, { list: [1, 2], inner: { x: 1 } });
    got!.list.push(4);
    assert.deepEqual(await ns.get('k'), { list: [1, 2], inner: { x: 1 } });
  });

  it('namespaces are isolated, even with prefix-like names', async (store) => {
    const a = store.ns('a');
    const ab = store.ns('ab');
    const aDot = store.ns('a.b');
    await a.put('k', 'in a');
    await ab.put('k', 'in ab');
    await aDot.put('x', 'in a.b');
    await ab.put('b-k', 'in ab too');
    assert.equal(await a.get('k'), 'in a');
    assert.equal(await ab.get('k'), 'in ab');
    assert.deepEqual(await collect(a.range()), [['k', 'in a']]);
    assert.deepEqual(await collect(a.range({ prefix: 'b' })), []);
    assert.deepEqual(await collect(ab.range()), [['b-k', 'in ab too'], ['k', 'in ab']]);
    assert.equal(store.ns('a'), store.ns('a'), 'one handle per namespace');
  });

  it('getMany answers in order with holes', async (store) => {
    const ns = store.ns('many');
    await ns.put('x', 1);
    await ns.put('z', 3);
    assert.deepEqual(await ns.getMany(['z', 'y', 'x', 'x']), [3, undefined, 1, 1]);
    assert.deepEqual(await ns.getMany([]), []);
  });

  it('range: key order, prefix, limit, early exit', async (store) => {
    const ns = store.ns('ranged');
    for (const k of ['k:03', 'k:01', 'l', 'j:1', 'k:02', 'k', 'k:10']) await ns.put(k, { k });
    const all = await collect(ns.range<{ k: string }>());
    assert.deepEqual(all.map(([k]) => k), ['j:1', 'k', 'k:01', 'k:02', 'k:03', 'k:10', 'l']);
    assert.deepEqual(all.map(([, v]) => v.k), ['j:1', 'k', 'k:01', 'k:02', 'k:03', 'k:10', 'l']);
    assert.deepEqual((await collect(ns.range({ prefix: 'k:' }))).map(([k]) => k), ['k:01', 'k:02', 'k:03', 'k:10']);
    assert.deepEqual((await collect(ns.range({ prefix: 'k:', limit: 2 }))).map(([k]) => k), ['k:01', 'k:02']);
    assert.deepEqual(await collect(ns.range({ limit: 0 })), []);
    assert.deepEqual(await collect(ns.range({ prefix: 'nope' })), []);
    assert.deepEqual(await collect(store.ns('empty').range()), []);
    // Leaving a loop early releases the cursor; the store keeps working.
    for await (const e of ns.range()) {
      assert.equal(e.key, 'j:1');
      break;
    }
    await ns.put('m', 1);
    assert.equal(await ns.get('m'), 1);
  });

  it('range keeps going while the namespace changes under it', async (store) => {
    const ns = store.ns('moving');
    for (let i = 0; i < 20; i++) await ns.put(`k${String(i).padStart(2, '0')}`, i);
    const seen: string[] = [];
    for await (const { key } of ns.range()) {
      seen.push(key);
      if (key === 'k05') {
        await ns.del('k06');
        await ns.put('k05', 'changed');
        await ns.put('k19', 'changed');
      }
    }
    // Like a cursor (or Redis SCAN): a key changed meanwhile may or may not show, never twice.
    const untouched = Array.from({ length: 20 }, (_, i) => `k${String(i).padStart(2, '0')}`).filter((k) => k !== 'k06');
    assert.deepEqual(seen.filter((k) => k !== 'k06'), untouched);
  });

  it('bytes: raw round trip, own key space, copies, views, range, del', async (store) => {
    const ns = store.ns('blobs');
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    await ns.putBytes('x', all);
    await ns.put('x', { a: 1 });
    const back = await ns.getBytes('x');
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual([...back!], [...all]);
    assert.deepEqual(await ns.get('x'), { a: 1 }, 'a value and a blob may share a key');
    back![0] = 42;
    assert.equal((await ns.getBytes('x'))![0], 0, 'returned bytes are a copy');
    all[1] = 42;
    assert.equal((await ns.getBytes('x'))![1], 1, 'stored bytes are a copy');

    const view = new Uint8Array(new Uint8Array([9, 9, 9, 1, 2, 3, 9]).buffer, 3, 3);
    await ns.putBytes('view', view);
    assert.deepEqual([...(await ns.getBytes('view'))!], [1, 2, 3]);
    await ns.putBytes('empty', new Uint8Array(0));
    assert.equal((await ns.getBytes('empty'))?.length, 0);

    const listed = await collect(ns.rangeBytes());
    assert.deepEqual(listed.map(([k]) => k), ['empty', 'view', 'x']);
    assert.deepEqual([...listed[1]![1]], [1, 2, 3]);
    assert.deepEqual((await collect(ns.range())).map(([k]) => k), ['x'], 'range lists values only');

    await ns.delBytes('x');
    assert.equal(await ns.getBytes('x'), undefined);
    assert.deepEqual(await ns.get('x'), { a: 1 });
    await ns.del('view');
    assert.deepEqual([...(await ns.getBytes('view'))!], [1, 2, 3], 'del leaves blobs alone');
  });

  it('ttl: an expired entry reads as absent everywhere at once', async (store, clock) => {
    const ns = store.ns('ttl');
    await ns.put('short', 's', { ttlMs: 1000 });
    await ns.put('long', 'l', { ttlMs: 10_000 });
    await ns.put('forever', 'f');
    await ns.putBytes('blob', new Uint8Array([1]), { ttlMs: 1000 });
    clock.advance(999);
    assert.equal(await ns.get('short'), 's');
    assert.deepEqual([...(await ns.getBytes('blob'))!], [1]);
    clock.advance(1);
    assert.equal(await ns.get('short'), undefined);
    assert.equal(await ns.getBytes('blob'), undefined);
    assert.deepEqual(await ns.getMany(['short', 'long', 'forever']), [undefined, 'l', 'f']);
    assert.deepEqual((await collect(ns.range())).map(([k]) => k), ['forever', 'long']);
    assert.deepEqual(await collect(ns.rangeBytes()), []);
    assert.equal(await ns.update<string>('short', (cur) => (cur === undefined ? 'fresh' : `${cur}!`)), 'fresh');
    clock.advance(1_000_000);
    assert.equal(await ns.get('short'), 'fresh', 'the update wrote without ttl');
    assert.equal(await ns.get('long'), undefined);
  });

  it('ttl: sweep frees due entries and spares re-written ones', async (store, clock) => {
    const ns = store.ns('sweep');
    const other = store.ns('sweep2');
    await ns.put('a', 1, { ttlMs: 1000 });
    await ns.put('b', 2, { ttlMs: 1000 });
    await ns.put('b', 2); // no ttl now: must survive
    await ns.put('c', 3, { ttlMs: 1000 });
    await ns.put('c', 3, { ttlMs: 5000 }); // pushed out: must survive the first sweep
    await ns.putBytes('d', new Uint8Array([4]), { ttlMs: 1000 });
    await other.put('e', 5, { ttlMs: 1000 });
    assert.equal(await store.sweep(), 0, 'nothing due yet');
    clock.advance(1500);
    assert.equal(await store.sweep(), 3); // a, d, e
    assert.equal(await store.sweep(), 0);
    assert.equal(await ns.get('b'), 2);
    assert.equal(await ns.get('c'), 3);
    clock.advance(5000);
    assert.equal(await store.sweep(), 1); // c
    assert.deepEqual((await collect(ns.range())).map(([k]) => k), ['b']);
  });

  it('ttl: a sweep over many due entries frees them all', async (store, clock) => {
    const ns = store.ns('bulk');
    await Promise.all(Array.from({ length: 1200 }, (_, i) => ns.put(`k${i}`, i, { ttlMs: 100 + (i % 7) })));
    await ns.put('keep', true);
    clock.advance(1000);
    assert.equal(await store.sweep(), 1200);
    assert.deepEqual(await collect(ns.range()), [['keep', true]]);
  });

  it('update: create, modify, delete, unchanged, throw', async (store, clock) => {
    const ns = store.ns('upd');
    assert.equal(await ns.update<number>('n', (cur) => (cur ?? 0) + 1), 1);
    assert.equal(await ns.update<number>('n', (cur) => (cur ?? 0) + 1), 2);
    assert.equal(await ns.get('n'), 2);

    // In-place mutation of the current value is an ordinary write.
    await ns.put('obj', { hits: 1 });
    await ns.update<{ hits: number }>('obj', (cur) => {
      cur!.hits++;
      return cur;
    });
    assert.deepEqual(await ns.get('obj'), { hits: 2 });

    await ns.put('t', 'kept', { ttlMs: 1000 });
    assert.equal(await ns.update('t', () => UNCHANGED), 'kept');
    assert.equal(await ns.update('missing', () => UNCHANGED), undefined);
    assert.equal(await ns.get('missing'), undefined);
    clock.advance(1000);
    assert.equal(await ns.get('t'), undefined, 'UNCHANGED kept the old expiry');

    assert.equal(await ns.update('n', () => undefined), undefined);
    assert.equal(await ns.get('n'), undefined);

    const boom = new Error('boom');
    await assert.rejects(
      ns.update('obj', () => {
        throw boom;
      }),
      (e) => e === boom,
    );
    assert.deepEqual(await ns.get('obj'), { hits: 2 });

    assert.equal(await ns.update('ttl', () => 'x', { ttlMs: 500 }), 'x');
    clock.advance(499);
    assert.equal(await ns.get('ttl'), 'x');
    clock.advance(1);
    assert.equal(await ns.get('ttl'), undefined);
  });

  it('update is atomic under 200 concurrent increments', async (store) => {
    const ns = store.ns('counter');
    const results = await Promise.all(Array.from({ length: 200 }, () => ns.update<number>('n', (cur) => (cur ?? 0) + 1)));
    assert.equal(await ns.get('n'), 200);
    assert.deepEqual([...results].sort((x, y) => x! - y!), Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('update is atomic against interleaved puts and updates of other keys', async (store) => {
    const ns = store.ns('mixed');
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      ops.push(ns.update<number[]>('list', (cur) => [...(cur ?? []), i]));
      ops.push(ns.put(`side${i}`, i));
      ops.push(ns.update<number>('other', (cur) => (cur ?? 0) + 2));
    }
    await Promise.all(ops);
    assert.deepEqual(await ns.get('list'), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(await ns.get('other'), 200);
  });

  it('bad keys, namespaces, values and options are coded errors', async (store) => {
    const ns = store.ns('checks');
    for (const name of ['', 'has space', 'a/b', '-lead', 'x'.repeat(65)]) {
      assert.throws(() => store.ns(name), coded('XZ_ERR_STORE_BAD_KEY'), name);
    }
    for (const key of ['', 'nul\0inside', 'k'.repeat(1025)]) {
      await assert.rejects(ns.get(key), coded('XZ_ERR_STORE_BAD_KEY'));
      await assert.rejects(ns.put(key, 1), coded('XZ_ERR_STORE_BAD_KEY'));
      await assert.rejects(ns.putBytes(key, new Uint8Array(1)), coded('XZ_ERR_STORE_BAD_KEY'));
      await assert.rejects(ns.update(key, () => 1), coded('XZ_ERR_STORE_BAD_KEY'));
    }
    await assert.rejects(ns.getMany(['ok', '']), coded('XZ_ERR_STORE_BAD_KEY'));
    await assert.rejects(collect(ns.range({ prefix: 'a\0' })), coded('XZ_ERR_STORE_BAD_KEY'));
    await assert.rejects(ns.put('k', undefined), coded('XZ_ERR_STORE_BAD_VALUE'));
    await assert.rejects(ns.putBytes('k', 'text' as unknown as Uint8Array), coded('XZ_ERR_STORE_BAD_VALUE'));
    for (const ttlMs of [0, -1, NaN, Infinity]) {
      await assert.rejects(ns.put('k', 1, { ttlMs }), coded('XZ_ERR_STORE_BAD_VALUE'));
    }
    await assert.rejects(collect(ns.range({ limit: -1 })), coded('XZ_ERR_STORE_BAD_VALUE'));
    assert.equal(await ns.get('k'), undefined, 'nothing was written by a refused call');
    await ns.put('k'.repeat(1024), 'longest key');
    assert.equal(await ns.get('k'.repeat(1024)), 'longest key');
  });

  test(`${label}: close waits for writes in flight; later calls fail with XZ_ERR_STORE_CLOSED`, T, async () => {
    const store = await make(new FakeClock());
    const ns = store.ns('closing');
    const writes = Array.from({ length: 50 }, (_, i) => ns.put(`k${i}`, i));
    await store.close();
    await Promise.all(writes); // all acknowledged, none lost to the close
    await store.close(); // twice is harmless
    await assert.rejects(ns.get('k1'), coded('XZ_ERR_STORE_CLOSED'));
    await assert.rejects(ns.put('k1', 1), coded('XZ_ERR_STORE_CLOSED'));
    await assert.rejects(ns.update('k1', () => 1), coded('XZ_ERR_STORE_CLOSED'));
    await assert.rejects(collect(ns.range()), coded('XZ_ERR_STORE_CLOSED'));
    await assert.rejects(store.sweep(), coded('XZ_ERR_STORE_CLOSED'));
    assert.throws(() => store.ns('other'), coded('XZ_ERR_STORE_CLOSED'));
  });
}

