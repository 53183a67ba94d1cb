// Talk mode end to end. Against a protocol-faithful fake server whose reply timing is known, the
// simulator's latency bookkeeping, playback model and MCP must measure exactly that timing.
// Against our own server it must at least run cleanly: frames leave at real-time pace, measured
// from the simulator's side; the reply latencies are asserted once the server answers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeXiaozhi, type FakeServer } from './fake-xiaozhi.js';
import { startTestServer } from '../helpers/server.js';
import { runFleetCli } from './run-cli.js';
import { assertReportShape } from './report-shape.js';
import { runFleet } from '../../bench/fleet/fleet.js';
import { parseOptions, type FleetOptions } from '../../bench/fleet/options.js';

const T = { timeout: 120_000 };
const fakes: FakeServer[] = [];
after(() => Promise.all(fakes.map((f) => f.close())));

function opts(args: string[]): FleetOptions {
  const o = parseOptions([...args, '--quiet']);
  assert.ok(o !== 'help');
  return o;
}

const within = (v: number | null, lo: number, hi: number, what: string) => assert.ok(v !== null && v >= lo && v <= hi, `${what} = ${v}, expected ${lo}..${hi}`);

test('talk against a fake server: latencies, pacing, playback and MCP measure what the server did', T, async () => {
  // The fake ends an utterance after 400 ms of quiet, waits 40 ms, sends 5 frames then one per
  // 60 ms, and says tts stop two frames after the tail has played.
  const f = await startFakeXiaozhi({ mcp: true, replyFrames: 25 });
  fakes.push(f);
  const r = await runFleet(opts(['--url', f.url, '--devices', '4', '--duration', '14', '--decode-sample', '1', '--mcp-extra-tools', '50']));
  assertReportShape(r);
  assert.equal(r.exit_code, 0, JSON.stringify(r['violations']));
  const turns = r['turns'] as Record<string, number>;
  const lat = r['latency_ms'] as Record<string, Record<string, number | null>>;
  const down = r['downlink'] as Record<string, any>;
  assert.ok(turns['answered']! >= 6, `answered ${turns['answered']}`);
  assert.equal(turns['no_reply'], 0);
  assert.equal(turns['underruns'], 0);
  assert.equal(turns['overflow_frames'], 0);
  assert.equal(turns['early_tts_stops'], 0);
  within(lat['eos_to_stt']!['p50']!, 380, 700, 'eos → stt p50');
  within(lat['tts_start_to_first_audio']!['p50']!, 38, 80, 'tts start → first audio p50');
  within(lat['eos_to_first_audio']!['p50']! - lat['eos_to_tts_start']!['p50']!, 35, 85, 'first audio − tts start');
  within(lat['tts_stop_after_playout']!['p50']!, 100, 200, 'tts stop after playout p50');
  within(down['inter_arrival_ms']['p50'], 55, 65, 'inter-arrival p50');
  within(down['jitter_ms']['p99'], 0, 15, 'jitter p99');
  within(down['min_headroom_ms']['p50'], 250, 310, 'steady headroom (5 frames of lead)');
  assert.equal(down['decoded_frames'], down['frames'], 'every frame decoded on every device');
  assert.equal(down['frames'], turns['answered']! * 25 + (down['frames'] % 25), 'whole replies arrive');
  const dev = r['devices'] as Record<string, number>;
  assert.equal(dev['mcp_initialized'], 4);
  assert.equal(dev['mcp_listed'], 4);
  assert.ok(f.mcpReplies().some((p) => typeof (p as any).result?.nextCursor === 'string'), 'tools/list paged');
  // auto mode: one listen start after the hello, one after each reply
  const starts = f.listenMessages().filter((m) => m['state'] === 'start' && m['mode'] === 'auto').length;
  assert.ok(starts >= 4 + turns['answered']!, `${starts} listen starts`);
  assert.ok(f.listenMessages().every((m) => typeof m['session_id'] === 'string' && (m['session_id'] as string).startsWith('fake-')), 'session_id echoed');
});

test('talk: a server pacing slower than real time causes underruns in the playback model', T, async () => {
  const f = await startFakeXiaozhi({ slowByMs: 25, replyFrames: 40 });
  fakes.push(f);
  const r = await runFleet(opts(['--url', f.url, '--devices', '2', '--duration', '14']));
  const turns = r['turns'] as Record<string, number>;
  assert.ok(turns['answered']! >= 2);
  assert.equal(turns['turns_with_underrun'], turns['answered'], 'every reply ran dry');
  // 35 paced frames × 25 ms slower − 300 ms of lead ≈ 575 ms of silence per reply, give or take pacing.
  within(turns['underrun_ms']! / turns['answered']!, 400, 800, 'underrun ms per reply');
});

test('talk, push-to-talk: listen start (manual) … listen stop per turn, then the reply', T, async () => {
  const f = await startFakeXiaozhi({ replyFrames: 10 });
  fakes.push(f);
  const r = await runFleet(opts(['--url', f.url, '--devices', '2', '--duration', '12', '--listen-mode', 'manual']));
  assert.equal(r.exit_code, 0);
  assert.ok((r['turns'] as any).answered >= 2);
  const states = f.listenMessages().map((m) => `${m['state']}${m['mode'] ? `:${m['mode']}` : ''}`);
  assert.ok(states.filter((s) => s === 'start:manual').length >= 2);
  assert.ok(states.filter((s) => s === 'stop').length >= 2);
});

test('talk against our server: real-time sending, answered turns, no underruns', T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, log: { level: 'warn' } });
  const devices = 4;
  const duration = 14;
  const run = await runFleetCli(['--ota', `${server.httpUrl}/xiaozhi/ota/`, '--devices', String(devices), '--duration', String(duration), '--decode-sample', '1']);
  const r = run.report!;
  assert.ok(r, run.stdout + run.stderr);
  assertReportShape(r);
  assert.equal(r['violations']['total'], 0, JSON.stringify(r['violations']));
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.equal(r['devices']['hello_ok'], devices);
  const up = r['uplink'];
  // Never faster than one frame per 60 ms per device; while no reply stops the mic, no slower
  // either (the devices connect within the first second).
  assert.ok(up['frames'] <= devices * Math.ceil((duration * 1000) / 60) + devices, `${up['frames']} frames`);
  if (r['turns']['answered'] === 0) assert.ok(up['frames'] >= devices * Math.floor(((duration - 1) * 1000) / 60), `${up['frames']} frames`);
  assert.ok(up['send_lateness_ms']['p99'] < 40, `send lateness p99 ${up['send_lateness_ms']['p99']} ms`);
  assert.ok(r['turns']['started'] >= devices, 'every device began speaking');

  const replies = r['turns']['answered'] as number;
  await t.test('reply latencies from our server', () => {
    assert.ok(replies > 0, 'no turn was answered');
    assert.ok(r['latency_ms']['eos_to_first_audio']['p50'] !== null);
    assert.equal(r['turns']['underruns'], 0);
    assert.ok(r['downlink']['decoded_frames'] > 0);
  });
});
