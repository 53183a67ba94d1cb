/**
 * Logging: pino writing JSON lines to a file and readable lines to the console.
 *
 *   logger.info(obj, msg) ──▶ formatters (binary → { bytes }) ──▶ redact ──▶ one JSON line
 *        ──▶ multistream ─┬─▶ sonic-boom, async, on an fd opened here ──▶ file.jsonl
 *                         └─▶ console formatter (in-process) ──▶ stderr
 *
 * No worker-thread transport: the file write is already asynchronous, and a transport thread would
 * compete with the audio workers for the same cores. Shutdown awaits `close()`; an exit that cannot
 * wait calls `flush()`, which writes what is buffered synchronously (pino also does so on 'exit').
 *
 * Hot paths log at debug behind `isLevelEnabled`. Audio must never reach a log: any
 * ArrayBuffer/TypedArray/Buffer value (top level or one level down) is logged as its size.
 */
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger as PinoLogger, type StreamEntry } from 'pino';

/** What other modules accept: a pino logger or any child of one. */
export type Logger = PinoLogger;

export type RootLogger = Logger & {
  /** Writes everything buffered for the file synchronously (for the exit path). Children share it. */
  flush(cb?: (err?: Error) => void): void;
  /** Writes what is buffered, in order, and closes the file; later lines go to the console only. Resolves once the file is closed. */
  close(): Promise<void>;
};

export interface LogOptions {
  level: string;
  /** JSON lines file; its directory is created. null = no file. */
  file: string | null;
  /** true/'pretty' = readable lines, 'json' = the JSON lines, false = nothing. */
  console: boolean | 'pretty' | 'json';
  name?: string;
  /** Where console output goes; process.stderr unless a test captures it. */
  consoleStream?: { write(chunk: string): unknown; isTTY?: boolean };
}

export const CENSOR = '***';

// Leading-wildcard paths (`*.token`) make pino redact ~10× slower on every line (3.3 µs vs
// 0.34 µs measured), so only fixed paths: secrets must sit at the top level or in headers.
const SECRET_KEYS = ['authorization', 'Authorization', 'token', 'api_key', 'apiKey', 'secret', 'password', 'access_token', 'accessToken', 'cookie'];
export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...['authorization', 'Authorization', 'cookie', '["x-api-key"]', 'token'].flatMap((h) => [
    `headers${h.startsWith('[') ? h : `.${h}`}`,
    `req.headers${h.startsWith('[') ? h : `.${h}`}`,
  ]),
];

const isBinary = (v: object): v is ArrayBufferView | ArrayBuffer | SharedArrayBuffer =>
  ArrayBuffer.isView(v) || v instanceof ArrayBuffer || (typeof SharedArrayBuffer === 'function' && v instanceof SharedArrayBuffer);

function sized(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (isBinary(v)) return { bytes: v.byteLength };
  return v;
}

function hasBinary(v: object): boolean {
  if (Array.isArray(v)) return v.some((x) => typeof x === 'object' && x !== null && isBinary(x));
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' && x !== null && isBinary(x)) return true;
  }
  return false;
}

/** Replaces binary values (top level and one level down) by `{ bytes }`, copying only when one is found. */
export function withoutBinary(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const k in obj) {
    const v = obj[k];
    if (typeof v !== 'object' || v === null) continue;
    let replaced: unknown;
    if (isBinary(v)) replaced = { bytes: v.byteLength };
    else if (Object.getPrototypeOf(v) === Object.prototype || Array.isArray(v)) {
      if (!hasBinary(v)) continue;
      replaced = Array.isArray(v) ? v.map(sized) : Object.fromEntries(Object.entries(v).map(([kk, x]) => [kk, sized(x)]));
    } else continue;
    out ??= { ...obj };
    out[k] = replaced;
  }
  return out ?? obj;
}

/** A child logger carrying the ids every session line needs. */
export function sessionLogger(root: Logger, ids: { deviceId: string; sessionId: string; clientId?: string }): Logger {
  return root.child(
    ids.clientId === undefined
      ? { device: ids.deviceId, session: ids.sessionId }
      : { device: ids.deviceId, session: ids.sessionId, client: ids.clientId },
  );
}

export function createLogger(opts: LogOptions): RootLogger {
  const streams: StreamEntry[] = [];
  let closing: Promise<void> | undefined;
  let file: ReturnType<typeof pino.destination> | undefined;
  if (opts.file !== null) {
    mkdirSync(dirname(opts.file), { recursive: true });
    // Opening the fd here makes the stream ready at once, so an early flush cannot hit
    // sonic-boom's "not ready yet" error.
    const f = pino.destination({ dest: openSync(opts.file, 'a'), sync: false, minLength: 0 });
    // Lines logged after close() would throw inside sonic-boom; drop them from the file instead.
    streams.push({
      level: 'trace',
      stream: {
        write: (line: string) => {
          if (!closing) f.write(line);
        },
      },
    });
    file = f;
  }
  if (opts.console !== false) {
    const out = opts.consoleStream ?? process.stderr;
    const json = opts.console === 'json';
    const color = !json && out.isTTY === true && !process.env.NO_COLOR;
    streams.push({ level: 'trace', stream: { write: (line: string) => void out.write(json ? line : formatLine(line, color)) } });
  }
  // Streams take every level; the logger's own level (changeable at run time) does the filtering.
  const multi = pino.multistream(streams);
  const logger = pino(
    {
      level: opts.level,
      ...(opts.name === undefined ? {} : { name: opts.name }),
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: { log: withoutBinary },
    },
    multi,
  ) as RootLogger;

  // pino resets the bindings formatter for children, so binary bindings are caught here; children
  // inherit this method through their prototype.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, withoutBinary(bindings), options);
  } as typeof logger.child;

  // sonic-boom cannot wait synchronously for a write already handed to the thread pool, so
  // flush() may put that one chunk after the lines it writes itself: every line is present, a few
  // may be out of order. It is for the exit path, where presence is what matters. close() is
  // asynchronous and keeps the order.
  logger.flush = (cb?: (err?: Error) => void) => {
    try {
      if (!closing) file?.flushSync();
      cb?.();
    } catch (err) {
      if (!cb) throw err;
      cb(err as Error);
    }
  };
  logger.close = () => {
    closing ??= new Promise<void>((resolve) => {
      if (!file) return resolve();
      file.once('close', () => resolve());
      file.once('error', () => resolve());
      file.end();
    });
    return closing;
  };
  return logger;
}

const LABELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const FIRST = ['actor', 'device', 'session', 'client', 'turn'];
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'err', ...FIRST]);

function value(v: unknown): string {
  if (typeof v === 'string') return /^[\w.:/@+*-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (typeof v !== 'object' || v === null) return String(v);
  const s = JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 199)}…` : s;
}

/** One JSON line as a readable console line: `12:00:01.250 INFO  [name] msg device=… session=… k=v`. */
export function formatLine(line: string, color = false): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof o.level === 'number' ? o.level : 30;
  const t = new Date(typeof o.time === 'number' ? o.time : Date.now());
  const time = `${t.toTimeString().slice(0, 8)}.${String(t.getMilliseconds()).padStart(3, '0')}`;
  const label = LABELS[level] ?? String(level).padEnd(5);
  let out = `${time} ${color ? `\x1b[${COLORS[level] ?? '0'}m${label}\x1b[0m` : label}`;
  if (o.name !== undefined) out += ` [${String(o.name)}]`;
  if (o.msg !== undefined) out += ` ${String(o.msg)}`;
  for (const k of FIRST) if (o[k] !== undefined) out += ` ${k}=${value(o[k])}`;
  for (const k in o) if (!OMIT.has(k)) out += ` ${k}=${value(o[k])}`;
  const err = o.err as { type?: string; message?: string; code?: string; stack?: string } | undefined;
  if (err && typeof err === 'object') {
    if (err.code !== undefined) out += ` code=${value(err.code)}`;
    out += `\n    ${(err.stack ?? `${err.type ?? 'Error'}: ${err.message ?? ''}`).replace(/\n/g, '\n    ')}`;
  }
  return `${out}\n`;
}
