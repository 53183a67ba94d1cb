/**
 * The `mcp_servers` config section: external MCP servers by name. The name is the prefix of the
 * server's tools as the model sees them (`weather__get_forecast`) and the handle of allow-lists
 * (`mcp:weather`), so it is restricted to characters every LLM vendor accepts in a function name,
 * and may not contain `__` (the separator) or end in `_`: that keeps `<server>__<tool>` unambiguous.
 *
 *   mcp_servers:
 *     weather: { transport: stdio, command: node, args: [server.js], env: { K: v }, cwd: ., timeout_ms: 15000 }
 *     search:  { transport: http, url: https://example.com/mcp, headers: { Authorization: "Bearer ${KEY}" } }
 *     legacy:  { transport: sse, url: https://example.com/sse }
 *
 * stdio servers run through the spawner with a small base environment (PATH, HOME, LANG…) plus
 * `env`: never the server's own environment, which holds provider secrets.
 */
import { z } from 'zod';

// Same coercions as config/schema.ts: a `${VAR}` can only produce a string.
const numeric = (v: unknown): unknown => (typeof v === 'string' && /^[-+]?\d+$/.test(v.trim()) ? Number(v) : v);
const boolean = (v: unknown): unknown => (v === 'true' ? true : v === 'false' ? false : v);
const int = (min: number, max: number) => z.preprocess(numeric, z.int().min(min).max(max));
const flag = () => z.preprocess(boolean, z.boolean());

export const SERVER_NAME = /^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$/;
const serverName = z
  .string()
  .max(32)
  .regex(SERVER_NAME, { message: 'expected letters, digits and single - or _ between them (at most 32), e.g. weather or web-search' });

const httpUrl = z.string().refine((s) => URL.canParse(s) && ['http:', 'https:'].includes(new URL(s).protocol), {
  message: 'expected a URL starting with http:// or https://',
});

const restart = z.strictObject({
  /** Failures (deaths, failed starts) tolerated within `window_ms`; one more and a stdio server is given up. */
  max: int(0, 1000).default(5),
  window_ms: int(1000, 24 * 3600_000).default(60_000),
  /** First retry delay; doubles with each failure in the window, up to `max_backoff_ms`. */
  backoff_ms: int(10, 600_000).default(500),
  max_backoff_ms: int(10, 3600_000).default(30_000),
});

const common = {
  /** false keeps the entry in the file without starting it. */
  enabled: flag().default(true),
  /** Per tool call; a call past it returns XZ_ERR_MCP_TIMEOUT to the model. */
  timeout_ms: int(100, 600_000).default(30_000),
  /** One attempt to start (or reach), initialize and list the tools. */
  connect_timeout_ms: int(100, 600_000).default(10_000),
  restart: restart.prefault({}),
};

const stdio = z.strictObject({
  transport: z.literal('stdio'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Added to the spawner's small base environment. */
  env: z.record(z.string().min(1), z.string()).default({}),
  /** Relative to the server's working directory at boot. */
  cwd: z.string().min(1).optional(),
  ...common,
});

const http = z.strictObject({
  transport: z.literal('http'),
  url: httpUrl,
  /** Sent with every request (e.g. Authorization: "Bearer ${KEY}"). */
  headers: z.record(z.string().min(1), z.string()).default({}),
  ...common,
});

const sse = z.strictObject({
  transport: z.literal('sse'),
  url: httpUrl,
  headers: z.record(z.string().min(1), z.string()).default({}),
  ...common,
});

export const mcpServerConfigSchema = z.discriminatedUnion('transport', [stdio, http, sse]);
export const mcpServersConfigSchema = z.record(serverName, mcpServerConfigSchema).default({});

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** One server's validated config (frozen by the loader, hence readonly). */
export type McpServerConfig = DeepReadonly<z.output<typeof mcpServerConfigSchema>>;
export type McpServersConfig = Readonly<Record<string, McpServerConfig>>;
export type McpServersConfigInput = z.input<typeof mcpServersConfigSchema>;
export type McpServerConfigInput = z.input<typeof mcpServerConfigSchema>;
export type McpTransportKind = McpServerConfig['transport'];
