/**
 * The configuration schema: the single source of truth for what a config file may say. The static
 * `Config` type is inferred from it, and `config.yaml` beside this file documents every key.
 *
 * Sections are strict (an unknown key is a reported problem, usually a typo); vendor options under
 * `providers` and `store` pass through untouched because each vendor validates its own later.
 * Rules that involve more than one field live in `crossCheck`, which runs over whatever the
 * document holds even when other fields are broken, so one run reports every problem.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { dialogueShape, toolsSchema } from './dialogue.js';
import { mcpServersConfigSchema } from './mcp-servers.js';

// A `${VAR}` can only produce a string, so numbers and booleans written that way (e.g.
// `ws_port: ${PORT}`) are accepted in their canonical text form.
const numeric = (v: unknown): unknown =>
  typeof v === 'string' && /^[-+]?(\d+(\.\d+)?|\.\d+)$/.test(v.trim()) ? Number(v) : v;
const boolean = (v: unknown): unknown => (v === 'true' ? true : v === 'false' ? false : v);

const int = (min: number, max: number) => z.preprocess(numeric, z.int().min(min).max(max));
const num = () => z.preprocess(numeric, z.number());
const flag = () => z.preprocess(boolean, z.boolean());

const urlWith = (schemes: readonly string[]) =>
  z.string().refine((s) => URL.canParse(s) && schemes.includes(new URL(s).protocol), {
    message: `expected a URL starting with ${schemes.map((p) => `${p}//`).join(' or ')}`,
  });

function isAddressOrCidr(s: string): boolean {
  const [addr = '', prefix, extra] = s.split('/');
  const family = isIP(addr);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const server = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  /** 0 picks a free port (tests); equal to http_port serves both on one port. */
  ws_port: int(0, 65535).default(8765),
  http_port: int(0, 65535).default(8080),
  ws_path: z.string().startsWith('/').default('/xiaozhi/v1/'),
  /** What OTA hands out as the WebSocket URL; null derives it from the request. */
  public_ws_url: urlWith(['ws:', 'wss:']).nullable().default(null),
  public_http_url: urlWith(['http:', 'https:']).nullable().default(null),
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).nullable().default(null),
  /** Peers whose X-Forwarded-For/-Proto headers are believed: IPs or CIDRs. */
  trusted_proxies: z.array(z.string().refine(isAddressOrCidr, { message: 'expected an IP address or CIDR (e.g. 10.0.0.0/8)' })).default([]),
  max_payload_bytes: int(1024, 16 * 1024 * 1024).default(64 * 1024),
  /** uWS closes a socket silent this long (its pings count); 0 disables. uWS accepts 8..960 s. */
  idle_timeout_s: int(0, 960).refine((s) => s === 0 || s >= 8, { message: 'expected 0 (off) or 8..960' }).default(120),
  /** Time a device has after connecting to send its `hello`. */
  hello_timeout_ms: int(100, 120_000).default(10_000),
  /** Firmware images served to devices by OTA: `<board-type>_<version>.bin` files. */
  firmware_dir: z.string().min(1).default('./firmware'),
});

const auth = z.strictObject({
  /** token = HMAC tokens handed out by OTA; off (or none) = accept any device, for development. */
  mode: z.enum(['token', 'off', 'none']).default('token'),
  /** Device ids accepted without a token. */
  allow_devices: z.array(z.string().min(1)).default([]),
  /** HMAC key for tokens; should come from the environment (`${XZ_AUTH_SECRET}`). */
  secret: z.string().min(16).nullable().default(null),
  token_ttl_s: int(60, 365 * 24 * 3600).default(30 * 24 * 3600),
});

const activation = z.strictObject({
  enabled: flag().default(false),
});

const websocket = z.strictObject({
  /** Binary protocol version OTA tells devices to use. */
  version: int(1, 3).default(1),
});

const audio = z.strictObject({
  downlink_rate: z.preprocess(numeric, z.literal([8000, 16000, 24000, 48000])).default(24000),
  frame_ms: z.preprocess(numeric, z.literal([20, 40, 60, 120])).default(60),
  /** Opus complexity; ≥ 7 costs 4–6× the CPU of 5 for little audible gain. */
  encoder_complexity: int(0, 10).default(5),
  /** Frames kept queued ahead of playout to ride out 30–70 ms timer stalls. */
  lead_frames: int(1, 50).default(4),
  start_gap_ms: int(0, 1000).default(40),
});

const workers = z.strictObject({
  codec: int(1, 256).default(1),
  listen: int(1, 256).default(1),
  think: int(1, 256).default(1),
  speak: int(1, 256).default(1),
});

const vad = z.strictObject({
  threshold: z.preprocess(numeric, z.number().gt(0).lt(1)).default(0.5),
  /** Voice shorter than this is noise, not speech. */
  min_speech_ms: int(1, 10_000).default(250),
  /** Silence that ends an utterance; past ~5 s a turn never seems to end. */
  end_silence_ms: int(1, 5000).default(400),
  /** Batch ASR: a pause this long inside an utterance sends it early (0: off). */
  early_asr_ms: int(0, 5000).default(200),
  /** Echo rejection for devices without AEC: speech over our own playback that follows it. */
  echo: z
    .strictObject({
      threshold: z.preprocess(numeric, z.number().gt(0).lt(1)).default(0.7),
      max_lag_ms: int(50, 2000).default(600),
      window_ms: int(200, 3000).default(750),
    })
    .prefault({}),
});

/** One named provider instance: a vendor `type` plus that vendor's own options. */
const providerInstance = z.looseObject({ type: z.string().min(1) });
const instances = () => z.record(z.string().min(1), providerInstance);

export const STAGES = ['asr', 'llm', 'tts', 'vad', 'vllm'] as const;
export type Stage = (typeof STAGES)[number];

const providers = z.strictObject({
  asr: instances().default({ local: { type: 'pocketsphinx' } }),
  llm: instances().default({ echo: { type: 'echo' } }),
  tts: instances().default({ local: { type: 'espeak' } }),
  vad: instances().default({ silero: { type: 'silero' } }),
  vllm: instances().default({}),
});

/** Fallback chains: provider names tried in order. */
const chain = (min: number) => z.array(z.string().min(1)).min(min);
const pipeline = z.strictObject({
  asr: chain(1).default(['local']),
  llm: chain(1).default(['echo']),
  tts: chain(1).default(['local']),
  vad: chain(1).default(['silero']),
  vllm: chain(0).default([]),
});

const role = z.strictObject({
  prompt: z.string().default(''),
  voice: z.string().min(1).nullable().default(null),
  /** BCP 47 tag; null follows what the listener speaks. */
  language: z.string().min(1).nullable().default(null),
  tools: z.array(z.string().min(1)).default([]),
});

export const DEFAULT_PROMPT =
  "You are Xiaozhi, a friendly voice assistant. Your replies are spoken aloud: keep them short, answer in the user's language, and use no lists, markdown or emoji.";

/** Keyed by device id, or by a group name whose `match` lists the device ids it covers. */
const device = z.strictObject({
  match: z.array(z.string().min(1)).optional(),
  role: z.string().min(1).optional(),
  language: z.string().min(1).nullable().optional(),
  voice: z.string().min(1).nullable().optional(),
  llm: z.string().min(1).optional(),
});

const store = z.looseObject({
  type: z.string().min(1).default('lmdb'),
  path: z.string().min(1).default('./data'),
});

const log = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** JSON lines; null logs to the console only. */
  file: z.string().min(1).nullable().default('./logs/server.jsonl'),
  /** true = readable lines on stderr, 'json' = the raw JSON lines, false = none. */
  console: z.preprocess(boolean, z.literal([true, false, 'pretty', 'json'])).default(true),
});

/** Per chain (the chains themselves are `pipeline.*`); per-provider limits sit in each instance's `pool:`. */
const chainPool = z.strictObject({
  /** Start the next provider if the first has produced nothing after this long, ms; 0 = off. */
  hedge_ms: int(0, 60_000).default(0),
});
const pools = z.strictObject({
  llm: chainPool.prefault({}),
  asr: chainPool.prefault({}),
  tts: chainPool.prefault({}),
  /** A permit not returned after this long is taken back (a hung or vanished holder), ms. */
  lease_ms: int(1000, 3_600_000).default(600_000),
});

const dialogue = z.strictObject({ ...dialogueShape });

const shutdown = z.strictObject({
  /** How long live sessions get to finish before sockets are closed. */
  grace_ms: int(0, 600_000).default(10_000),
});

export const configSchema = z.strictObject({
  server: server.prefault({}),
  auth: auth.prefault({}),
  activation: activation.prefault({}),
  websocket: websocket.prefault({}),
  audio: audio.prefault({}),
  workers: workers.prefault({}),
  vad: vad.prefault({}),
  providers: providers.prefault({}),
  pipeline: pipeline.prefault({}),
  roles: z.record(z.string().min(1), role).default({ default: { prompt: DEFAULT_PROMPT, voice: null, language: null, tools: [] } }),
  devices: z.record(z.string().min(1), device).default({}),
  pools: pools.prefault({}),
  dialogue: dialogue.prefault({}),
  tools: toolsSchema.prefault({}),
  mcp_servers: mcpServersConfigSchema,
  store: store.prefault({}),
  log: log.prefault({}),
  shutdown: shutdown.prefault({}),
});

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The validated, frozen configuration. */
export type Config = DeepReadonly<z.output<typeof configSchema>>;
/** What a config document may contain before defaults are filled in. */
export type ConfigInput = z.input<typeof configSchema>;
export type ConfigSection = keyof Config;
export const SECTIONS = Object.keys(configSchema.shape) as ConfigSection[];

export type ServerConfig = Config['server'];
export type AuthConfig = Config['auth'];
export type AudioConfig = Config['audio'];
export type WorkersConfig = Config['workers'];
export type VadConfig = Config['vad'];
export type ProvidersConfig = Config['providers'];
export type ProviderInstanceConfig = ProvidersConfig[Stage][string];
export type PipelineConfig = Config['pipeline'];
export type RoleConfig = Config['roles'][string];
export type DeviceConfig = Config['devices'][string];
export type LogConfig = Config['log'];
