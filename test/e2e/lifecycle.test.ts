// The server as an operator runs it: a separate process started from the command line. SIGTERM
// with live sessions closes them politely, flushes the store and exits 0; the store reopens
// intact. Activation: 202 while pending, `npm run device -- bind <code>` from another process,
// then 200 and OTA stops sending the activation section.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { openStore } from '../../providers/store/index.js';
import { DeviceRegistry } from '../../providers/store/devices.js';
import { TestDevice, deviceHeaders, DEVICE } from '../helpers/device.js';
import { OTA_BODY, OTA_HEADERS } from '../frontdoor/helpers.js';

const T = { timeout: 60_000 };
const root = fileURLToPath(new URL('../..', import.meta.url));
const agent = new Agent();
const TSX = import.meta.resolve('tsx');
after(() => agent.close());

interface Running {
  child: ChildProcess;
  wsPort: number;
  httpPort: number;
  exited: Promise<{ code: number | null; signal: string | null }>;
  stderr: () => string;
}

function startProcess(dir: string, yaml: string): Promise<Running> {
  const cfg = join(dir, 'config.yaml');
  writeFileSync(cfg, yaml);
  const child = spawn(process.execPath, ['--import', TSX, join(root, 'actors/server.ts')], {
    cwd: dir,
    env: { ...process.env, XZ_CONFIG: cfg },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      for (const line of err.split('\n')) {
        if (!line.startsWith('{')) continue;
        const j = JSON.parse(line) as { msg?: string; ws_port?: number; http_port?: number };
        if (j.msg === 'listening') resolve({ child, wsPort: j.ws_port!, httpPort: j.http_port!, exited, stderr: () => err });
      }
    });
    void exited.then((x) => reject(new Error(`server exited early (${x.code}): ${err}`)));
  });
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'xz-life-'));
  after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const yaml = (dir: string, extra = '') => `
server: { host: 127.0.0.1, ws_port: 0, http_port: 0 }
store: { type: lmdb, path: ${join(dir, 'data')} }
log: { file: ${join(dir, 'logs', 'server.jsonl')}, console: json, level: info }
shutdown: { grace_ms: 3000 }
${extra}`;

async function ota(port: number) {
  const { Host: _h, ...headers } = OTA_HEADERS;
  const res = await request(`http://127.0.0.1:${port}/xiaozhi/ota/`, { method: 'POST', headers, body: OTA_BODY, dispatcher: agent });
  return (await res.body.json()) as Record<string, any>;
}

test('SIGTERM with live sessions: sockets closed politely, exit 0, store reopens intact', T, async () => {
  const dir = tempDir();
  const srv = await startProcess(dir, yaml(dir));
  const reply = await ota(srv.httpPort);
  const devices: TestDevice[] = [];
  for (let i = 0; i < 3; i++) {
    const d = await TestDevice.connect(reply.websocket.url, { headers: deviceHeaders(reply.websocket.token) });
    await d.hello();
    devices.push(d);
  }
  srv.child.kill('SIGTERM');
  const codes = await Promise.all(devices.map((d) => d.closed));
  assert.deepEqual(codes, [1001, 1001, 1001], 'each device got a close frame');
  const exit = await srv.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, srv.stderr().slice(-2000));
  const store = await openStore({ type: 'lmdb', path: join(dir, 'data') });
  try {
    const reg = new DeviceRegistry(store);
    const rec = await reg.get(DEVICE.id);
    assert.equal(rec?.boardType, 'bread-compact-wifi');
    assert.equal(rec?.firmwareVersion, '2.4.2');
    // the token secret survived: a token issued before the restart still verifies after it
    const again = await startProcess(dir, yaml(dir));
    try {
      await store.close();
      const d = await TestDevice.connect(`ws://127.0.0.1:${again.wsPort}/`, { headers: deviceHeaders(reply.websocket.token) });
      await d.hello();
      d.close();
    } finally {
      again.child.kill('SIGTERM');
      assert.equal((await again.exited).code, 0);
    }
  } finally {
    await store.close().catch(() => {});
  }
});

test('activation: 202 while pending, bound with the device CLI, then 200 and no activation section', T, async () => {
  const dir = tempDir();
  const srv = await startProcess(dir, yaml(dir, 'activation: { enabled: true }'));
  try {
    const first = await ota(srv.httpPort);
    assert.match(first.activation?.code ?? '', /^\d{6}$/);
    assert.equal(typeof first.activation.challenge, 'string');
    assert.ok(first.activation.challenge.length > 0, 'a challenge makes the device poll /activate');
    const again = await ota(srv.httpPort);
    assert.equal(again.activation.code, first.activation.code, 'a polling device keeps its code');
    const { Host: _h, ...headers } = OTA_HEADERS;
    const poll = async () => {
      const res = await request(`http://127.0.0.1:${srv.httpPort}/xiaozhi/ota/activate`, { method: 'POST', headers, body: '{}', dispatcher: agent });
      await res.body.dump();
      return res.statusCode;
    };
    assert.equal(await poll(), 202);
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', TSX, join(root, 'actors/device-cli.ts'), ...args], {
        cwd: dir,
        env: { ...process.env, XZ_CONFIG: join(dir, 'config.yaml') },
        encoding: 'utf8',
      });
    const wrong = cli('bind', first.activation.code === '000000' ? '111111' : '000000');
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /XZ_ERR_ACTIVATION_UNKNOWN_CODE/);
    const bound = cli('bind', first.activation.code, 'kitchen');
    assert.equal(bound.status, 0, bound.stderr);
    assert.match(bound.stdout, new RegExp(`bound ${DEVICE.id} \\(kitchen\\)`));
    assert.equal(await poll(), 200);
    const after = await ota(srv.httpPort);
    assert.equal(after.activation, undefined);
    const list = cli('list', '--bound');
    assert.match(list.stdout, new RegExp(`^${DEVICE.id}\\tbound\\tbread-compact-wifi`, 'm'));
  } finally {
    srv.child.kill('SIGTERM');
    assert.equal((await srv.exited).code, 0);
  }
});
