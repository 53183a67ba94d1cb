// The server's own records (bench/fleet/server-own.ts): turn records from /status/sessions are
// deduplicated by (session, turn) and only this fleet's devices count; decision → first frame is
// net of the start gap; the pacer and event-loop figures ignore what predates the run; a peer
// server without these routes is "not available"; reads never overlap and failures are counted.
// Canned documents throughout, then end to end against our server and a peer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { Agent } from 'undici';
import { ServerOwn, ServerOwnSampler, serverOwnReport, sessionsUrlFor, PACER_RING } from '../../bench/fleet/server-own.js';
import { buildReport, progressLine, serverOwnLines, summaryTable } from '../../bench/fleet/report.js';
import { Metrics } from '../../bench/fleet/metrics.js';
import { RampJudge } from '../../bench/fleet/ramp.js';
import { parseOptions, type FleetOptions } from '../../bench/fleet/options.js';
import { runFleet } from '../../bench/fleet/fleet.js';
import { startFakeXiaozhi, type FakeServer } from './fake-xiaozhi.js';
import { startTestServer } from '../helpers/server.js';
import { runFleetCli } from './run-cli.js';
import { assertReportShape } from './report-shape.js';

const T = { timeout: 120_000 };
const cleanup: (() => Promise<unknown>)[] = [];
after(() => Promise.all(cleanup.map((f) => f())));

const OURS = (id: string) => id.startsWith('d2:66:');
const turn = (n: number, f: Record<string, unknown>) => ({ turn: n, text: 'turn on the light', reply: 'ok', interrupted: false, speechEndAt: 1_700_000_000_000 + n, ...f });
const session = (sessionId: string, deviceId: string, turns: number, state: string, lastTurns: unknown[]) => ({ sessionId, deviceId, state, mode: 'auto', turns, lastTurns });

/** Two overlapping reads of /status/sessions: A's first two turns appear in both. */
function feedTwoReads(own: ServerOwn): [number, number] {
  const first = own.ingestSessions({
    sessions: [
      session('A', 'd2:66:00:00:00:01', 2, 'listening', [turn(1, { asrFinalMs: 1.5, ttsStartMs: 2, firstFrameMs: 45 }), turn(2, { asrFinalMs: 3, ttsStartMs: 4, firstFrameMs: 50 })]),
      // Another client's device on the same server: not ours.
      session('X', 'aa:bb:cc:dd:ee:ff', 1, 'listening', [turn(1, { ttsStartMs: 999, firstFrameMs: 9999 })]),
    ],
  });
  const second = own.ingestSessions({
    sessions: [
      // Turns 1 and 2 again (with other figures: the first sighting wins), turn 3 new, a reply in progress.
      session('A', 'd2:66:00:00:00:01', 5, 'speaking', [turn(1, { ttsStartMs: 500, firstFrameMs: 500 }), turn(2, { ttsStartMs: 500 }), turn(3, { ttsStartMs: 10, firstFrameMs: 70 })]),
      session('B', 'd2:66:00:00:00:02', 1, 'listening', [turn(1, { asrFinalMs: 3, ttsStartMs: 6, interrupted: true })]),
      session('X', 'aa:bb:cc:dd:ee:ff', 2, 'listening', [turn(1, { ttsStartMs: 999 }), turn(2, { ttsStartMs: 999, firstFrameMs: 9999 })]),
    ],
  });
  return [first, second];
}

test("server's own records: dedup by (session, turn), only this fleet's devices, first frame net of the gap", () => {
  const own = new ServerOwn(undefined, OURS);
  assert.deepEqual(feedTwoReads(own), [2, 2], 'new records per read');
  assert.equal(own.records, 4);
  assert.equal(own.interrupted, 1);
  assert.equal(own.h.ttsStart.count, 4);
  assert.equal(own.h.ttsStart.max, 10, 'a re-read turn keeps its first figures, the foreign 999 never counts');
  assert.equal(own.h.firstFrameNet.count, 3, 'the interrupted turn had no first frame');
  assert.equal(own.h.firstFrameNet.max, 30, '70 − 40 ms default gap');
  assert.equal(own.h.firstFrameNet.min, 5);
  assert.ok(Math.abs(own.h.firstFrameNet.quantile(0.5) - 10) <= 0.1, `p50 ${own.h.firstFrameNet.quantile(0.5)}`);
  assert.equal(own.h.firstFrame.max, 70);
  const s = own.summary();
  assert.deepEqual(s.turns, {
    records: 4,
    interrupted: 1,
    replies_begun: 6,
    missed: 1, // A began 5 replies: 3 recorded, 1 in progress
    sessions: 2,
    foreign_sessions_ignored: 1,
    first_frame_before_gap: 0,
    asr_share_of_tts_start_pct: 62.5, // (1.5 + 3 + 3) / (2 + 4 + 6)
  });
  assert.equal((s.latency_ms!['decision_to_first_frame_net'] as Record<string, number>)['max'], 30);
  assert.equal((s.latency_ms!['decision_to_asr_final'] as Record<string, number>)['count'], 3);
  assert.equal(own.sessionsAvailable, true);
  assert.equal(own.pacerAvailable, null, 'no /status read yet');
});

test("server's own records: the start gap comes from --start-gap-ms, else /status, else 40", () => {
  const fromStatus = new ServerOwn(undefined);
  assert.equal(fromStatus.startGapMs, 40);
  assert.equal(fromStatus.startGapSource, 'default');
  fromStatus.ingestStatus({ audio: { start_gap_ms: 60 } }, 0);
  assert.equal(fromStatus.startGapMs, 60);
  assert.equal(fromStatus.startGapSource, 'status');
  fromStatus.ingestSessions({ sessions: [session('A', 'd2:66:00:00:00:01', 2, 'idle', [turn(1, { firstFrameMs: 75 }), turn(2, { firstFrameMs: 50 })])] });
  assert.equal(fromStatus.h.firstFrameNet.max, 15);
  assert.equal(fromStatus.belowGap, 1, '50 ms < the 60 ms gap: the option is probably wrong');
  assert.equal(fromStatus.h.firstFrameNet.min, 0, 'counted as 0, not lost');
  const opt = new ServerOwn(20);
  opt.ingestStatus({ audio: { start_gap_ms: 60 } }, 0);
  assert.equal(opt.startGapMs, 20);
  assert.equal(opt.startGapSource, 'option');
});

test("server's own records: pacer figures count only once the lateness ring holds this run's frames", () => {
  const own = new ServerOwn(undefined);
  const pacer = (framesSent: number, latenessP99: number, latenessMax: number, streams = 0, backpressured = 2) => own.ingestStatus({ pacer: { streams, framesSent, latenessP50: 0, latenessP99, latenessMax, backpressured } }, 0);
  pacer(5000, 150, 400); // baseline: an earlier load's frames fill the ring
  pacer(5000 + PACER_RING - 1, 120, 300); // still one old frame in the ring
  assert.equal(own.pacerStale, 1);
  pacer(7100, 3, 9, 12);
  pacer(7100, 100, 100); // no frame since: the same ring, not a new sample
  pacer(9000, 4, 6, 3, 5);
  const p = own.summary().pacer!;
  assert.deepEqual(p, { samples: 2, stale_samples: 1, lateness_p99_ms_max: 4, lateness_p99_ms_median: 3, lateness_max_ms: 9, frames_sent: 4000, backpressured: 3, streams_peak: 12 });
  pacer(10, 50, 50); // the server restarted: a new baseline
  pacer(500, 60, 60);
  assert.equal(own.summary().pacer!['samples'], 2);

  const fresh = new ServerOwn(undefined);
  fresh.ingestStatus({ pacer: { framesSent: 0, latenessP99: 0, latenessMax: 0 } }, 0);
  fresh.ingestStatus({ pacer: { framesSent: 10, latenessP99: 7, latenessMax: 8 } }, 5000);
  assert.equal(fresh.summary().pacer!['lateness_p99_ms_max'], 7, 'an empty ring at the start holds only our frames');
});

test("server's own records: a windowed pacer figure counts once its window began inside the run", () => {
  const own = new ServerOwn(undefined);
  const read = (atMs: number, framesSent: number, latenessP99: number, latenessWindowMs: number) =>
    own.ingestStatus({ pacer: { streams: 5, framesSent, latenessP50: 0, latenessP99, latenessMax: latenessP99, latenessWindowMs, backpressured: 0 } }, atMs);
  read(0, 5000, 90, 20_000); // baseline: an earlier load's frames
  read(10_000, 6000, 80, 30_000); // the window began 20 s before the run: it still holds them
  assert.equal(own.pacerStale, 1);
  read(50_000, 9000, 3, 8_000); // rotated 42 s into the run: only this run's frames
  assert.deepEqual([own.summary().pacer!['samples'], own.summary().pacer!['lateness_p99_ms_max']], [1, 3]);
});

test("server's own records: event-loop windows that began before the run are used only if nothing else", () => {
  const own = new ServerOwn(undefined);
  const loop = (atMs: number, cur: [number, number, number], last?: [number, number, number]) =>
    own.ingestStatus({ event_loop_ms: { current: { p50: 0, p99: cur[0], max: cur[1], mean: 0, windowMs: cur[2] }, last_window: last ? { p50: 0, p99: last[0], max: last[1], mean: 0, windowMs: last[2] } : { p50: 0, p99: 0, max: 0, mean: 0, windowMs: 0 } } }, atMs);
  loop(0, [5, 50, 30_000]); // run start; this window began 30 s earlier
  loop(5_000, [6, 60, 35_000]);
  assert.equal(own.summary().event_loop_ms!['windows_predate_run'], true);
  assert.equal(own.summary().event_loop_ms!['p99_max'], 6, 'nothing clean yet: the predating windows stand in');
  loop(40_000, [2, 8, 10_000], [6, 60, 60_000]); // rotated at 30 s; the completed window began before the run
  loop(95_000, [1, 4, 5_000], [3, 12, 60_000]); // rotated at 90 s; 30..90 s is wholly inside the run
  loop(97_000, [1.5, 5, 7_010], [3, 12, 60_000]); // the same completed window again
  assert.deepEqual(own.summary().event_loop_ms, { samples: 4, windows_predate_run: false, p99_max: 3, p99_median: 1.5, max: 12 });
});

test("server's own records: a peer without the routes or fields is not available", () => {
  const own = new ServerOwn(undefined, OURS);
  own.ingestSessions({ sessions: [] });
  own.ingestSessions({ sessions: [session('X', 'aa:bb:cc:dd:ee:ff', 0, 'idle', [])] });
  own.ingestSessions({ sessions: [{ sessionId: 'A', deviceId: 'd2:66:00:00:00:01', state: 'unresponsive' }] });
  assert.equal(own.sessionsAvailable, null, 'an empty list, foreign sessions or a busy one decide nothing');
  own.ingestSessions({ sessions: [{ sessionId: 'A', deviceId: 'd2:66:00:00:00:01', state: 'listening' }] });
  assert.equal(own.sessionsAvailable, false, 'our session listed without lastTurns: a peer');
  own.ingestStatus({ rss_mb: 100, sessions: 3 }, 0);
  assert.equal(own.pacerAvailable, false);
  assert.equal(own.loopAvailable, false);
  assert.equal(own.available, false);
  assert.deepEqual(own.summary(), { turns: null, latency_ms: null, pacer: null, event_loop_ms: null });
  const other = new ServerOwn(undefined);
  other.ingestSessions({ items: [] });
  assert.equal(other.sessionsAvailable, false, 'not a sessions document');
});

test("server's own records: ramp windows see only their own turns and reads", () => {
  const own = new ServerOwn(undefined, OURS);
  own.ingestStatus({ pacer: { framesSent: 0, latenessP99: 0, latenessMax: 0 }, event_loop_ms: { current: { p99: 1, max: 2, windowMs: 10 } } }, 0);
  own.window();
  own.ingestSessions({ sessions: [session('A', 'd2:66:00:00:00:01', 2, 'idle', [turn(1, { ttsStartMs: 3, firstFrameMs: 100 }), turn(2, { ttsStartMs: 4, firstFrameMs: 60 })])] });
  own.ingestStatus({ pacer: { framesSent: 100, latenessP99: 2.5, latenessMax: 4 }, event_loop_ms: { current: { p99: 7, max: 9, windowMs: 5000 } } }, 5000);
  assert.deepEqual(own.window(), { records: 2, ttsStartP99Ms: 4, firstFrameP99Ms: 60, sendLateP99Ms: 2.5, loopP99Ms: 7 });
  own.ingestSessions({ sessions: [session('A', 'd2:66:00:00:00:01', 3, 'idle', [turn(1, {}), turn(2, {}), turn(3, { ttsStartMs: 1, firstFrameMs: 45 })])] });
  assert.deepEqual(own.window(), { records: 1, ttsStartP99Ms: 1, firstFrameP99Ms: 5, sendLateP99Ms: null, loopP99Ms: null });
  assert.deepEqual(own.window(), { records: 0, ttsStartP99Ms: null, firstFrameP99Ms: null, sendLateP99Ms: null, loopP99Ms: null });
});

function opts(args: string[]): FleetOptions {
  const o = parseOptions([...args, '--quiet']);
  assert.ok(o !== 'help');
  return o;
}

test("report: the summary's server (own records) section and the JSON block", async () => {
  const dispatcher = new Agent();
  cleanup.push(() => dispatcher.close());
  const sampler = new ServerOwnSampler(new ServerOwn(undefined, OURS), 'http://127.0.0.1:9/status/sessions', 'http://127.0.0.1:9/status', dispatcher);
  const own = sampler.own;
  own.ingestStatus({ pacer: { framesSent: 0, latenessP99: 0, latenessMax: 0, streams: 0, backpressured: 0 }, event_loop_ms: { current: { p99: 1, max: 3, windowMs: 100 } } }, 0);
  feedTwoReads(own);
  own.ingestStatus({ pacer: { framesSent: 3000, latenessP99: 4.4, latenessMax: 11, streams: 7, backpressured: 0 }, event_loop_ms: { current: { p99: 2.5, max: 17, windowMs: 5100 } } }, 5000);
  sampler.sessions.ok = 2;
  sampler.sessions.failed = 1;
  sampler.sessions.lastError = 'http://127.0.0.1:9/status/sessions answered 503';
  sampler.status.ok = 2;
  const o = opts(['--url', 'ws://127.0.0.1:9/xiaozhi/v1/', '--status-url', 'http://127.0.0.1:9/status']);
  const rep = buildReport({
    opts: o,
    startedAt: new Date(),
    durationS: 10,
    metrics: new Metrics(),
    client: { cpuPctMean: 1, cpuPctPeak: 2, rssMbPeak: 50, loopDelayP99Ms: 1, loopDelayMaxMs: 2, wakeups: 10 },
    speech: undefined,
    rss: [],
    idleMemory: undefined,
    ramp: undefined,
    serverOwn: serverOwnReport(sampler),
    connectFailures: 0,
  });
  assertReportShape(rep);
  const so = rep['server_own'] as Record<string, any>;
  assert.equal(so['available'], true);
  assert.equal(so['start_gap_ms'], 40);
  assert.equal(so['latency_ms']['decision_to_first_frame_net']['max'], 30);
  assert.equal(so['pacer']['lateness_p99_ms_max'], 4.4);
  assert.equal(so['event_loop_ms']['p99_max'], 2.5);
  assert.equal(so['reads']['sessions']['failed'], 1);
  const text = summaryTable(rep);
  assert.match(text, /^server \(own records\) .*start gap 40 ms \(our default.*4 turns \(1 interrupted\), 1 missed/m);
  assert.match(text, /^decision → first frame − gap\s+3\s+10\.\d\s+30(\.0)?\s+30(\.0)?\s+30(\.0)?$/m);
  assert.match(text, /^decision → tts start\s+4\s/m);
  assert.match(text, /^pacer\s+send lateness p99 4\.4 ms .*max 11 ms · 3,000 frames/m);
  assert.match(text, /^event loop\s+main thread p99 2\.5 ms .*max 17 ms/m);
  assert.match(text, /reads: \/status\/sessions 2 ok, 1 failed.*answered 503/);
  assert.match(text, /asr final is 62\.5% of decision → tts start/);

  // Progress line: the server's figure appears only when sampled.
  const line = (srvFfP99?: number | null) => progressLine({ elapsedS: 3, mode: 'talk', requested: 2, metrics: new Metrics(), cpuPct: 1, ramp: undefined, srvFfP99 });
  assert.match(line(12.34), /srv ff p99 12\.3 ms/);
  assert.match(line(null), /srv ff p99 – ms/);
  assert.doesNotMatch(line(undefined), /srv/);

  // A peer: the section says so and why.
  const peer = new ServerOwnSampler(new ServerOwn(undefined, OURS), 'http://p/status/sessions', 'http://p/status', dispatcher);
  peer.sessions.notAvailable = true;
  peer.own.sessionsAvailable = false;
  peer.own.ingestStatus({ rss_mb: 10 }, 0);
  peer.status.ok = 1;
  peer.status.notAvailable = true;
  const lines = serverOwnLines(serverOwnReport(peer));
  assert.match(lines[0]!, /^server \(own records\)  not available: http:\/\/p\/status\/sessions has no turn records; http:\/\/p\/status has no pacer or event_loop_ms$/);
});

test('ramp: each window carries the server figures; the knee summary says what they were', () => {
  const m = new Metrics();
  const judge = new RampJudge(m, { maxP99Ms: 500, maxUnderruns: 0 });
  const srv = (ff: number) => ({ records: 4, ttsStartP99Ms: 2, firstFrameP99Ms: ff, sendLateP99Ms: 1, loopP99Ms: 3 });
  const step = (devices: number, latency: number, ff: number) => {
    m.connected = devices;
    m.answered += 3;
    for (let i = 0; i < 3; i++) m.h.eosToFirstAudio.record(latency);
    return judge.evaluate(devices, 10, srv(ff));
  };
  step(10, 100, 5);
  step(20, 100, 12);
  step(30, 900, 80);
  step(40, 900, 95);
  const out = judge.outcome(100);
  assert.equal(out.kneeDevices, 20);
  assert.deepEqual(out.serverAtKnee, srv(12));
  assert.deepEqual(out.serverAtBreak, srv(80));
  assert.deepEqual(out.windows.map((w) => w.server?.firstFrameP99Ms), [5, 12, 80, 95]);
  const rep = buildReport({
    opts: opts(['--url', 'ws://h:1/x/', '--mode', 'ramp']),
    startedAt: new Date(),
    durationS: 20,
    metrics: m,
    client: { cpuPctMean: 1, cpuPctPeak: 2, rssMbPeak: 50, loopDelayP99Ms: 1, loopDelayMaxMs: 2, wakeups: 10 },
    speech: undefined,
    rss: [],
    idleMemory: undefined,
    ramp: out,
    connectFailures: 0,
  });
  assert.deepEqual((rep['ramp'] as Record<string, unknown>)['server_at_knee'], srv(12));
  assert.match(summaryTable(rep), /server's own: at the knee decision → first frame − gap p99 12 ms, → tts start p99 2 ms \(4 turns\), send lateness p99 1 ms, event loop p99 3 ms; at the break decision → first frame − gap p99 80 ms/);
});

/** A tiny HTTP server answering from a table of handlers, counting hits per path. */
async function httpStub(routes: Record<string, (res: import('node:http').ServerResponse) => void>): Promise<{ url: string; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const srv: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const h = routes[path];
    if (h) h(res);
    else res.writeHead(404).end('{"error":"no route"}');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => srv.close(r)));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, hits };
}

const json = (doc: unknown) => (res: import('node:http').ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));

test('sampler: 404 stops that read, failures are counted, reads never overlap, the URL is derived', async () => {
  assert.equal(sessionsUrlFor('http://h:8080/status'), 'http://h:8080/status/sessions');
  assert.equal(sessionsUrlFor('http://h:8080/status/?x=1'), 'http://h:8080/status/sessions?x=1');
  const dispatcher = new Agent();
  cleanup.push(() => dispatcher.close());

  // A peer: /status without our figures, no /status/sessions.
  const peer = await httpStub({ '/status': json({ rss_mb: 80 }) });
  const p = new ServerOwnSampler(new ServerOwn(undefined), `${peer.url}/status/sessions`, `${peer.url}/status`, dispatcher);
  await p.sample();
  await p.sample();
  assert.equal(peer.hits.get('/status/sessions'), 1, 'a 404 is not asked again');
  assert.equal(peer.hits.get('/status'), 1, 'a status without pacer or event loop is not asked again');
  assert.equal(p.sessions.notAvailable, true);
  assert.equal(p.sessions.failed, 0, 'not available is not a failure');
  assert.equal(p.own.available, false);

  // Failing, then slow, then garbage.
  let mode: 'fail' | 'slow' | 'ok' | 'garbage' = 'fail';
  const doc = { sessions: [session('A', 'd2:66:00:00:00:01', 1, 'idle', [turn(1, { ttsStartMs: 3, firstFrameMs: 48 })])] };
  const ours = await httpStub({
    '/status/sessions': (res) => {
      if (mode === 'fail') res.writeHead(503).end('busy');
      else if (mode === 'garbage') res.writeHead(200).end('<html>');
      else setTimeout(() => json(doc)(res), mode === 'slow' ? 300 : 0);
    },
  });
  const s = new ServerOwnSampler(new ServerOwn(undefined), `${ours.url}/status/sessions`, undefined, dispatcher);
  await s.readSessions();
  assert.equal(s.sessions.failed, 1);
  assert.match(s.sessions.lastError!, /answered 503/);
  mode = 'slow';
  await Promise.all([s.readSessions(), s.readSessions(), s.readSessions()]);
  assert.equal(ours.hits.get('/status/sessions'), 2, 'one read in flight at a time');
  assert.equal(s.sessions.skipped, 2);
  assert.equal(s.sessions.ok, 1);
  assert.equal(s.own.records, 1);
  assert.ok(s.sessions.maxMs >= 250, `slowest read ${s.sessions.maxMs} ms`);
  mode = 'garbage';
  await s.readSessions();
  assert.equal(s.sessions.notAvailable, true);
  assert.equal(s.own.sessionsAvailable, true, 'what was read before stays');

  // Nothing listening at all: failures, no throw.
  const gone = new ServerOwnSampler(new ServerOwn(undefined), 'http://127.0.0.1:9/status/sessions', 'http://127.0.0.1:9/status', dispatcher, performance.now(), 2000);
  await gone.sample();
  assert.equal(gone.sessions.failed, 1);
  assert.equal(gone.status.failed, 1);
});

test("talk against our server: the server's own records, net of the configured start gap", T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, log: { level: 'warn' }, audio: { start_gap_ms: 80 } });
  const run = await runFleetCli(['--url', server.wsUrl, '--devices', '3', '--duration', '14', '--status-url', `${server.httpUrl}/status`, '--start-gap-ms', '80', '--sessions-sample-s', '2']);
  const r = run.report!;
  assert.ok(r, run.stdout + run.stderr);
  assertReportShape(r);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const so = r['server_own'];
  assert.equal(so['available'], true, JSON.stringify(so));
  assert.equal(so['sessions_url'], `${server.httpUrl}/status/sessions`);
  assert.equal(so['start_gap_source'], 'option');
  assert.equal(so['reads']['sessions']['failed'], 0);
  assert.ok(so['reads']['sessions']['ok'] >= 5, `${so['reads']['sessions']['ok']} reads of /status/sessions`);
  const answered = r['turns']['answered'] as number;
  assert.ok(answered > 0, 'no turn answered');
  const turns = so['turns'];
  // Each answered turn ended on the server (tts stop), and was read before the devices left; the
  // server may also have finished a turn whose device was still playing it out. (A turn may end
  // on a device between the last read and the end of the run: hence − 1.)
  assert.ok(turns['records'] >= answered - 1 && turns['records'] <= answered + 3, `${turns['records']} records, ${answered} answered`);
  assert.equal(turns['sessions'], 3);
  assert.equal(turns['first_frame_before_gap'], 0, 'the first frame never leaves before the gap');
  const lat = so['latency_ms'];
  const gap = lat['decision_to_first_frame']['max'] - lat['decision_to_first_frame_net']['max'];
  assert.ok(Math.abs(gap - 80) < 1e-6, `net = first frame − the 80 ms gap (differs by ${gap})`);
  assert.ok(lat['decision_to_tts_start']['p50'] < r['latency_ms']['eos_to_tts_start']['p50'], "the server's decision comes after the device's end of speech");
  assert.equal(typeof so['event_loop_ms']['p99_max'], 'number');
  assert.ok(so['pacer']['frames_sent'] > 0 && so['pacer']['samples'] > 0, JSON.stringify(so['pacer']));
  assert.match(run.stdout, /^server \(own records\) .*start gap 80 ms \(--start-gap-ms\)/m);
  assert.match(run.stdout, /^decision → first frame − gap\s+\d/m);
});

test("ramp against our server: per-window server figures in the progress line and the windows", T, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, log: { level: 'warn' } });
  const run = await runFleetCli(['--url', server.wsUrl, '--mode', 'ramp', '--ramp-per-s', '1', '--devices', '3', '--duration', '16', '--window', '3', '--sessions-sample-s', '2', '--status-url', `${server.httpUrl}/status`]);
  const r = run.report!;
  assert.ok(r, run.stdout + run.stderr);
  assertReportShape(r);
  const windows = r['ramp']['windows'] as { server: Record<string, number | null> | null }[];
  assert.ok(windows.length >= 4, `${windows.length} windows`);
  assert.ok(windows.every((w) => w.server !== null), 'every window has server figures');
  assert.ok(windows.some((w) => (w.server!['records'] ?? 0) > 0 && w.server!['firstFrameP99Ms'] !== null), JSON.stringify(windows.map((w) => w.server)));
  assert.equal(windows.reduce((a, w) => a + (w.server!['records'] ?? 0), 0) <= r['server_own']['turns']['records'], true);
  assert.match(run.stderr, /srv ff p99 (\d|–)/);
});

test("talk against a peer server: the server's own records are not available, the run is clean", T, async () => {
  const f: FakeServer = await startFakeXiaozhi({ replyFrames: 10 });
  cleanup.push(() => f.close());
  const peer = await httpStub({ '/status': json({ rss_mb: 42, sessions: 2 }) });
  const r = await runFleet(opts(['--url', f.url, '--devices', '2', '--duration', '8', '--status-url', `${peer.url}/status`, '--sessions-sample-s', '1']));
  assertReportShape(r);
  assert.equal(r.exit_code, 0, JSON.stringify(r['errors']));
  const so = r['server_own'] as Record<string, any>;
  assert.equal(so['available'], false);
  assert.equal(so['turns'], null);
  assert.equal(peer.hits.get('/status/sessions'), 1);
  assert.ok((r['server'] as Record<string, any>)['rss_samples'].length >= 2, 'RSS sampling is unaffected');
  assert.match(summaryTable(r), /^server \(own records\)  not available: .*status\/sessions has no turn records/m);
});
