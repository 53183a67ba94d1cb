/**
 * The micro benchmark entry (`npm run bench`). Each bench is a module listed in BENCHES that
 * returns rows; this prints them as one table per bench.
 *
 *   npm run bench                 every bench
 *   npm run bench -- hop          only the named ones
 *   XZ_BENCH_TIME=500 npm run bench   shorter runs (ms per task; default 2000)
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
}

export interface BenchModule {
  run(opts: BenchOptions): Promise<BenchReport>;
}

/**
 * Runs the tasks in `rounds` interleaved tinybench rounds and pools each task's latency samples
 * (ms): on these VMs the same operation swings 2–4× between minutes, so tasks measured one after
 * another would compare different machine states.
 */
export async function interleavedSamples(tasks: readonly { name: string; fn: () => unknown }[], opts: BenchOptions, rounds = 4): Promise<Map<string, number[]>> {
  const { Bench } = await import('tinybench');
  const samples = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({ time: opts.timeMs / rounds, warmup: round === 0, warmupTime: Math.min(500, opts.timeMs / 4), retainSamples: true, throws: true });
    for (const t of tasks) bench.add(t.name, t.fn as () => Promise<void>);
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed' || !r.latency.samples) throw new Error(`bench task "${task.name}" ended ${r.state}`);
      samples.get(task.name)!.push(...r.latency.samples);
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
  vad: () => import('./vad.js'),
  opus: () => import('./opus.js'),
  llm: () => import('./llm.js'),
  tts: () => import('./tts.js'),
  think: () => import('./think.js'),
};

export function formatTable(report: BenchReport): string {
  const head = ['name', 'ops/s', 'mean µs', 'p50 µs', 'p99 µs', 'n', 'ratio', 'vs'];
  const body = report.rows.map((r) => [
    r.name,
    Math.round(r.opsPerSec).toLocaleString('en-US'),
    r.meanUs.toFixed(1),
    r.p50Us.toFixed(1),
    r.p99Us.toFixed(1),
    r.samples === undefined ? '' : String(r.samples),
    r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
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

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !(n in BENCHES));
  if (unknown.length) throw new Error(`unknown bench ${unknown.join(', ')}; have ${Object.keys(BENCHES).join(', ')}`);
  const names = wanted.length ? wanted : Object.keys(BENCHES);
  const timeMs = Number(process.env.XZ_BENCH_TIME ?? 2000);
  console.log(`node ${process.version}, ${(await import('node:os')).availableParallelism()} cores, ${timeMs} ms per task\n`);
  for (const name of names) {
    const mod = await BENCHES[name]!();
    console.log(formatTable(await mod.run({ timeMs })));
    console.log();
  }
}

// Only when run as the entry, so a bench can import the types (and formatTable) from here.
if (import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
