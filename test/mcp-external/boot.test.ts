// Boot behaviour: servers start in parallel, a broken or silent one neither delays the others
// nor start() for long, is reported in the snapshot, retried in the background, and a stdio
// server that keeps failing is given up after its restart budget.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mcpServersConfigSchema } from '../../actors/mcp/external/index.js';
import { fixtureStdio, pidAlive, rig, waitFor, type StdioInput } from './helpers.js';

const SILENT: StdioInput = { transport: 'stdio', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] };

test('a silent and a missing server do not delay a good one, and are reported', { timeout: 60_000 }, async () => {
  const r = await rig({
    silent: { ...SILENT, connect_timeout_ms: 2500, restart: { backoff_ms: 60_000 } },
    missing: { transport: 'stdio', command: '/nonexistent/xz-mcp-server', restart: { backoff_ms: 60_000 } },
    good: fixtureStdio(),
  });
  try {
    const t0 = Date.now();
    const started = r.mcp.start({ waitMs: 20_000 });
    await waitFor('good ready', () => r.mcp.server('good')!.state === 'ready');
    const goodMs = Date.now() - t0;
    // Ready long before the silent server's first attempt times out.
    assert.equal(r.mcp.server('silent')!.state, 'connecting');
    assert.ok(goodMs < 2500, `good ready after ${goodMs} ms`);
    assert.ok(r.mcp.tools().some((t) => t.llmName === 'good__echo'));
    // start() waits for first attempts only: the silent one's ends at its connect timeout.
    await started;
    const startMs = Date.now() - t0;
    assert.ok(startMs >= 2400 && startMs < 6000, `start() took ${startMs} ms`);

    const snap = Object.fromEntries(r.mcp.snapshot().map((s) => [s.name, s]));
    assert.equal(snap['good']!.state, 'ready');
    assert.equal(snap['good']!.lastError, null);
    assert.equal(snap['silent']!.state, 'backoff');
    assert.equal(snap['silent']!.lastError?.code, 'XZ_ERR_MCP_CONNECT_FAILED');
    assert.match(snap['silent']!.lastError!.message, /not ready within 2500 ms/);
    assert.equal(snap['missing']!.state, 'backoff');
    assert.equal(snap['missing']!.lastError?.code, 'XZ_ERR_MCP_CONNECT_FAILED');
    assert.match(snap['missing']!.lastError!.message, /ENOENT|cannot start/);
    // A call to a server that is down returns a coded result at once.
    const res = await r.mcp.call('silent__anything', {});
    assert.equal(res.code, 'XZ_ERR_MCP_SERVER_DOWN');
    // The silent process was killed after its attempt failed.
    assert.equal(r.mcp.tools().filter((t) => t.server !== 'good').length, 0);
  } finally {
    await r.close();
  }
});

test('start() never waits longer than waitMs', { timeout: 60_000 }, async () => {
  const r = await rig({ silent: { ...SILENT, connect_timeout_ms: 30_000 } });
  try {
    const t0 = Date.now();
    await r.mcp.start({ waitMs: 300 });
    assert.ok(Date.now() - t0 < 1500);
    assert.equal(r.mcp.snapshot()[0]!.state, 'connecting');
    const pid = await waitFor('pid', () => r.mcp.snapshot()[0]!.pid ?? undefined);
    assert.ok(pidAlive(pid));
    // Closing kills the process of the attempt in flight, though it ignores its stdin closing.
    const t1 = Date.now();
    await r.mcp.close();
    assert.ok(Date.now() - t1 < 5000);
    await waitFor('silent process gone', () => !pidAlive(pid), 3000);
  } finally {
    await r.close();
  }
});

test('a stdio server that keeps dying is given up after its restart budget', { timeout: 60_000 }, async () => {
  const r = await rig({
    flaky: { transport: 'stdio', command: process.execPath, args: ['-e', 'process.stderr.write("boom\\n"); process.exit(7)'], restart: { max: 2, backoff_ms: 20, window_ms: 60_000 } },
  });
  try {
    await r.mcp.start({ waitMs: 5000 });
    const s = await waitFor('given up', () => {
      const x = r.mcp.snapshot()[0]!;
      return x.state === 'failed' ? x : undefined;
    });
    assert.equal(s.restarts, 2); // first try + 2 restarts = 3 failures > max 2
    assert.equal(s.lastError?.code, 'XZ_ERR_MCP_SERVER_EXITED');
    assert.match(s.lastError!.message, /exited with code 7: boom/);
    const res = await r.mcp.call('flaky__x', {});
    assert.equal(res.code, 'XZ_ERR_MCP_GAVE_UP');
    // No more attempts.
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(r.mcp.snapshot()[0]!.restarts, 2);
    assert.ok(r.lines.some((l) => l['msg'] === 'external MCP server given up: it keeps failing'));
  } finally {
    await r.close();
  }
});

test('a disabled server is listed but never started', { timeout: 60_000 }, async () => {
  const r = await rig({ off: fixtureStdio({ enabled: false }) });
  try {
    await r.mcp.start({ waitMs: 1000 });
    const s = r.mcp.snapshot()[0]!;
    assert.equal(s.state, 'disabled');
    assert.equal(s.pid, null);
    assert.equal((await r.mcp.call('off__echo', {})).code, 'XZ_ERR_MCP_SERVER_DOWN');
  } finally {
    await r.close();
  }
});

test('the config schema: defaults, transports, and names that keep <server>__<tool> unambiguous', () => {
  const c = mcpServersConfigSchema.parse({
    weather: { transport: 'stdio', command: 'node', args: ['server.js'], env: { K: 'v' }, cwd: '.', timeout_ms: '15000' },
    search: { transport: 'http', url: 'https://example.com/mcp', headers: { Authorization: 'Bearer x' } },
    'web-legacy': { transport: 'sse', url: 'http://127.0.0.1:9/sse' },
  });
  assert.equal(c['weather']!.timeout_ms, 15000);
  assert.equal(c['weather']!.connect_timeout_ms, 10_000);
  assert.deepEqual(c['weather']!.restart, { max: 5, window_ms: 60_000, backoff_ms: 500, max_backoff_ms: 30_000 });
  assert.equal(c['search']!.enabled, true);
  assert.deepEqual(mcpServersConfigSchema.parse(undefined), {});
  for (const bad of ['a__b', 'a_', '_a', 'a.b', 'x'.repeat(33), '']) {
    assert.equal(mcpServersConfigSchema.safeParse({ [bad]: { transport: 'sse', url: 'http://x/sse' } }).success, false, bad);
  }
  assert.equal(mcpServersConfigSchema.safeParse({ a: { transport: 'http', url: 'ftp://x' } }).success, false);
  assert.equal(mcpServersConfigSchema.safeParse({ a: { transport: 'stdio' } }).success, false);
  assert.equal(mcpServersConfigSchema.safeParse({ a: { transport: 'ws', url: 'ws://x' } }).success, false);
  assert.equal(mcpServersConfigSchema.safeParse({ a: { transport: 'sse', url: 'http://x', typo: 1 } }).success, false);
});

