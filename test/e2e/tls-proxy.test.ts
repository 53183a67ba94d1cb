// TLS from config (wss and https on the configured ports) and public URLs behind a reverse
// proxy: X-Forwarded-Host/-Proto decide the WebSocket URL OTA hands out only when the request
// comes from a configured trusted proxy; a configured public URL always wins.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { TestDevice, deviceHeaders } from '../helpers/device.js';
import { startTestServer } from '../helpers/server.js';
import { OTA_BODY, OTA_HEADERS } from '../frontdoor/helpers.js';

const T = { timeout: 30_000 };
const agent = new Agent({ connect: { rejectUnauthorized: false } });
after(() => agent.close());
const { Host: _h, ...HEADERS } = OTA_HEADERS;

async function otaJson(url: string, extra: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', headers: { ...HEADERS, ...extra }, body: OTA_BODY, dispatcher: agent });
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as Record<string, any>;
}

test('TLS: OTA over https hands out a wss URL, and devices connect over wss', T, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xz-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const server = await startTestServer(t, { server: { tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } } }, dir);
  const reply = await otaJson(`https://127.0.0.1:${server.httpPort}/xiaozhi/ota/`);
  assert.equal(reply.websocket.url, `wss://127.0.0.1:${server.wsPort}/xiaozhi/v1/`);
  const dev = await TestDevice.connect(reply.websocket.url, { headers: deviceHeaders(reply.websocket.token), insecure: true });
  const hello = await dev.hello();
  assert.equal(hello['transport'], 'websocket');
  dev.close();
});

test('forwarded host and proto count only from trusted proxies; a public URL wins', T, async (t) => {
  const trusted = await startTestServer(t, { server: { trusted_proxies: ['127.0.0.0/8'] } });
  const fwd = { 'X-Forwarded-Host': 'voice.example.com', 'X-Forwarded-Proto': 'https' };
  const viaProxy = await otaJson(`${trusted.httpUrl}/xiaozhi/ota/`, fwd);
  assert.equal(viaProxy.websocket.url, 'wss://voice.example.com:443/xiaozhi/v1/');

  const untrusted = await startTestServer(t, { server: { trusted_proxies: ['10.0.0.0/8'] } });
  const direct = await otaJson(`${untrusted.httpUrl}/xiaozhi/ota/`, fwd);
  assert.equal(direct.websocket.url, `ws://127.0.0.1:${untrusted.wsPort}/xiaozhi/v1/`, 'spoofed headers from an untrusted peer are ignored');

  const pinned = await startTestServer(t, { server: { public_ws_url: 'wss://xz.example.org:8443/ws/' } });
  assert.equal((await otaJson(`${pinned.httpUrl}/xiaozhi/ota/`, fwd)).websocket.url, 'wss://xz.example.org:8443/ws/');
});

test('one shared port serves both WebSocket and HTTP', T, async (t) => {
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const server = await startTestServer(t, { server: { ws_port: port, http_port: port } });
  assert.equal(server.wsPort, port);
  assert.equal(server.httpPort, port);
  const reply = await otaJson(`http://127.0.0.1:${port}/xiaozhi/ota/`);
  assert.equal(reply.websocket.url, `ws://127.0.0.1:${port}/xiaozhi/v1/`);
  const dev = await TestDevice.connect(reply.websocket.url, { headers: deviceHeaders(reply.websocket.token) });
  await dev.hello();
  dev.close();
});
