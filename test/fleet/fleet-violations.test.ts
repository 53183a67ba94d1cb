// Protocol violations make the simulator exit non-zero. Each case is a tiny local xiaozhi server
// (test/fleet/fake-xiaozhi.ts) that breaks one firmware rule; the simulator must notice, count it
// under the right kind, and say so in its exit status, while legal oddities (unknown message
// types, buffer overflow from a server that does not pace) are counted without failing the run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeXiaozhi, type FakeServer } from './fake-xiaozhi.js';
import { runFleetCli } from './run-cli.js';
import { runFleet } from '../../bench/fleet/fleet.js';
import { parseOptions, type FleetOptions } from '../../bench/fleet/options.js';

const T = { timeout: 120_000 };
const fakes: FakeServer[] = [];
after(() => Promise.all(fakes.map((f) => f.close())));

async function fake(b: Parameters<typeof startFakeXiaozhi>[0]): Promise<FakeServer> {
  const f = await startFakeXiaozhi(b);
  fakes.push(f);
  return f;
}

function opts(args: string[]): FleetOptions {
  const o = parseOptions([...args, '--quiet']);
  assert.ok(o !== 'help');
  return o;
}

test('a server hello without transport makes the CLI exit 1', T, async () => {
  const f = await fake({ hello: (sid) => ({ type: 'hello', session_id: sid, audio_params: { sample_rate: 24000, frame_duration: 60 } }) });
  const run = await runFleetCli(['--url', f.url, '--mode', 'idle', '--devices', '3', '--duration', '0.5']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.equal(run.report!['violations']['by_kind']['hello-missing-transport'], 3);
  assert.equal(run.report!['devices']['hello_ok'], 0, 'a device cannot use such a hello');
  assert.match(run.report!['violations']['examples'][0]['device'], /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
  assert.match(run.stdout, /violations {2}3: hello-missing-transport 3/);
});

test('a hello that never comes is a violation after the firmware\'s deadline', T, async () => {
  const f = await fake({ hello: () => ({ type: 'not-hello' }) });
  const r = await runFleet(opts(['--url', f.url, '--mode', 'idle', '--devices', '2', '--duration', '0.5', '--hello-timeout', '0.3']));
  assert.equal(r.exit_code, 1);
  assert.deepEqual((r['violations'] as any).by_kind, { 'hello-timeout': 2 });
  assert.deepEqual(r['unknown_message_types'], { 'not-hello': 2 });
});

test('audio before tts start and frames longer than the announced duration are violations', T, async () => {
  const f = await fake({ audioBeforeStart: true, longFrames: true, replyFrames: 10 });
  const r = await runFleet(opts(['--url', f.url, '--devices', '2', '--duration', '8', '--decode-sample', '1']));
  assert.equal(r.exit_code, 1);
  const kinds = (r['violations'] as any).by_kind;
  assert.equal(kinds['audio-before-tts-start'], 2);
  assert.ok(kinds['frame-too-long'] >= 10, JSON.stringify(kinds));
});

test('unknown message types are counted but legal; overflow and early stops are measured, not violations', T, async () => {
  const f = await fake({ unknownType: true, dumpAll: true, replyFrames: 50, earlyStop: true });
  const r = await runFleet(opts(['--url', f.url, '--devices', '2', '--duration', '12']));
  assert.equal(r.exit_code, 0, JSON.stringify(r['violations']));
  assert.deepEqual(r['unknown_message_types'], { weather_push: 2 });
  const turns = r['turns'] as Record<string, number>;
  assert.ok(turns['answered']! >= 2);
  assert.equal(turns['overflow_frames'], turns['answered']! * (50 - 41), 'everything beyond 1 playing + 40 queued is dropped');
  assert.equal(turns['early_tts_stops'], turns['answered']);
});
