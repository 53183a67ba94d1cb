// Starts the real server (uWS front door, LMDB store in a temp dir) on 127.0.0.1 with port 0,
// and stops it and removes its files after the test.
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFrom, type Config } from '../../config/index.js';
import { startServer, type ServerHandle } from '../../actors/boot.js';
import { createLogger, type RootLogger } from '../../runtime/log.js';

export interface TestServer extends ServerHandle {
  readonly dir: string;
  readonly config: Config;
  readonly wsUrl: string;
  readonly httpUrl: string;
  /** Log lines written so far (JSON objects). */
  logs(): Record<string, unknown>[];
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export async function startTestServer(t: TestContext, overrides: DeepPartial<Record<string, unknown>> & Record<string, unknown> = {}, dir?: string): Promise<TestServer> {
  const own = dir === undefined;
  const root = dir ?? mkdtempSync(join(tmpdir(), 'xz-server-'));
  const lines: Record<string, unknown>[] = [];
  const logger: RootLogger = createLogger({
    level: process.env.XZ_TEST_LOG ?? 'debug',
    file: null,
    console: 'json',
    consoleStream: {
      write(chunk: string) {
        for (const l of chunk.split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        if (process.env.XZ_TEST_LOG) process.stderr.write(chunk);
      },
    },
  });
  const input = merge(
    {
      server: { host: '127.0.0.1', ws_port: 0, http_port: 0, firmware_dir: join(root, 'firmware') },
      store: { type: 'lmdb', path: join(root, 'data') },
      log: { file: null, console: false },
      shutdown: { grace_ms: 2000 },
    },
    overrides,
  );
  const config = configFrom(input);
  const server = await startServer(config, { logger });
  t.after(async () => {
    await server.stop('test over');
    if (own) rmSync(root, { recursive: true, force: true });
  });
  return {
    ...server,
    stop: server.stop,
    status: server.status,
    dir: root,
    config,
    wsUrl: `ws://127.0.0.1:${server.wsPort}/xiaozhi/v1/`,
    httpUrl: `http://127.0.0.1:${server.httpPort}`,
    logs: () => lines,
  };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = isObj(cur) && isObj(v) ? merge(cur, v) : v;
  }
  return out;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
