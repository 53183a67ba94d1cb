/**
 * `npm run fleet -- …`: the fleet simulator's command line. Progress goes to stderr (rewritten
 * in place on a terminal, a line every 5 s otherwise), the summary table to stdout, the JSON
 * report to --report. Ctrl-C ends the run early and still reports; a second Ctrl-C exits at once.
 * Exit status: 0 clean, 1 protocol violations, 2 usage error, 3 devices failed to connect or the
 * run could not start.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { runFleet } from './fleet.js';
import { parseOptions, UsageError, USAGE, type FleetOptions } from './options.js';
import { summaryTable } from './report.js';

async function main(argv: string[]): Promise<number> {
  let opts: FleetOptions | 'help';
  try {
    opts = parseOptions(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`fleet: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const abort = new AbortController();
  let interrupts = 0;
  process.on('SIGINT', () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\nfleet: stopping (Ctrl-C again to quit at once)\n');
    abort.abort();
  });

  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  const progress = (line: string, final: boolean) => {
    if (opts.quiet) return;
    if (tty) {
      process.stderr.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
      return;
    }
    const now = Date.now();
    if (final || now - lastLine >= 5000) {
      lastLine = now;
      process.stderr.write(`${line}\n`);
    }
  };

  let report;
  try {
    report = await runFleet(opts, { progress, signal: abort.signal });
  } catch (e) {
    process.stderr.write(`fleet: ${(e as Error).message}\n`);
    return 3;
  }
  process.stdout.write(`\n${summaryTable(report)}\n`);
  if (opts.report) {
    const file = resolve(opts.report);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nreport: ${file}\n`);
  }
  return report.exit_code;
}

main(process.argv.slice(2)).then(
  (code) => {
    // Sockets are terminated already; exit now rather than wait for lingering keep-alives.
    process.exitCode = code;
    setImmediate(() => process.exit(code));
  },
  (e: unknown) => {
    process.stderr.write(`fleet: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(3);
  },
);
