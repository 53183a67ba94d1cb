/**
 * Command-line options of `npm run fleet` and their help text. Parsing is strict: an unknown
 * flag or a bad value is a usage error (exit 2) rather than a silently different run.
 */
import { parseArgs } from 'node:util';
import type { ListenMode } from './device.js';
import { defaultCacheDir } from './speech.js';

export type Mode = 'talk' | 'idle' | 'ramp' | 'soak';

export interface FleetOptions {
  url: string | undefined;
  ota: string | undefined;
  devices: number;
  mode: Mode;
  durationS: number;
  /** Devices added per second; 0 = as fast as --concurrency allows. */
  rampPerS: number;
  protocolVersion: 1 | 2 | 3 | undefined;
  token: string | undefined;
  authOff: boolean;
  report: string | undefined;
  speech: string;
  listenMode: ListenMode;
  seed: number;
  statusUrl: string | undefined;
  /** Our server's per-session turn records; default: /sessions under --status-url. */
  sessionsUrl: string | undefined;
  /** How often to read --sessions-url, seconds. */
  sessionsSampleS: number;
  /** The server's audio.start_gap_ms; undefined = not given (the server's /status, else 40). */
  startGapMs: number | undefined;
  concurrency: number;
  replyTimeoutS: number;
  helloTimeoutS: number;
  decodeSample: number;
  maxP99Ms: number;
  maxUnderruns: number;
  windowS: number;
  sampleS: number;
  cacheDir: string;
  mcpExtraTools: number;
  quiet: boolean;
}

export const USAGE = `xiaozhi fleet simulator: many simulated xiaozhi devices against any xiaozhi server

usage: npm run fleet -- (--url ws://host:port/path/ | --ota http://host:port/xiaozhi/ota/) [options]

target
  --url URL               WebSocket URL to connect to (with --ota: overrides the URL OTA hands out)
  --ota URL               do each device's OTA check first, then use its websocket url/token/version
  --token T               token to send (Authorization: Bearer T) instead of OTA's
  --auth-off              send no Authorization header at all
  --protocol-version N    binary framing 1, 2 or 3 (default: OTA's websocket.version, else 1)
  --status-url URL        the server's status document (ours: http://host:port/status), to sample
                          its RSS: per-device memory in idle mode, growth over time in soak mode;
                          in talk, ramp and soak modes also the server's own records (ours): its
                          pacer send lateness and main event-loop delay from /status, and each
                          turn's end-of-speech decision → tts start / first frame from
                          /status/sessions
  --sessions-url URL      the per-session turn records (default: /sessions under --status-url)
  --sessions-sample-s S   how often to read them (default 5; the document grows with sessions)
  --start-gap-ms MS       the server's audio.start_gap_ms, subtracted from decision → first frame
                          (default: from /status if it says, else 40, our default)

load
  --mode M                talk | idle | ramp | soak (default talk)
                            talk  devices repeat: ~3 s of speech, 0.5 s silence, wait for the reply
                                  to finish playing, again
                            idle  connect (OTA, hello, answer MCP) and stay connected: density
                            ramp  add talking devices at --ramp-per-s until latency or underruns
                                  break the thresholds; reports the knee
                            soak  talk for a long time, sampling the server's RSS
  --devices N             devices (ramp: the most it will add) (default 10; ramp 2000)
  --duration S            seconds (default talk 60, idle 10 after all connected, ramp 600, soak 600)
  --ramp-per-s R          devices added per second (default: ramp 2, others as fast as --concurrency)
  --concurrency N         connection attempts in flight at once (default 200)
  --listen-mode M         auto | manual | realtime (default auto)
  --speech S              builtin (espeak-ng sentences, cached) or a folder of .wav files
  --reply-timeout S       a turn with no tts start (or no tts stop) this long counts as failed (default 10)
  --hello-timeout S       server hello deadline, as the firmware's (default 10)
  --decode-sample F       fraction of devices that really decode downlink Opus (default 0.05, at least 1)
  --mcp-extra-tools N     board tools added to the device's MCP list, to make tools/list page (default 0)
  --seed N                device ids and timing jitter; same seed = same devices (default 1)

ramp thresholds (evaluated per window; two failing windows in a row end the ramp)
  --max-p99-ms MS         end of speech → first audio p99 (default 1000)
  --max-underruns N       playback underruns per window (default 0)
  --window S              evaluation window (default 5)

output
  --report FILE           write the JSON report here
  --sample-s S            server RSS sampling period with --status-url (default 5)
  --cache-dir DIR         where espeak-ng fixtures are cached (default ${defaultCacheDir()})
  --quiet                 no progress line
  -h, --help              this text

exit status: 0 clean, 1 protocol violations seen, 2 usage error, 3 devices failed to connect or
the run could not start (see the report's errors)`;

export class UsageError extends Error {}

function num(name: string, v: string | undefined, def: number, check: (n: number) => boolean, what: string): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} ${v}: expected ${what}`);
  return n;
}

function url(name: string, v: string | undefined, schemes: string[]): string | undefined {
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`--${name} ${v}: not a URL`);
  }
  if (!schemes.includes(u.protocol)) throw new UsageError(`--${name} ${v}: expected ${schemes.join(' or ')} URL`);
  return v;
}

export function parseOptions(argv: string[]): FleetOptions | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        ota: { type: 'string' },
        token: { type: 'string' },
        'auth-off': { type: 'boolean' },
        'protocol-version': { type: 'string' },
        'status-url': { type: 'string' },
        'sessions-url': { type: 'string' },
        'sessions-sample-s': { type: 'string' },
        'start-gap-ms': { type: 'string' },
        mode: { type: 'string' },
        devices: { type: 'string' },
        duration: { type: 'string' },
        'ramp-per-s': { type: 'string' },
        concurrency: { type: 'string' },
        'listen-mode': { type: 'string' },
        speech: { type: 'string' },
        'reply-timeout': { type: 'string' },
        'hello-timeout': { type: 'string' },
        'decode-sample': { type: 'string' },
        'mcp-extra-tools': { type: 'string' },
        seed: { type: 'string' },
        'max-p99-ms': { type: 'string' },
        'max-underruns': { type: 'string' },
        window: { type: 'string' },
        report: { type: 'string' },
        'sample-s': { type: 'string' },
        'cache-dir': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values['help']) return 'help';
  const s = (k: string) => values[k] as string | undefined;
  const mode = (s('mode') ?? 'talk') as Mode;
  if (!['talk', 'idle', 'ramp', 'soak'].includes(mode)) throw new UsageError(`--mode ${mode}: expected talk, idle, ramp or soak`);
  const listenMode = (s('listen-mode') ?? 'auto') as ListenMode;
  if (!['auto', 'manual', 'realtime'].includes(listenMode)) throw new UsageError(`--listen-mode ${listenMode}: expected auto, manual or realtime`);
  const pv = s('protocol-version');
  if (pv !== undefined && !['1', '2', '3'].includes(pv)) throw new UsageError(`--protocol-version ${pv}: expected 1, 2 or 3`);
  const opts: FleetOptions = {
    url: url('url', s('url'), ['ws:', 'wss:']),
    ota: url('ota', s('ota'), ['http:', 'https:']),
    token: s('token'),
    authOff: values['auth-off'] === true,
    protocolVersion: pv === undefined ? undefined : (Number(pv) as 1 | 2 | 3),
    statusUrl: url('status-url', s('status-url'), ['http:', 'https:']),
    sessionsUrl: url('sessions-url', s('sessions-url'), ['http:', 'https:']),
    sessionsSampleS: num('sessions-sample-s', s('sessions-sample-s'), 5, (n) => n >= 1, 'seconds ≥ 1'),
    startGapMs: s('start-gap-ms') === undefined ? undefined : num('start-gap-ms', s('start-gap-ms'), 0, (n) => n >= 0 && n <= 1000, 'ms 0..1000'),
    mode,
    devices: num('devices', s('devices'), mode === 'ramp' ? 2000 : 10, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1'),
    durationS: num('duration', s('duration'), { talk: 60, idle: 10, ramp: 600, soak: 600 }[mode], (n) => n > 0, 'seconds > 0'),
    rampPerS: num('ramp-per-s', s('ramp-per-s'), mode === 'ramp' ? 2 : 0, (n) => n >= 0, 'devices per second ≥ 0'),
    concurrency: num('concurrency', s('concurrency'), 200, (n) => Number.isInteger(n) && n >= 1, 'a whole number ≥ 1'),
    listenMode,
    speech: s('speech') ?? 'builtin',
    replyTimeoutS: num('reply-timeout', s('reply-timeout'), 10, (n) => n > 0, 'seconds > 0'),
    helloTimeoutS: num('hello-timeout', s('hello-timeout'), 10, (n) => n > 0, 'seconds > 0'),
    decodeSample: num('decode-sample', s('decode-sample'), 0.05, (n) => n >= 0 && n <= 1, 'a fraction 0..1'),
    mcpExtraTools: num('mcp-extra-tools', s('mcp-extra-tools'), 0, (n) => Number.isInteger(n) && n >= 0 && n <= 1000, 'a whole number 0..1000'),
    seed: num('seed', s('seed'), 1, (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, 'a whole number 0..2^32-1'),
    maxP99Ms: num('max-p99-ms', s('max-p99-ms'), 1000, (n) => n > 0, 'ms > 0'),
    maxUnderruns: num('max-underruns', s('max-underruns'), 0, (n) => Number.isInteger(n) && n >= 0, 'a whole number ≥ 0'),
    windowS: num('window', s('window'), 5, (n) => n >= 1, 'seconds ≥ 1'),
    sampleS: num('sample-s', s('sample-s'), 5, (n) => n >= 0.5, 'seconds ≥ 0.5'),
    report: s('report'),
    cacheDir: s('cache-dir') ?? defaultCacheDir(),
    quiet: values['quiet'] === true,
  };
  if (!opts.url && !opts.ota) throw new UsageError('give --url ws://… or --ota http://…/xiaozhi/ota/ (or both)');
  if (opts.token !== undefined && opts.authOff) throw new UsageError('--token and --auth-off contradict each other');
  return opts;
}
