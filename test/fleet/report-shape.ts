// The documented shape of the fleet's JSON report (bench/fleet/report.ts): every section and key a
// dashboard or a CI script may read, with its JSON type.
import assert from 'node:assert/strict';

const LATENCY = ['count', 'mean', 'p50', 'p90', 'p99', 'min', 'max'];

function latencyBlock(v: unknown, where: string): void {
  assert.ok(typeof v === 'object' && v !== null, `${where} is an object`);
  assert.deepEqual(Object.keys(v).sort(), [...LATENCY].sort(), `${where} keys`);
  for (const k of LATENCY) {
    const x = (v as Record<string, unknown>)[k];
    assert.ok(typeof x === 'number' || (x === null && k !== 'count'), `${where}.${k} is a number${k === 'count' ? '' : ' or null'}`);
  }
}

function numbers(section: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of keys) assert.equal(typeof section[k], 'number', `${where}.${k} is a number`);
}

export function assertReportShape(r: Record<string, any>): void {
  assert.equal(r['tool'], 'xiaozhi-fleet');
  assert.equal(r['report_version'], 1);
  assert.ok(!Number.isNaN(Date.parse(r['started_at'])));
  numbers(r, ['duration_s', 'exit_code'], 'report');
  assert.equal(typeof r['options'], 'object');
  assert.ok(r['speech'] === null || typeof r['speech'] === 'object');
  numbers(r['devices'], ['requested', 'started', 'ota_ok', 'hello_ok', 'connected_peak', 'connected_at_end', 'mcp_initialized', 'mcp_listed', 'mcp_calls', 'mcp_ignored', 'closed_by_server', 'connect_failures'], 'devices');
  assert.equal(typeof r['devices']['close_codes'], 'object');
  assert.equal(typeof r['devices']['framing_versions'], 'object');
  numbers(r['turns'], ['started', 'answered', 'unsolicited', 'no_reply', 'stalled', 'underruns', 'turns_with_underrun', 'underrun_ms', 'overflow_frames', 'early_tts_stops'], 'turns');
  for (const k of ['eos_to_stt', 'eos_to_tts_start', 'eos_to_first_audio', 'tts_start_to_first_audio', 'tts_stop_after_playout', 'tts_stop_early_by', 'ota', 'connect', 'hello']) {
    latencyBlock(r['latency_ms'][k], `latency_ms.${k}`);
  }
  numbers(r['downlink'], ['frames', 'bytes', 'decoded_frames'], 'downlink');
  for (const k of ['inter_arrival_ms', 'jitter_ms', 'min_headroom_ms', 'reply_ms']) latencyBlock(r['downlink'][k], `downlink.${k}`);
  numbers(r['uplink'], ['frames', 'bytes', 'frames_per_s'], 'uplink');
  latencyBlock(r['uplink']['send_lateness_ms'], 'uplink.send_lateness_ms');
  assert.equal(typeof r['violations']['total'], 'number');
  assert.equal(typeof r['violations']['by_kind'], 'object');
  assert.ok(Array.isArray(r['violations']['examples']));
  assert.equal(typeof r['unknown_message_types'], 'object');
  assert.equal(typeof r['errors'], 'object');
  numbers(r['client'], ['cpu_pct_mean', 'cpu_pct_peak', 'rss_mb_peak', 'loop_delay_p99_ms', 'loop_delay_max_ms', 'timer_wakeups'], 'client');
  assert.equal(typeof r['client']['bottleneck'], 'boolean');
  assert.equal(typeof r['client']['note'], 'string');
  assert.ok(r['server'] === null || (typeof r['server'] === 'object' && Array.isArray(r['server']['rss_samples'])));
  assert.ok(r['ramp'] === null || (typeof r['ramp'] === 'object' && Array.isArray(r['ramp']['windows'])));
  if (r['ramp']) assert.ok('server_at_knee' in r['ramp'] && 'server_at_break' in r['ramp'], 'ramp server figures');
  serverOwnShape(r['server_own']);
}

/** `server_own`: null, or the block described in report.ts (sections null when not available). */
function serverOwnShape(so: Record<string, any> | null): void {
  if (so === null) return;
  assert.equal(typeof so, 'object', 'server_own is null or an object');
  assert.equal(typeof so['available'], 'boolean');
  assert.equal(typeof so['sessions_url'], 'string');
  numbers(so, ['start_gap_ms'], 'server_own');
  assert.ok(['option', 'status', 'default'].includes(so['start_gap_source']));
  numbers(so['reads']['sessions'], ['ok', 'failed', 'skipped', 'max_kb', 'max_ms'], 'server_own.reads.sessions');
  if (so['turns'] !== null) numbers(so['turns'], ['records', 'interrupted', 'replies_begun', 'missed', 'sessions', 'foreign_sessions_ignored', 'first_frame_before_gap'], 'server_own.turns');
  if (so['latency_ms'] !== null) {
    for (const k of ['decision_to_tts_start', 'decision_to_first_frame_net', 'decision_to_first_frame', 'decision_to_asr_final']) latencyBlock(so['latency_ms'][k], `server_own.latency_ms.${k}`);
  }
  if (so['pacer'] !== null) numbers(so['pacer'], ['samples', 'stale_samples', 'frames_sent', 'backpressured', 'streams_peak'], 'server_own.pacer');
  if (so['event_loop_ms'] !== null) numbers(so['event_loop_ms'], ['samples'], 'server_own.event_loop_ms');
  if (!so['available']) for (const k of ['turns', 'latency_ms', 'pacer', 'event_loop_ms']) assert.equal(so[k], null, `server_own.${k} without data`);
}
