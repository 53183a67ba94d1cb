// Pins the spawner: round trips with streamed stdin, many runs on one connection, prompt abort,
// timeouts, coded failures, limits, a helper killed from outside and restarted transparently,
// and a worker thread talking to the helper without the main thread.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Spawner, connectSpawner, readAll, SP } from '../../runtime/spawner.js';
import { T, alive, childrenOf, inWorker, median, useSpawner } from '../speech/helpers.js';

const fx = useSpawner(after, before);
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

test('echo and cat round trips, with stdin as bytes, a stream, and write()/end()', T, async (t) => {
  const { client } = fx;
  const times: number[] = [];
  const spawns: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    const p = client.run('echo', ['hello', String(i)]);
    const { stdout, exit } = await readAll(p);
    times.push(performance.now() - t0);
    spawns.push((await p.started).spawnMs);
    assert.equal(text(stdout), `hello ${i}\n`);
    assert.deepEqual(exit, { code: 0, signal: null, stderr: '' });
  }
  t.diagnostic(`echo round trip median ${median(times).toFixed(2)} ms; fork+exec in the helper median ${median(spawns).toFixed(2)} ms`);

  const bytes = await readAll(client.run('cat', [], { stdin: Buffer.from('from bytes') }));
  assert.equal(text(bytes.stdout), 'from bytes');

  async function* gen(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < 50; i++) {
      yield Buffer.from(`line ${i}\n`);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
  }
  const streamed = await readAll(client.run('cat', [], { stdin: gen() }));
  assert.equal(text(streamed.stdout), Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join(''));

  // write()/end(): stdout comes back while stdin is still open
  const p = client.run('cat', [], { stdin: 'pipe' });
  const it = p.stdout[Symbol.asyncIterator]();
  p.write(Buffer.from('ping'));
  const first = await it.next();
  assert.equal(text(first.value!), 'ping');
  const big = new Uint8Array(1024 * 1024).map((_, i) => i & 0xff); // more than one frame
  p.write(big);
  p.end();
  const rest: Uint8Array[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
  assert.deepEqual(Buffer.concat(rest), Buffer.from(big));
  assert.equal((await p.exit).code, 0);
});

test('concurrent runs on one connection keep their own streams', T, async () => {
  const runs = Array.from({ length: 24 }, (_, i) => readAll(fx.client.run('sh', ['-c', `sleep 0.0${i % 5}; cat`], { stdin: Buffer.from(`run ${i}`.repeat(1000)) })));
  const results = await Promise.all(runs);
  results.forEach((r, i) => assert.equal(text(r.stdout), `run ${i}`.repeat(1000)));
});

test('abort kills the process within 50 ms', T, async (t) => {
  const ac = new AbortController();
  const p = fx.client.run('sleep', ['30'], { signal: ac.signal });
  const { pid } = await p.started;
  assert.ok(alive(pid));
  const t0 = performance.now();
  ac.abort();
  await assert.rejects(p.exit, { code: 'XZ_ERR_ABORTED' });
  const ms = performance.now() - t0;
  t.diagnostic(`abort → process gone: ${ms.toFixed(1)} ms`);
  assert.ok(ms < 50, `took ${ms} ms`);
  assert.equal(alive(pid), false);
  // a process that ignores SIGTERM is killed after the grace
  const stubborn = fx.client.run('sh', ['-c', 'trap "" TERM; echo up; while :; do sleep 0.05; done']);
  for await (const c of stubborn.stdout) if (text(c).includes('up')) break;
  const t1 = performance.now();
  stubborn.kill();
  await assert.rejects(stubborn.exit, { code: 'XZ_ERR_ABORTED' });
  assert.ok(performance.now() - t1 < 100 + 200, 'SIGKILL follows SIGTERM after the grace');
  // an already aborted signal never starts anything
  await assert.rejects(fx.client.run('sleep', ['30'], { signal: AbortSignal.abort() }).exit, { code: 'XZ_ERR_ABORTED' });
});

test('timeouts, nonzero exits, missing commands and the output cap fail with codes', T, async () => {
  const t0 = performance.now();
  await assert.rejects(fx.client.run('sleep', ['30'], { timeoutMs: 200 }).exit, { code: SP.XZ_ERR_SPAWN_TIMEOUT, category: 'timeout', retryable: true });
  const took = performance.now() - t0;
  assert.ok(took >= 190 && took < 1000, `timeout after ${took} ms`);

  const failing = fx.client.run('sh', ['-c', 'echo oops >&2; exit 3']);
  await assert.rejects(failing.exit, (e: { code: string; details: { code: number; stderr: string } }) => {
    assert.equal(e.code, SP.XZ_ERR_SPAWN_EXIT);
    assert.equal(e.details.code, 3);
    assert.equal(e.details.stderr, 'oops\n');
    return true;
  });
  // the stdout reader hears the failure too
  await assert.rejects(readAll(fx.client.run('sh', ['-c', 'echo partial; exit 1'])), { code: SP.XZ_ERR_SPAWN_EXIT });
  assert.deepEqual(await fx.client.run('sh', ['-c', 'exit 3'], { check: false }).exit, { code: 3, signal: null, stderr: '' });

  await assert.rejects(fx.client.run('no-such-command-xz', []).exit, { code: SP.XZ_ERR_SPAWN_FAILED });
  await assert.rejects(readAll(fx.client.run('head', ['-c', '100000', '/dev/zero'], { stdoutCapBytes: 1000 })), { code: SP.XZ_ERR_SPAWN_OUTPUT_CAP });
  // children see a small environment plus what the run adds, not the server's secrets
  process.env.XZ_TEST_SECRET = 'hush';
  const env = text((await readAll(fx.client.run('env', [], { env: { XZ_ADDED: '1' } }))).stdout);
  delete process.env.XZ_TEST_SECRET;
  assert.match(env, /^XZ_ADDED=1$/m);
  assert.doesNotMatch(env, /XZ_TEST_SECRET/);
});

test('limits: processes beyond maxProcs wait, beyond maxQueued fail as busy', T, async (t) => {
  const sp = await Spawner.start({ maxProcs: 2, maxQueued: 2 });
  const c = await connectSpawner(sp.address);
  t.after(async () => {
    c.close();
    await sp.close();
  });
  const t0 = performance.now();
  const runs = Array.from({ length: 4 }, () => c.run('sleep', ['0.2']).exit);
  const busy = c.run('sleep', ['0.2']).exit;
  await assert.rejects(busy, { code: SP.XZ_ERR_SPAWN_BUSY, retryable: true });
  await Promise.all(runs);
  const ms = performance.now() - t0;
  assert.ok(ms >= 390, `4 runs of 200 ms, 2 at a time, took ${ms} ms`);
});

test('a helper killed from outside is restarted; in-flight runs fail retryably, the next run works', T, async (t) => {
  const logs: string[] = [];
  const sp = await Spawner.start({ log: (m) => logs.push(m) });
  const c = await connectSpawner(sp.address);
  t.after(async () => {
    c.close();
    await sp.close();
  });
  const first = sp.pid!;
  const inflight = c.run('sleep', ['30']);
  const { pid: orphan } = await inflight.started;
  process.kill(first, 'SIGKILL');
  await assert.rejects(inflight.exit, { code: SP.XZ_ERR_SPAWNER_DOWN, retryable: true });
  // its child went with it (the server kills the helper's process group)
  for (let i = 0; i < 50 && alive(orphan); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(orphan), false, 'the dead helper left no children behind');
  const t0 = performance.now();
  const { stdout } = await readAll(c.run('echo', ['again']));
  t.diagnostic(`first run after the helper died: ${(performance.now() - t0).toFixed(0)} ms (includes the restart)`);
  assert.equal(text(stdout), 'again\n');
  assert.equal(sp.restarts, 1);
  assert.notEqual(sp.pid, first);
  assert.ok(logs.some((l) => l.includes('died')));
});

test('closing a client kills its processes; closing the spawner removes its socket', T, async () => {
  const sp = await Spawner.start();
  const c = await connectSpawner(sp.address);
  const p = c.run('sleep', ['30']);
  const { pid } = await p.started;
  c.close();
  await assert.rejects(p.exit, { code: SP.XZ_ERR_SPAWNER_CLOSED });
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(alive(pid), false);
  await assert.rejects(c.run('echo', []).exit, { code: SP.XZ_ERR_SPAWNER_CLOSED });
  const helper = sp.pid!;
  await sp.close();
  assert.equal(existsSync(dirname(sp.address)), false);
  assert.equal(alive(helper), false);
  await assert.rejects(connectSpawner(sp.address, { reconnectMs: 100 }), { code: SP.XZ_ERR_SPAWNER_DOWN });
});

test('a worker thread runs processes through the helper while the main thread is blocked', T, async () => {
  const started = performance.timeOrigin + performance.now();
  const done = inWorker<{ out: string; at: number }>(
    `
    const { connectSpawner, readAll } = await load('runtime/spawner.ts');
    const c = await connectSpawner(workerData.address);
    async function* input() { for (let i = 0; i < 5; i++) yield Buffer.from('chunk ' + i + ';'); }
    const { stdout } = await readAll(c.run('cat', [], { stdin: input() }));
    const at = performance.timeOrigin + performance.now();
    c.close();
    return { out: stdout.toString(), at };
    `,
    { address: fx.spawner.address },
  );
  // Block the main thread for a while: the worker's run must not need it.
  const until = performance.now() + 1500;
  while (performance.now() < until) {
    /* spin */
  }
  const blockedUntil = performance.timeOrigin + performance.now();
  const r = await done;
  assert.equal(r.out, 'chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;');
  assert.ok(r.at < blockedUntil, `finished ${(r.at - started).toFixed(0)} ms after start, while the main thread was blocked`);
  assert.ok(childrenOf(fx.spawner.pid!).every((c) => c.comm !== 'cat'));
});
