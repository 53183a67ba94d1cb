// Wiring for the external MCP tests: a real spawner, the stdio fixture's command line, configs
// validated by the real schema, a logger whose lines tests read, and polling helpers.
import { fileURLToPath } from 'node:url';
import { ExternalMcp, mcpServersConfigSchema, type McpServerConfigInput, type McpServersConfigInput } from '../../actors/mcp/external/index.js';
import { createLogger, type Logger } from '../../runtime/log.js';
import { Spawner, sharedSpawnClient, type SpawnClientFactory } from '../../runtime/spawner.js';

export const FIXTURE = fileURLToPath(new URL('../fixtures/mcp/stdio-server.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

export type StdioInput = Extract<McpServerConfigInput, { transport: 'stdio' }>;

/** The stdio fixture as a config entry (plain node + tsx's loader, like any `command: node`). */
export function fixtureStdio(extra: Partial<StdioInput> = {}): StdioInput {
  return { transport: 'stdio', command: process.execPath, args: ['--import', TSX, FIXTURE], ...extra };
}

export function testLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    file: null,
    console: 'json',
    consoleStream: { write: (chunk: string) => void chunk.split('\n').forEach((l) => l && lines.push(JSON.parse(l) as Record<string, unknown>)) },
  });
  return { log, lines };
}

export interface Rig {
  mcp: ExternalMcp;
  lines: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A manager over `servers` (validated by the real schema), with a real spawner when any is stdio. */
export async function rig(servers: McpServersConfigInput): Promise<Rig> {
  const config = mcpServersConfigSchema.parse(servers);
  const needsSpawner = Object.values(config).some((s) => s.transport === 'stdio');
  const spawner = needsSpawner ? await Spawner.start() : undefined;
  const spawnClient: SpawnClientFactory | undefined = spawner ? () => sharedSpawnClient(spawner.address) : undefined;
  const { log, lines } = testLog();
  const mcp = new ExternalMcp({ servers: config, spawnClient, log });
  return {
    mcp,
    lines,
    async close() {
      await mcp.close();
      await spawner?.close();
    },
  };
}

/** Polls `cond` every 20 ms until it is truthy; fails after `ms`. */
export async function waitFor<T>(what: string, cond: () => T | undefined | false, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
