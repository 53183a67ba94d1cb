// Idle mode against our real server (uWS front door, auth off): every device does the OTA check,
// upgrades with the firmware's headers, says hello and stays connected; the run reports them all
// connected, no violations, and the server's memory per device from /status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.js';
import { runFleetCli } from './run-cli.js';
import { assertReportShape } from './report-shape.js';

const T = { timeout: 120_000 };

test('idle: 200 devices complete OTA + hello against our server, zero violations', T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, log: { level: 'warn' } });
  const run = await runFleetCli([
    '--ota', `${server.httpUrl}/xiaozhi/ota/`,
    '--mode', 'idle',
    '--devices', '200',
    '--duration', '1',
    '--status-url', `${server.httpUrl}/status`,
  ]);
  assert.equal(run.code, 0, `exit ${run.code}\n${run.stdout}\n${run.stderr}`);
  const r = run.report!;
  assertReportShape(r);
  assert.equal(r['devices']['ota_ok'], 200);
  assert.equal(r['devices']['hello_ok'], 200);
  assert.equal(r['devices']['connected_peak'], 200);
  assert.equal(r['devices']['connected_at_end'], 200);
  assert.equal(r['devices']['connect_failures'], 0);
  assert.deepEqual(r['devices']['framing_versions'], { '1': 200 });
  assert.equal(r['violations']['total'], 0, JSON.stringify(r['violations']));
  assert.equal(r['latency_ms']['hello']['count'], 200);
  assert.equal(r['speech'], null, 'idle devices need no speech');
  const idle = r['server']['idle'];
  assert.equal(idle['full']['devices'], 200);
  assert.equal(typeof idle['per_device_kib'], 'number');
  assert.ok(r['server']['rss_samples'].some((s: { sessions: number }) => s.sessions === 200));
  assert.match(run.stdout, /hello 200\/200/);
  assert.match(run.stdout, /violations {2}none/);
});

test('idle: a token from --token and framing v3 reach our server as the firmware sends them', T, async (t) => {
  const server = await startTestServer(t, { log: { level: 'warn' } }); // token auth on
  const bad = await runFleetCli(['--url', server.wsUrl, '--mode', 'idle', '--devices', '3', '--duration', '0.2', '--token', 'not-a-valid-token']);
  assert.equal(bad.code, 3, 'refused upgrades are connect failures');
  assert.equal(bad.report!['devices']['connect_failures'], 3);
  assert.match(bad.report!['errors']['upgrade-refused']['first'], /HTTP 401/);

  // Through OTA the devices get real tokens and the configured framing.
  const ok = await runFleetCli(['--ota', `${server.httpUrl}/xiaozhi/ota/`, '--mode', 'idle', '--devices', '5', '--duration', '0.2', '--protocol-version', '3']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.deepEqual(ok.report!['devices']['framing_versions'], { '3': 5 });
});
