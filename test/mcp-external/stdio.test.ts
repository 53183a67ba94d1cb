// External MCP over stdio: a real spawner starts the fixture server (test/fixtures/mcp), our
// transport speaks newline-delimited JSON-RPC to it through the spawner's pipes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pidAlive, fixtureStdio, rig, waitFor, type Rig } from './helpers.js';

describe('external MCP over stdio', { timeout: 60_000 }, () => {
  let r: Rig;
  before(async () => {
    r = await rig({
      local: fixtureStdio({ env: { XZ_FIXTURE_SECRET: 'from-config', XZ_FIXTURE_NOISE: '1' }, timeout_ms: 5000, restart: { backoff_ms: 50, max: 5 } }),
    });
    await r.mcp.start({ waitMs: 15_000 });
  });
  after(async () => r.close());

  test('lists the tools under vendor-safe, prefixed names and calls them', async () => {
    const snap = r.mcp.snapshot()[0]!;
    assert.equal(snap.state, 'ready', JSON.stringify(snap));
    assert.equal(snap.transport, 'stdio');
    assert.ok(snap.pid && pidAlive(snap.pid));
    const names = r.mcp.tools().map((t) => t.llmName);
    for (const n of ['local__echo', 'local__add', 'local__crash', 'local__self_audio_volume']) assert.ok(names.includes(n), `${n} in ${names}`);
    for (const n of names) assert.match(n, /^[a-zA-Z0-9_-]{1,64}$/);
    const echo = r.mcp.tools().find((t) => t.llmName === 'local__echo')!;
    assert.equal(echo.definition.description, 'Echoes the text');
    assert.equal((echo.definition.parameters as { type: string }).type, 'object');

    assert.deepEqual(await r.mcp.call('local__echo', { text: 'hi' }), { text: 'echo: hi', isError: false });
    assert.deepEqual(await r.mcp.call('local__add', { a: 2, b: 40 }), { text: '42', isError: false });
    // The dotted name maps back to the server's own.
    assert.deepEqual(await r.mcp.call('local__self_audio_volume', {}), { text: 'volume 50', isError: false });
    // The server's stray stdout line was skipped (and logged at debug), not fatal.
    assert.ok(r.lines.some((l) => l['msg'] === 'external MCP transport error' && l['server'] === 'local'));
  });

  test('the server gets the configured env, not the server process environment', async () => {
    assert.equal((await r.mcp.call('local__env', { name: 'XZ_FIXTURE_SECRET' })).text, 'from-config');
    process.env['XZ_LEAK_CHECK'] = 'leaked';
    assert.equal((await r.mcp.call('local__env', { name: 'XZ_LEAK_CHECK' })).text, '(unset)');
  });

  test('non-text content is summarized; tool errors stay tool errors (no code)', async () => {
    const pic = await r.mcp.call('local__picture', {});
    assert.equal(pic.isError, false);
    assert.match(pic.text, /^\[image: image\/png, 2 KB\]\na grey square$/);
    assert.deepEqual(await r.mcp.call('local__fail', {}), { text: 'it broke', isError: true });
    const bad = await r.mcp.call('local__add', { a: 'x' });
    assert.equal(bad.isError, true);
    const unknown = await r.mcp.call('nobody__nothing', {});
    assert.equal(unknown.code, 'XZ_ERR_MCP_UNKNOWN_TOOL');
  });

  test('a hung call times out with a coded result and the server keeps serving', async () => {
    const t0 = Date.now();
    const res = await r.mcp.call('local__hang', {}, { timeoutMs: 300 });
    assert.equal(res.isError, true);
    assert.equal(res.code, 'XZ_ERR_MCP_TIMEOUT');
    assert.ok(Date.now() - t0 < 2000);
    assert.equal((await r.mcp.call('local__echo', { text: 'still here' })).text, 'echo: still here');
  });

  test('an aborted call comes back at once as cancelled', async () => {
    const ac = new AbortController();
    const pending = r.mcp.call('local__hang', {}, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const res = await pending;
    assert.equal(res.code, 'XZ_ERR_ABORTED');
  });

  test('tools/list_changed refreshes the list and listeners hear it', async () => {
    let heard = 0;
    const off = r.mcp.onToolsChanged(() => heard++);
    assert.ok(!r.mcp.tools().some((t) => t.llmName === 'local__extra'));
    assert.equal((await r.mcp.call('local__grow', {})).text, 'grown');
    await waitFor('local__extra', () => r.mcp.tools().some((t) => t.llmName === 'local__extra'));
    assert.ok(heard >= 1);
    assert.equal((await r.mcp.call('local__extra', {})).text, 'extra!');
    off();
  });

  test('a crashed server is restarted and its tools come back', async () => {
    const before = r.mcp.snapshot()[0]!;
    const oldPid = before.pid!;
    const crash = await r.mcp.call('local__crash', {});
    assert.equal(crash.isError, true);
    assert.equal(crash.code, 'XZ_ERR_MCP_CLOSED');
    // While it is down: no tools offered, calls fail at once with a code.
    const down = await waitFor('down', () => (r.mcp.snapshot()[0]!.state !== 'ready' ? r.mcp.snapshot()[0]! : undefined));
    assert.equal(down.lastError?.code, 'XZ_ERR_MCP_SERVER_EXITED');
    assert.match(down.lastError!.message, /exited with code 3/);
    if (r.mcp.snapshot()[0]!.state !== 'ready') {
      const t0 = Date.now();
      const res = await r.mcp.call('local__echo', { text: 'x' });
      assert.equal(res.code, 'XZ_ERR_MCP_SERVER_DOWN');
      assert.ok(Date.now() - t0 < 100);
    }
    const back = await waitFor('restart', () => {
      const s = r.mcp.snapshot()[0]!;
      return s.state === 'ready' ? s : undefined;
    });
    assert.equal(back.restarts, before.restarts + 1);
    assert.notEqual(back.pid, oldPid);
    assert.ok(!pidAlive(oldPid));
    assert.ok(back.tools.includes('local__echo'));
    assert.equal((await r.mcp.call('local__whoami', {})).text, `pid ${back.pid}`);
  });

  test('shutdown stops the stdio process', async () => {
    const pid = r.mcp.snapshot()[0]!.pid!;
    assert.ok(pidAlive(pid));
    await r.mcp.close();
    assert.equal(r.mcp.snapshot()[0]!.state, 'closed');
    await waitFor('process gone', () => !pidAlive(pid), 3000);
    assert.equal(r.mcp.tools().length, 0);
    assert.equal((await r.mcp.call('local__echo', { text: 'x' })).isError, true);
  });
});
