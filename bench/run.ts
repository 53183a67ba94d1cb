/**
 * The micro benchmark entry (`npm run bench`). Each bench is a module listed in BENCHES that
 * returns rows; this prints them as one table per bench, then the headline figures (headline.ts).
 *
 *   npm run bench                       every bench, short (per-bench budgets in SHORT_MS; < 2 min)
 *   npm run bench -- hop                only the named ones, full length (FULL_MS per task)
 *   npm run bench -- --full             every bench, full length
 *   npm run bench -- --json out.json    also write every report and the headline as JSON
 *   XZ_BENCH_TIME=500 npm run bench     ms per task for every bench, in either mode
 *
 * Short mode keeps every bench's interleaved rounds but lowers tinybench's minimum of iterations
 * per round (a batch row of ms per iteration would otherwise run far past its budget); the
 * figures are noisier, not different in kind.
 */

export interface BenchRow {
  name: string;
  opsPerSec: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  samples?: number;
  /** Mean latency over the mean of the row named `vs`. */
  ratio?: number;
  vs?: string;
}

export interface BenchReport {
  title: string;
  rows: BenchRow[];
  notes?: string[];
}

export interface BenchOptions {
  /** Measuring time per task, ms. */
  timeMs: number;
  /** The short run of `npm run bench`: fewer iterations at least per round (MIN_ITERATIONS). */
  short?: boolean;
}

export interface BenchModule {
  run(opts: BenchOptions): Promise<BenchReport>;
}

const FULL_MS = 2000;
/** tinybench's minimum iterations per task and round: its default, and in short mode. */
const MIN_ITERATIONS = { full: 64, short: 16 };

/**
 * Runs the tasks in `rounds` interleaved tinybench rounds and pools each task's latency samples
 * (ms): on these VMs the same operation swings 2–4× between minutes, so tasks measured one after
 * another would compare different machine states.
 */
export async function interleavedSamples(tasks: readonly { name: string; fn: () => unknown }[], opts: BenchOptions, rounds = 4): Promise<Map<string, number[]>> {
  const { Bench } = await import('tinybench');
  const samples = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
  const iterations = opts.short ? MIN_ITERATIONS.short : MIN_ITERATIONS.full;
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: opts.timeMs / rounds, iterations, warmup: round === 0, warmupTime: Math.min(500, opts.timeMs / 4), retainSamples: true, throws: true });
    for (const t of tasks) bench.add(t.name, t.fn as () => Promise<void>);
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed' || !r.latency.samples) throw new Error(`bench task "${task.name}" ended ${r.state}`);
      // No spread: a fast task retains more samples than a call may take arguments.
      const into = samples.get(task.name)!;
      for (const x of r.latency.samples) into.push(x);
    }
  }
  return samples;
}

/** Pooled latencies (ms per iteration) → a row per unit (µs; token, window, …); percentiles by nearest rank. */
export function perUnitRow(name: string, ms: readonly number[], units: number): BenchRow {
  if (ms.length === 0) throw new Error(`bench task "${name}" took no samples`);
  const sorted = Float64Array.from(ms, (x) => x / units).sort();
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return { name, opsPerSec: 1000 / mean, meanUs: mean * 1000, p50Us: at(0.5) * 1000, p99Us: at(0.99) * 1000, samples: sorted.length };
}

// Imported lazily so a filtered run loads only what it measures.
const BENCHES: Record<string, () => Promise<BenchModule>> = {
  hop: () => import('./hop.js'),
  routing: () => import('./routing.js'),
  vad: () => import('./vad.js'),
  opus: () => import('./opus.js'),
  llm: () => import('./llm.js'),
  sentences: () => import('./sentences.js'),
  think: () => import('./think.js'),
  tts: () => import('./tts.js'),
};

/**
 * ms per task of each bench in the short run, so all of them fit in under 2 minutes on a 2-core
 * VM (setup included: workers, models, espeak-ng, fakes). Sized by task count and by how long
 * one iteration takes (opus has 22 sub-ms tasks; tts rows are whole syntheses of ms each).
 */
const SHORT_MS: Record<string, number> = {
  hop: 800,
  routing: 600,
  vad: 800,
  opus: 300,
  llm: 800,
  sentences: 500,
  think: 1200,
  tts: 800,
};

/** A ratio with two decimals, or two significant digits when it is tiny (a cache hit vs a synthesis). */
export function formatRatio(x: number): string {
  return `${x >= 0.1 ? x.toFixed(2) : x.toPrecision(2)}×`;
}

/** µs with one decimal, more below 10 µs so sub-µs rows (per token, per message) keep their digits. */
function us(x: number): string {
  return x.toFixed(x < 1 ? 3 : x < 10 ? 2 : 1);
}

export function formatTable(report: BenchReport): string {
  const head = ['name', 'ops/s', 'mean µs', 'p50 µs', 'p99 µs', 'n', 'ratio', 'vs'];
  const body = report.rows.map((r) => [
    r.name,
    Math.round(r.opsPerSec).toLocaleString('en-US'),
    us(r.meanUs),
    us(r.p50Us),
    us(r.p99Us),
    r.samples === undefined ? '' : String(r.samples),
    r.ratio === undefined ? '' : formatRatio(r.ratio),
    r.vs ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  // Names and the baseline read left-aligned, numbers right-aligned.
  const left = new Set([0, 7]);
  const line = (cells: string[]) => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [`## ${report.title}`, '', line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  if (report.notes?.length) out.push('', ...report.notes);
  return out.join('\n');
}

interface Args {
  names: string[];
  short: boolean;
  json: string | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const names: string[] = [];
  let json: string | undefined;
  let mode: 'short' | 'full' | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') {
      json = argv[++i];
      if (!json) throw new Error('--json needs a file name');
    } else if (a.startsWith('--json=')) json = a.slice('--json='.length);
    else if (a === '--short' || a === '--full') mode = a === '--short' ? 'short' : 'full';
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}; have --json <file>, --short, --full`);
    else names.push(a);
  }
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length) throw new Error(`unknown bench ${unknown.join(', ')}; have ${Object.keys(BENCHES).join(', ')}`);
  return { names: names.length ? names : Object.keys(BENCHES), short: mode ? mode === 'short' : names.length === 0, json };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const os = await import('node:os');
  const fixedMs = process.env.XZ_BENCH_TIME ? Number(process.env.XZ_BENCH_TIME) : undefined;
  if (fixedMs !== undefined && !(fixedMs > 0)) throw new Error(`XZ_BENCH_TIME must be a positive number of ms, not ${process.env.XZ_BENCH_TIME}`);
  const timeOf = (name: string) => fixedMs ?? (args.short ? SHORT_MS[name]! : FULL_MS);
  const mode = args.short ? 'short' : 'full';
  const budget = fixedMs !== undefined ? `${fixedMs} ms per task` : args.short ? 'per-bench ms per task (in each bench\'s footer)' : `${FULL_MS} ms per task`;
  const machine = `node ${process.version}, ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'})`;
  console.log(`${machine}; ${mode} run, ${budget}\n`);

  const t0 = performance.now();
  const reports = new Map<string, BenchReport>();
  const runs: { name: string; timeMs: number; seconds: number; report?: BenchReport; error?: string }[] = [];
  for (const name of args.names) {
    const timeMs = timeOf(name);
    const started = performance.now();
    try {
      const mod = await BENCHES[name]!();
      const report = await mod.run({ timeMs, short: args.short });
      const seconds = (performance.now() - started) / 1000;
      reports.set(name, report);
      runs.push({ name, timeMs, seconds, report });
      console.log(formatTable(report));
      console.log(`\n(bench ${name}: ${timeMs} ms per task, ${seconds.toFixed(1)} s)\n`);
    } catch (e) {
      // One bench failing (a missing espeak-ng, a port in use) should not cost the others.
      const seconds = (performance.now() - started) / 1000;
      runs.push({ name, timeMs, seconds, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      console.error(`bench ${name} failed after ${seconds.toFixed(1)} s:`, e);
      console.log();
      process.exitCode = 1;
    }
  }
  const wall = (performance.now() - t0) / 1000;

  const { headline, formatHeadline } = await import('./headline.js');
  const lines = headline(reports);
  if (lines.length) {
    // The command that reproduces the table, without where the JSON went.
    const argv = process.argv.slice(2).filter((a, i, all) => a !== '--json' && all[i - 1] !== '--json' && !a.startsWith('--json=')).join(' ');
    const env = fixedMs !== undefined ? `XZ_BENCH_TIME=${fixedMs} ` : '';
    console.log(`## headline (${mode} run; \`${env}npm run bench${argv ? ` -- ${argv}` : ''}\`; ${machine})\n`);
    console.log(formatHeadline(lines));
    console.log('\nvalue: the stat (mean or p50) of the row, per its unit; ratio: the same stat over the baseline row of the same run');
  }
  console.log(`\n${runs.length} bench(es) in ${wall.toFixed(1)} s${runs.some((r) => r.error) ? `; failed: ${runs.filter((r) => r.error).map((r) => r.name).join(', ')}` : ''}`);

  if (args.json) {
    const { writeFileSync } = await import('node:fs');
    const out = {
      date: new Date().toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      env: fixedMs !== undefined ? { XZ_BENCH_TIME: fixedMs } : {},
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      cpu: os.cpus()[0]?.model.trim(),
      cores: os.availableParallelism(),
      mode,
      wallSeconds: wall,
      benches: runs,
      headline: lines,
    };
    writeFileSync(args.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`wrote ${args.json}`);
  }
}

// Only when run as the entry, so a bench can import the types (and formatTable) from here.
if (import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    // Bench failures are reported where they happen; what reaches here is usage or output.
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
