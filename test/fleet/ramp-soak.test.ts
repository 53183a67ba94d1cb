// Ramp mode finds the knee: a window fails on unanswered turns, underruns, a latency p99 above
// the threshold or failed connections; two failing windows in a row end the ramp. Soak mode
// samples the server's RSS over time from its /status.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { RampJudge } from '../../bench/fleet/ramp.js';
import { Metrics } from '../../bench/fleet/metrics.js';
import { startFakeXiaozhi, type FakeServer } from './fake-xiaozhi.js';
import { startTestServer } from '../helpers/server.js';
import { runFleet } from '../../bench/fleet/fleet.js';
import { parseOptions, type FleetOptions } from '../../bench/fleet/options.js';
import { runFleetCli } from './run-cli.js';

const T = { timeout: 120_000 };
const fakes: FakeServer[] = [];
after(() => Promise.all(fakes.map((f) => f.close())));

function opts(args: string[]): FleetOptions {
  const o = parseOptions([...args, '--quiet']);
  assert.ok(o !== 'help');
  return o;
}

test('ramp judge: the knee is the last passing window before two failing ones', T, () => {
  const m = new Metrics();
  const judge = new RampJudge(m, { maxP99Ms: 500, maxUnderruns: 0 });
  const window = (devices: number, answered: number, latencyMs: number, underruns = 0) => {
    m.connected = devices;
    for (let i = 0; i < answered; i++) {
      m.answered++;
      m.h.eosToFirstAudio.record(latencyMs);
    }
    m.underruns += underruns;
    return judge.evaluate(devices, 10);
  };
  assert.equal(window(10, 0, 0).ok, null, 'nothing finished: nothing to judge');
  assert.equal(window(20, 5, 100).ok, true);
  assert.equal(window(30, 5, 200).ok, true);
  const w = window(40, 5, 900);
  assert.equal(w.ok, false);
  assert.deepEqual(w.why, ['p99 900 ms > 500 ms'], 'the window sees only its own turns');
  assert.equal(window(50, 5, 100).ok, true, 'one bad window is forgiven');
  assert.equal(judge.broken, false);
  assert.equal(window(60, 5, 100, 2).ok, false);
  assert.equal(judge.broken, false);
  m.noReply += 3;
  const last = window(70, 1, 100);
  assert.deepEqual(last.why, ['3 turns without a complete reply']);
  assert.equal(judge.broken, true);
  const out = judge.outcome(1000);
  assert.equal(out.kneeDevices, 50);
  assert.equal(out.brokeAtDevices, 60);
  assert.equal(out.reason, '2 underruns');
  assert.equal(out.clientLimited, false);
  assert.equal(out.windows.length, 7);
});

test('ramp judge: a saturated simulator is reported as client-limited', T, () => {
  const m = new Metrics();
  const judge = new RampJudge(m, { maxP99Ms: 500, maxUnderruns: 0 });
  m.connected = 10;
  m.noReply = 1;
  judge.evaluate(1, 97);
  m.noReply = 2;
  judge.evaluate(2, 97);
  assert.ok(judge.broken);
  assert.equal(judge.outcome(100).clientLimited, true);
  assert.equal(judge.outcome(100).kneeDevices, null);
});

test('ramp against a server that paces too slowly breaks on underruns', T, async () => {
  const f = await startFakeXiaozhi({ replyFrames: 20, slowByMs: 30 });
  fakes.push(f);
  const r = await runFleet(opts(['--url', f.url, '--mode', 'ramp', '--ramp-per-s', '1', '--devices', '6', '--duration', '40', '--window', '3']));
  const ramp = r['ramp'] as Record<string, any>;
  assert.ok(ramp['broke_at_devices'] >= 1, JSON.stringify(ramp));
  assert.match(ramp['reason'], /underruns/);
  assert.ok((r['duration_s'] as number) < 35, 'the ramp stops once broken');
  assert.equal(r.exit_code, 0, 'a knee is a finding, not a protocol violation');
});

test('soak samples the server RSS over time through --status-url', T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, log: { level: 'warn' } });
  const run = await runFleetCli(['--url', server.wsUrl, '--mode', 'soak', '--devices', '3', '--duration', '6', '--sample-s', '1', '--status-url', `${server.httpUrl}/status`]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const s = run.report!['server'];
  assert.ok(s['rss_samples'].length >= 5, `${s['rss_samples'].length} samples`);
  assert.ok(s['rss_samples'].every((x: { rss_mb: number }) => x.rss_mb > 0));
  assert.equal(typeof s['rss_growth_mb_per_min'], 'number');
  assert.match(run.stdout, /growth .* MB\/min/);
});
