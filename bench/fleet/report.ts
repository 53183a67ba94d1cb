/**
 * The fleet's outputs: the JSON report (shape below, versioned by `report_version`), the summary
 * table printed at the end, and the one-line progress shown while running.
 *
 * Report shape (times in ms unless the key says otherwise; a latency block is
 * `{count, mean, p50, p90, p99, min, max}` with nulls when nothing was measured):
 *   tool, report_version, started_at, duration_s, exit_code, options (token redacted), speech
 *   devices     requested, started, ota_ok, hello_ok, connected_peak, connected_at_end,
 *               mcp_initialized, mcp_listed, mcp_calls, mcp_ignored, closed_by_server,
 *               close_codes, connect_failures, framing_versions {version: devices}
 *   turns       started, answered, unsolicited, no_reply, stalled, underruns,
 *               turns_with_underrun, underrun_ms, overflow_frames, early_tts_stops
 *   latency_ms  eos_to_stt, eos_to_tts_start, eos_to_first_audio, tts_start_to_first_audio,
 *               tts_stop_after_playout, tts_stop_early_by, ota, connect, hello
 *   downlink    frames, bytes, decoded_frames, inter_arrival_ms, jitter_ms, min_headroom_ms, reply_ms
 *   uplink      frames, bytes, frames_per_s, send_lateness_ms
 *   violations  total, by_kind, examples[{kind, device, detail}]
 *   unknown_message_types, errors {kind: {count, first}}
 *   client      cpu_pct_mean, cpu_pct_peak, rss_mb_peak, loop_delay_p99_ms, loop_delay_max_ms,
 *               timer_wakeups, bottleneck, note
 *   server      null without --status-url; else status_url, rss_samples[{t, rss_mb, sessions,
 *               devices}], rss_growth_mb_per_min, idle {baseline_mb, half, full,
 *               per_device_kib, slope_kib_per_device}
 *   server_own  the server's own records (talk/ramp/soak with --status-url or --sessions-url;
 *               else null): available (false: a peer server without them), sessions_url,
 *               status_url, start_gap_ms, start_gap_source (option | status | default),
 *               reads {sessions, status: {ok, failed, skipped, not_available, last_error, max_kb,
 *               max_ms}},
 *               turns (null if not available) {records, interrupted, replies_begun, missed, sessions,
 *               foreign_sessions_ignored, first_frame_before_gap, asr_share_of_tts_start_pct},
 *               latency_ms (null if not available) {decision_to_tts_start,
 *               decision_to_first_frame_net (minus the start gap), decision_to_first_frame,
 *               decision_to_asr_final},
 *               pacer (null if not available) {samples, stale_samples, lateness_p99_ms_max,
 *               lateness_p99_ms_median, lateness_max_ms, frames_sent, backpressured, streams_peak},
 *               event_loop_ms (null if not available) {samples, windows_predate_run, p99_max,
 *               p99_median, max}
 *   ramp        null unless --mode ramp; else knee_devices, broke_at_devices, reason,
 *               client_limited, server_at_knee, server_at_break, windows[] (each with `server`:
 *               {records, ttsStartP99Ms, firstFrameP99Ms, sendLateP99Ms, loopP99Ms} or null)
 */
import { roundSummary, type Histogram } from './histogram.js';
import type { Metrics } from './metrics.js';
import type { FleetOptions } from './options.js';
import type { RampJudge, RampOutcome } from './ramp.js';
import type { ServerWindow } from './server-own.js';
import { slope, type RssSample } from './server-status.js';
import type { SpeechSet } from './speech.js';

export const REPORT_VERSION = 1;

export interface ClientStats {
  cpuPctMean: number;
  cpuPctPeak: number;
  rssMbPeak: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  wakeups: number;
}

export interface IdleMemory {
  baselineMb: number;
  half: { devices: number; rssMb: number } | undefined;
  full: { devices: number; rssMb: number };
}

export type FleetReport = Record<string, unknown> & { exit_code: number };

export interface ReportInput {
  opts: FleetOptions;
  startedAt: Date;
  durationS: number;
  metrics: Metrics;
  client: ClientStats;
  speech: SpeechSet | undefined;
  rss: RssSample[];
  idleMemory: IdleMemory | undefined;
  ramp: RampOutcome | undefined;
  /** `serverOwnReport()`, or null when not sampled. */
  serverOwn?: Record<string, unknown> | null;
  connectFailures: number;
}

const r1 = (v: number) => (Number.isFinite(v) ? Math.round(v * 10) / 10 : null);
const lat = (h: Histogram) => roundSummary(h.summary());
const obj = <K extends string | number>(m: Map<K, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1]));

/** Whether the simulator, not the server, may have limited the run. */
function clientVerdict(c: ClientStats, sendLateP99: number, talking: boolean): { bottleneck: boolean; note: string } {
  const why: string[] = [];
  if (c.cpuPctPeak >= 90) why.push(`CPU peaked at ${Math.round(c.cpuPctPeak)}% of a core`);
  // Timing only matters while audio flows; an idle run's connect storm may stall the loop harmlessly.
  if (talking && sendLateP99 > 20) why.push(`its own frame sends ran ${Math.round(sendLateP99)} ms late (p99)`);
  if (talking && c.loopDelayP99Ms > 50) why.push(`its event loop stalled ${Math.round(c.loopDelayP99Ms)} ms (p99)`);
  if (why.length && !talking) {
    // Idle runs only time the connection storm; memory and connection counts are unaffected.
    return { bottleneck: true, note: `${why.join(', ')} while connecting: OTA/connect/hello latencies include the simulator's own queueing (use --ramp-per-s or --concurrency to connect more gently)` };
  }
  return why.length
    ? { bottleneck: true, note: `the simulator may have been the bottleneck: ${why.join(', ')}; run fewer devices per process` }
    : { bottleneck: false, note: talking ? 'the simulator kept up (CPU below 90% of a core, sends on time)' : 'the simulator kept up (CPU below 90% of a core)' };
}

export function buildReport(x: ReportInput): FleetReport {
  const { metrics: m, opts, client } = x;
  const sendLate = m.h.sendLateness;
  const verdict = clientVerdict(client, sendLate.count ? sendLate.quantile(0.99) : 0, opts.mode !== 'idle');
  let exit = 0;
  if (m.violations > 0) exit = 1;
  else if (m.helloOk === 0 || (opts.mode !== 'ramp' && x.connectFailures > 0)) exit = 3;

  let server: Record<string, unknown> | null = null;
  if (opts.statusUrl) {
    const half = x.rss.filter((s) => s.t >= x.durationS / 2);
    const growth = slope(half.map((s) => ({ x: s.t / 60, y: s.rssMb })));
    const im = x.idleMemory;
    server = {
      status_url: opts.statusUrl,
      rss_samples: x.rss.map((s) => ({ t: s.t, rss_mb: s.rssMb, sessions: s.sessions, devices: s.devices })),
      // Growth only means something while the load is steady: talk and soak runs, not idle's
      // connection storm nor a ramp that keeps adding devices.
      rss_growth_mb_per_min: (opts.mode === 'soak' || opts.mode === 'talk') && half.length >= 3 && Number.isFinite(growth) ? Math.round(growth * 1000) / 1000 : null,
      idle: im
        ? {
            baseline_mb: im.baselineMb,
            half: im.half ? { devices: im.half.devices, rss_mb: im.half.rssMb } : null,
            full: { devices: im.full.devices, rss_mb: im.full.rssMb },
            per_device_kib: im.full.devices > 0 ? r1(((im.full.rssMb - im.baselineMb) * 1024) / im.full.devices) : null,
            slope_kib_per_device: im.half && im.full.devices > im.half.devices ? r1(((im.full.rssMb - im.half.rssMb) * 1024) / (im.full.devices - im.half.devices)) : null,
          }
        : null,
    };
  }

  return {
    tool: 'xiaozhi-fleet',
    report_version: REPORT_VERSION,
    started_at: x.startedAt.toISOString(),
    duration_s: r1(x.durationS),
    exit_code: exit,
    options: { ...opts, token: opts.token === undefined ? undefined : '(redacted)' },
    speech: x.speech ? { source: x.speech.source, utterances: x.speech.utterances.length, voiced_ms: x.speech.utterances.map((u) => u.voicedMs) } : null,
    devices: {
      requested: opts.devices,
      started: m.started,
      ota_ok: m.otaOk,
      hello_ok: m.helloOk,
      connected_peak: m.connectedPeak,
      connected_at_end: m.connected,
      mcp_initialized: m.mcpInitialized,
      mcp_listed: m.mcpListed,
      mcp_calls: m.mcpCalls,
      mcp_ignored: m.mcpIgnored,
      closed_by_server: m.closedByServer,
      close_codes: obj(m.closeCodes),
      connect_failures: x.connectFailures,
      framing_versions: obj(m.framings),
    },
    turns: {
      started: m.turnsStarted,
      answered: m.answered,
      unsolicited: m.unsolicited,
      no_reply: m.noReply,
      stalled: m.stalled,
      underruns: m.underruns,
      turns_with_underrun: m.turnsWithUnderrun,
      underrun_ms: r1(m.underrunMs),
      overflow_frames: m.overflowFrames,
      early_tts_stops: m.earlyStops,
    },
    latency_ms: {
      eos_to_stt: lat(m.h.eosToStt),
      eos_to_tts_start: lat(m.h.eosToTtsStart),
      eos_to_first_audio: lat(m.h.eosToFirstAudio),
      tts_start_to_first_audio: lat(m.h.ttsStartToFirstAudio),
      tts_stop_after_playout: lat(m.h.ttsStopAfterPlayout),
      tts_stop_early_by: lat(m.h.ttsStopEarlyBy),
      ota: lat(m.h.otaMs),
      connect: lat(m.h.connectMs),
      hello: lat(m.h.helloMs),
    },
    downlink: {
      frames: m.downFrames,
      bytes: m.downBytes,
      decoded_frames: m.decoded,
      inter_arrival_ms: lat(m.h.interArrival),
      jitter_ms: lat(m.h.jitter),
      min_headroom_ms: lat(m.h.minHeadroom),
      reply_ms: lat(m.h.replyMs),
    },
    uplink: { frames: m.upFrames, bytes: m.upBytes, frames_per_s: r1(m.upFrames / Math.max(0.001, x.durationS)), send_lateness_ms: lat(sendLate) },
    violations: { total: m.violations, by_kind: obj(m.byKind), examples: m.examples },
    unknown_message_types: obj(m.unknownTypes),
    errors: Object.fromEntries([...m.errors].map(([k, n]) => [k, { count: n, first: m.errorDetails.get(k) ?? null }])),
    client: {
      cpu_pct_mean: r1(client.cpuPctMean),
      cpu_pct_peak: r1(client.cpuPctPeak),
      rss_mb_peak: r1(client.rssMbPeak),
      loop_delay_p99_ms: r1(client.loopDelayP99Ms),
      loop_delay_max_ms: r1(client.loopDelayMaxMs),
      timer_wakeups: client.wakeups,
      ...verdict,
    },
    server,
    server_own: x.serverOwn ?? null,
    ramp: x.ramp
      ? {
          knee_devices: x.ramp.kneeDevices,
          broke_at_devices: x.ramp.brokeAtDevices,
          reason: x.ramp.reason,
          client_limited: x.ramp.clientLimited,
          server_at_knee: x.ramp.serverAtKnee,
          server_at_break: x.ramp.serverAtBreak,
          windows: x.ramp.windows,
        }
      : null,
  };
}

const fmt = (v: unknown, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? (Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(d)) : '–');

/**
 * `srvFfP99`: the server's own decision → first frame (minus the start gap) p99, of the last ramp
 * window or of the run so far; undefined when not sampled, null when nothing recorded yet.
 */
export function progressLine(p: { elapsedS: number; mode: string; requested: number; metrics: Metrics; cpuPct: number; ramp: RampJudge | undefined; srvFfP99?: number | null }): string {
  const m = p.metrics;
  const e = m.h.eosToFirstAudio;
  if (p.mode === 'idle') {
    return [
      `[${p.elapsedS.toFixed(0).padStart(4)}s] idle`,
      `devices ${m.connected}/${p.requested}`,
      `mcp listed ${m.mcpListed}`,
      `hello p99 ${fmt(m.h.helloMs.count ? m.h.helloMs.quantile(0.99) : NaN)} ms`,
      `failed ${[...m.errors.values()].reduce((a, b) => a + b, 0)}`,
      `violations ${m.violations}`,
      `cpu ${Math.round(p.cpuPct)}%`,
    ].join('  ');
  }
  const parts = [
    `[${p.elapsedS.toFixed(0).padStart(4)}s] ${p.mode}`,
    `devices ${m.connected}/${p.requested}`,
    `turns ${m.answered}${m.noReply + m.stalled ? ` (+${m.noReply + m.stalled} failed)` : ''}`,
    `eos→audio p50 ${fmt(e.count ? e.quantile(0.5) : NaN)} p99 ${fmt(e.count ? e.quantile(0.99) : NaN)} ms`,
    ...(p.srvFfP99 === undefined ? [] : [`srv ff p99 ${fmt(p.srvFfP99 === null ? NaN : Math.round(p.srvFfP99 * 10) / 10)} ms`]),
    `underruns ${m.underruns}`,
    `violations ${m.violations}`,
    `cpu ${Math.round(p.cpuPct)}%`,
  ];
  const w = p.ramp?.last;
  if (w) parts.push(`window ${w.ok === null ? '–' : w.ok ? 'ok' : `FAIL (${w.why.join('; ')})`}`);
  return parts.join('  ');
}

/** The human summary printed at the end of a run. */
export function summaryTable(rep: FleetReport): string {
  const o = rep['options'] as FleetOptions;
  const d = rep['devices'] as Record<string, number>;
  const t = rep['turns'] as Record<string, number>;
  const l = rep['latency_ms'] as Record<string, Record<string, number | null>>;
  const dl = rep['downlink'] as Record<string, unknown>;
  const ul = rep['uplink'] as Record<string, unknown>;
  const v = rep['violations'] as { total: number; by_kind: Record<string, number> };
  const c = rep['client'] as Record<string, unknown>;
  const s = rep['server'] as Record<string, any> | null;
  const ramp = rep['ramp'] as Record<string, unknown> | null;
  const errors = rep['errors'] as Record<string, { count: number; first: string | null }>;
  const out: string[] = [];
  const versions = (rep['devices'] as { framing_versions: Record<string, number> }).framing_versions;
  const framing = Object.keys(versions).map((k) => `v${k}`).join('+') || '–';
  out.push(`xiaozhi fleet · ${o.mode} · ${fmt(o.devices)} devices · ${fmt(rep['duration_s'])} s · ${o.ota ?? o.url} · framing ${framing}${o.mode === 'idle' ? '' : ` · listen ${o.listenMode}`}`);
  out.push('');
  out.push(`devices     hello ${fmt(d['hello_ok'])}/${fmt(d['requested'])}  peak ${fmt(d['connected_peak'])}  at end ${fmt(d['connected_at_end'])}  ota ${fmt(d['ota_ok'])}  mcp init ${fmt(d['mcp_initialized'])} listed ${fmt(d['mcp_listed'])} calls ${fmt(d['mcp_calls'])}  failed ${fmt(d['connect_failures'])}  closed by server ${fmt(d['closed_by_server'])}`);
  if (o.mode !== 'idle') {
    out.push(`turns       started ${fmt(t['started'])}  answered ${fmt(t['answered'])}  no reply ${fmt(t['no_reply'])}  stalled ${fmt(t['stalled'])}  unsolicited ${fmt(t['unsolicited'])}`);
    out.push(`playback    underruns ${fmt(t['underruns'])} (${fmt(t['turns_with_underrun'])} turns, ${fmt(t['underrun_ms'])} ms)  overflow drops ${fmt(t['overflow_frames'])}  early tts stop ${fmt(t['early_tts_stops'])}`);
    out.push(`audio       up ${fmt(ul['frames'])} frames (${fmt(ul['frames_per_s'])}/s)  down ${fmt(dl['frames'])} frames, ${fmt(dl['decoded_frames'])} decoded`);
  }
  out.push('');
  const rows: [string, Record<string, number | null> | undefined][] = [
    ['ota', l['ota']],
    ['connect (upgrade)', l['connect']],
    ['hello round trip', l['hello']],
    ...(o.mode === 'idle'
      ? []
      : ([
          ['eos → stt', l['eos_to_stt']],
          ['eos → tts start', l['eos_to_tts_start']],
          ['eos → first audio', l['eos_to_first_audio']],
          ['tts start → audio', l['tts_start_to_first_audio']],
          ['tts stop after playout', l['tts_stop_after_playout']],
          ['tts stop early by', l['tts_stop_early_by']],
          ['frame inter-arrival', dl['inter_arrival_ms'] as Record<string, number | null>],
          ['jitter (RFC 3550)', dl['jitter_ms'] as Record<string, number | null>],
          ['buffer headroom (min)', dl['min_headroom_ms'] as Record<string, number | null>],
          ['uplink send lateness', ul['send_lateness_ms'] as Record<string, number | null>],
        ] as [string, Record<string, number | null>][])),
  ];
  out.push(...latencyTable(rows), '');
  if (s) {
    const idle = s['idle'] as Record<string, any> | null;
    const samples = s['rss_samples'] as { rss_mb: number }[];
    const peak = samples.reduce((m, x) => Math.max(m, x.rss_mb), 0);
    const rssLine = samples.length ? `rss first ${fmt(samples[0]!.rss_mb)}  peak ${fmt(peak)}  last ${fmt(samples.at(-1)!.rss_mb)} MB` : 'rss not sampled';
    out.push(
      `server      ${rssLine}` +
        (idle
          ? `\n            idle memory: baseline ${fmt(idle['baseline_mb'])} MB, ${fmt(idle['half']?.['rss_mb'])} MB at ${fmt(idle['half']?.['devices'])}, ${fmt(idle['full']['rss_mb'])} MB at ${fmt(idle['full']['devices'])} devices → ${fmt(idle['per_device_kib'])} KiB/device over baseline, slope ${fmt(idle['slope_kib_per_device'])} KiB/device${idle['full']['devices'] - (idle['half']?.['devices'] ?? 0) < 2000 ? ' (RSS moves by MBs with GC: the slope needs ≥ 4,000 devices to mean much)' : ''}`
          : '') +
        (s['rss_growth_mb_per_min'] !== null ? `  growth ${fmt(s['rss_growth_mb_per_min'], 3)} MB/min (second half)` : ''),
    );
  }
  const own = rep['server_own'] as Record<string, any> | null | undefined;
  if (own) out.push(...serverOwnLines(own), '');
  if (ramp) {
    out.push(`ramp        knee ${fmt(ramp['knee_devices'])} devices, broke at ${fmt(ramp['broke_at_devices'])}: ${ramp['reason']}${ramp['client_limited'] ? '  (client-limited!)' : ''}`);
    const atKnee = ramp['server_at_knee'] as ServerWindow | null;
    const atBreak = ramp['server_at_break'] as ServerWindow | null;
    if (atKnee || atBreak) {
      out.push(
        `            server's own: ${ramp['knee_devices'] === null && ramp['broke_at_devices'] === null ? 'last passing window' : 'at the knee'} ${atKnee ? serverWindowText(atKnee) : '–'}` +
          (ramp['broke_at_devices'] !== null ? `; at the break ${atBreak ? serverWindowText(atBreak) : '–'}` : ''),
      );
    }
  }
  out.push(`client      cpu mean ${fmt(c['cpu_pct_mean'], 0)}% peak ${fmt(c['cpu_pct_peak'], 0)}% of one core  rss ${fmt(c['rss_mb_peak'], 0)} MB  loop p99 ${fmt(c['loop_delay_p99_ms'])} ms — ${c['note']}`);
  out.push(`violations  ${v.total === 0 ? 'none' : `${fmt(v.total)}: ${Object.entries(v.by_kind).map(([k, n]) => `${k} ${fmt(n)}`).join(', ')}`}`);
  const unknown = rep['unknown_message_types'] as Record<string, number>;
  if (Object.keys(unknown).length) out.push(`unknown     message types ${Object.entries(unknown).map(([k, n]) => `${k} ${fmt(n)}`).join(', ')} (allowed; counted)`);
  for (const [k, e] of Object.entries(errors)) out.push(`error       ${k} ×${fmt(e.count)}${e.first ? `: ${e.first}` : ''}`);
  return out.join('\n');
}

function latencyTable(rows: [string, Record<string, number | null> | null | undefined][]): string[] {
  const head = ['ms', 'count', 'p50', 'p90', 'p99', 'max'];
  const body = rows.map(([name, h]) => [name, fmt(h?.['count']), fmt(h?.['p50']), fmt(h?.['p90']), fmt(h?.['p99']), fmt(h?.['max'])]);
  const widths = head.map((hd, i) => Math.max(hd.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
}

/** One ramp window's server figures, short. */
export function serverWindowText(w: ServerWindow): string {
  const ms = (v: number | null) => (v === null ? '–' : `${fmt(v)} ms`);
  return `decision → first frame − gap p99 ${ms(w.firstFrameP99Ms)}, → tts start p99 ${ms(w.ttsStartP99Ms)} (${fmt(w.records)} turns), send lateness p99 ${ms(w.sendLateP99Ms)}, event loop p99 ${ms(w.loopP99Ms)}`;
}

/** The summary's "server (own records)" section, from the report's `server_own` block. */
export function serverOwnLines(so: Record<string, any>): string[] {
  const reads = so['reads'] as { sessions: Record<string, any>; status: Record<string, any> | null };
  const readText = (what: string, c: Record<string, any> | null) =>
    c === null
      ? `${what} not read`
      : `${what} ${fmt(c['ok'])} ok, ${fmt(c['failed'])} failed${c['skipped'] ? `, ${fmt(c['skipped'])} skipped (previous read still running)` : ''}${c['not_available'] ? ' (not available)' : ''}` +
        (c['ok'] ? `, up to ${fmt(c['max_kb'])} KiB / ${fmt(c['max_ms'])} ms` : '') +
        (c['last_error'] ? ` — last error: ${c['last_error']}` : '');
  const readsLine = `            reads: ${readText('/status/sessions', reads.sessions)}; ${readText('/status', reads.status)}`;
  if (!so['available']) {
    const why = [
      reads.sessions['not_available'] ? `${so['sessions_url']} has no turn records` : reads.sessions['ok'] === 0 ? `${so['sessions_url']} could not be read` : 'no session of this fleet was listed',
      so['status_url'] === null ? 'no --status-url for the pacer and event loop' : reads.status?.['not_available'] ? `${so['status_url']} has no pacer or event_loop_ms` : reads.status?.['ok'] === 0 ? `${so['status_url']} could not be read` : '',
    ].filter(Boolean);
    return [`server (own records)  not available: ${why.join('; ')}`, readsLine];
  }
  const out: string[] = [];
  const t = so['turns'] as Record<string, any> | null;
  const gapNote = { option: '--start-gap-ms', status: 'from /status', default: 'our default; set --start-gap-ms if the server differs' }[so['start_gap_source'] as string] ?? '';
  out.push(
    `server (own records)  from the end-of-speech decision · start gap ${fmt(so['start_gap_ms'])} ms (${gapNote})` +
      (t
        ? ` · ${fmt(t['records'])} turns${t['interrupted'] ? ` (${fmt(t['interrupted'])} interrupted)` : ''}` +
          (t['missed'] ? `, ${fmt(t['missed'])} missed (ended and gone before a read: sessions closed, or more than 5 turns between reads)` : '')
        : ' · turn records not available'),
  );
  const l = so['latency_ms'] as Record<string, Record<string, number | null>> | null;
  if (l) {
    out.push(
      ...latencyTable([
        ['decision → tts start', l['decision_to_tts_start']],
        ['decision → first frame − gap', l['decision_to_first_frame_net']],
        ['decision → asr final', l['decision_to_asr_final']],
      ]),
    );
    if (t && t['asr_share_of_tts_start_pct'] !== null) out.push(`            asr final is ${fmt(t['asr_share_of_tts_start_pct'])}% of decision → tts start (mean over turns with both)`);
    if (t && t['first_frame_before_gap'] > 0) out.push(`            ${fmt(t['first_frame_before_gap'])} turns sent their first frame sooner than the ${fmt(so['start_gap_ms'])} ms gap: is --start-gap-ms right?`);
  }
  const p = so['pacer'] as Record<string, any> | null;
  out.push(
    p
      ? `pacer       send lateness p99 ${fmt(p['lateness_p99_ms_max'])} ms (highest of ${fmt(p['samples'])} read${p['samples'] === 1 ? '' : 's'}, median ${fmt(p['lateness_p99_ms_median'])}), max ${fmt(p['lateness_max_ms'])} ms · ${fmt(p['frames_sent'])} frames · backpressured ${fmt(p['backpressured'])} · streams peak ${fmt(p['streams_peak'])}` +
          (p['samples'] === 0 ? ` (no read whose lateness window lay inside this run${p['stale_samples'] ? `; ${fmt(p['stale_samples'])} reads still held older frames` : ''})` : '')
      : 'pacer       not available',
  );
  const e = so['event_loop_ms'] as Record<string, any> | null;
  out.push(
    e
      ? `event loop  main thread p99 ${fmt(e['p99_max'])} ms (highest of ${fmt(e['samples'])} window${e['samples'] === 1 ? '' : 's'}, median ${fmt(e['p99_median'])}), max ${fmt(e['max'])} ms${e['windows_predate_run'] ? ' (every window began before the run)' : ''}`
      : 'event loop  not available',
  );
  out.push(readsLine);
  return out;
}
