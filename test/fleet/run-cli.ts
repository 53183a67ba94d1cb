// Runs `npm run fleet` as its users do (a separate process), so a test sees its exit status,
// output and report file, and the server under test keeps its own event loop.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The parsed --report file (undefined if the run wrote none). */
  report: Record<string, any> | undefined;
}

export async function runFleetCli(args: string[], timeoutMs = 100_000): Promise<CliRun> {
  const dir = mkdtempSync(join(tmpdir(), 'xz-fleet-run-'));
  const reportFile = join(dir, 'report.json');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/fleet/cli.ts', ...args, '--report', reportFile], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, XDG_CACHE_HOME: join(tmpdir(), 'xz-fleet-test-cache') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    let report: Record<string, any> | undefined;
    try {
      report = JSON.parse(readFileSync(reportFile, 'utf8')) as Record<string, any>;
    } catch {
      report = undefined;
    }
    return { code, stdout, stderr, report };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
