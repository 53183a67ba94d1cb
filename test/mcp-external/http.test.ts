// External MCP over streamable HTTP and legacy SSE: in-process servers built with the SDK's
// server transports on 127.0.0.1, with a required auth header, list_changed notifications, and a
// server that goes away and comes back on the same port.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSse, startStreamableHttp, type TestMcpHttp } from '../fixtures/mcp/http-servers.js';
import { rig, waitFor, type Rig } from './helpers.js';

const AUTH = { header: 'Authorization', value: 'Bearer s3cret' };
const FAST = { backoff_ms: 50, max_backoff_ms: 200 };

async function exercise(kind: 'http' | 'sse', server: TestMcpHttp, r: Rig): Promise<void> {
  await r.mcp.start({ waitMs: 10_000 });
  const snap = r.mcp.snapshot()[0]!;
  assert.equal(snap.state, 'ready', JSON.stringify(snap));
  assert.equal(snap.transport, kind);
  assert.equal(snap.pid, null);
  assert.ok(snap.tools.includes('remote__echo'));
  assert.ok(server.seen.get('authorization')?.every((v) => v === AUTH.value));

  assert.deepEqual(await r.mcp.call('remote__echo', { text: kind }), { text: `echo: ${kind}`, isError: false });
  const hung = await r.mcp.call('remote__hang', {}, { timeoutMs: 200 });
  assert.equal(hung.code, 'XZ_ERR_MCP_TIMEOUT');

  // list_changed travels on the server's notification stream.
  await r.mcp.call('remote__grow', {});
  await waitFor('remote__extra', () => r.mcp.tools().some((t) => t.llmName === 'remote__extra'));
  assert.equal((await r.mcp.call('remote__extra', {})).text, 'extra!');

  // The server goes away: calls fail with a code, quickly, and the manager notices.
  await server.stop();
  const t0 = Date.now();
  const failed = await r.mcp.call('remote__echo', { text: 'x' });
  assert.equal(failed.isError, true);
  assert.ok(failed.code === 'XZ_ERR_MCP_CLOSED' || failed.code === 'XZ_ERR_MCP_SERVER_DOWN', failed.code);
  assert.ok(Date.now() - t0 < 2000);
  await waitFor('not ready', () => r.mcp.snapshot()[0]!.state !== 'ready');
  assert.equal(r.mcp.tools().length, 0);
  assert.equal((await r.mcp.call('remote__echo', { text: 'x' })).code, 'XZ_ERR_MCP_SERVER_DOWN');

  // It comes back: the manager reconnects (fresh initialize) and the tools return.
  await server.restart();
  const back = await waitFor('reconnected', () => {
    const s = r.mcp.snapshot()[0]!;
    return s.state === 'ready' ? s : undefined;
  });
  assert.ok(back.restarts >= 1);
  assert.deepEqual(await r.mcp.call('remote__echo', { text: 'again' }), { text: 'echo: again', isError: false });
}

test('streamable HTTP: headers, calls, timeouts, list_changed, reconnect', { timeout: 60_000 }, async () => {
  const server = await startStreamableHttp({ require: AUTH });
  const r = await rig({ remote: { transport: 'http', url: server.url, headers: { [AUTH.header]: AUTH.value }, restart: FAST } });
  try {
    await exercise('http', server, r);
  } finally {
    await r.close();
    await server.stop();
  }
});

test('SSE: headers, calls, timeouts, list_changed, reconnect', { timeout: 60_000 }, async () => {
  const server = await startSse({ require: AUTH });
  const r = await rig({ remote: { transport: 'sse', url: server.url, headers: { [AUTH.header]: AUTH.value }, restart: FAST } });
  try {
    await exercise('sse', server, r);
  } finally {
    await r.close();
    await server.stop();
  }
});

test('a server refusing our credentials is reported and retried', { timeout: 60_000 }, async () => {
  const server = await startStreamableHttp({ require: AUTH });
  const r = await rig({ remote: { transport: 'http', url: server.url, headers: { [AUTH.header]: 'Bearer wrong' }, restart: FAST } });
  try {
    await r.mcp.start({ waitMs: 5000 });
    const s = await waitFor('retried', () => {
      const x = r.mcp.snapshot()[0]!;
      return x.restarts >= 2 ? x : undefined;
    });
    assert.notEqual(s.state, 'ready');
    assert.equal(s.lastError?.code, 'XZ_ERR_MCP_CONNECT_FAILED');
    assert.match(s.lastError!.message, /401/);
    // Network servers are never given up: an outage or a rotated key ends by itself.
    assert.notEqual(s.state, 'failed');
  } finally {
    await r.close();
    await server.stop();
  }
});
