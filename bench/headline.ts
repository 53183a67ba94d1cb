/**
 * The headline figures of `npm run bench`: one line per figure, picked from the bench reports,
 * each with its ratio against a baseline row measured in the same process (same stat). Printed
 * as a Markdown table so it can go into the README as it is.
 */
import { formatRatio, type BenchReport, type BenchRow } from './run.js';
import { ACTOR_TRANSFER, RAW_TRANSFER, RING } from './hop.js';
import { LINKED, LOCAL, MICROTASK, RAW as ROUTE_RAW, RELAYED, WORKER } from './routing.js';

type Pick = string | ((rows: readonly BenchRow[]) => BenchRow | undefined);

export interface HeadlineSpec {
  bench: string;
  /** The figure's name; `{row}` is replaced by the picked row's name. */
  figure: string;
  row: Pick;
  stat: 'mean' | 'p50';
  unit: string;
  /** Divides the µs value (1000 for ms). */
  scale?: number;
  /** The baseline row; default: the row's own `vs`, if it has one. */
  vs?: Pick;
}

export interface HeadlineLine {
  bench: string;
  figure: string;
  value: number;
  unit: string;
  stat: 'mean' | 'p50';
  ratio?: number;
  vs?: string;
}

const ttsProviders = (rows: readonly BenchRow[]) => rows.filter((r) => !r.name.startsWith('quick reply'));
const fastest = (rows: readonly BenchRow[]) => ttsProviders(rows).reduce<BenchRow | undefined>((a, b) => (a && a.p50Us <= b.p50Us ? a : b), undefined);

export const HEADLINES: readonly HeadlineSpec[] = [
  { bench: 'hop', figure: 'actor hop main → worker → main, 2 KB transferred', row: ACTOR_TRANSFER, stat: 'p50', unit: 'µs', vs: RAW_TRANSFER },
  { bench: 'hop', figure: 'hop over a shared-memory ring pair, 2 KB', row: RING, stat: 'p50', unit: 'µs', vs: RAW_TRANSFER },
  { bench: 'routing', figure: 'routing: system.send → main-thread actor', row: LOCAL, stat: 'mean', unit: 'µs/msg', vs: MICROTASK },
  { bench: 'routing', figure: 'routing: system.send → worker actor', row: WORKER, stat: 'mean', unit: 'µs/msg', vs: ROUTE_RAW },
  { bench: 'routing', figure: 'routing: worker → worker relayed by main', row: RELAYED, stat: 'mean', unit: 'µs/msg', vs: LINKED },
  { bench: 'opus', figure: 'Opus encode 24k/60ms c5, @discordjs/opus', row: 'encode 24k/60ms @discordjs/opus c5 audio', stat: 'mean', unit: 'µs/frame' },
  { bench: 'opus', figure: 'Opus encode 24k/60ms c10, @discordjs/opus', row: 'encode 24k/60ms @discordjs/opus c10 audio', stat: 'mean', unit: 'µs/frame', vs: 'encode 24k/60ms @discordjs/opus c5 audio' },
  { bench: 'opus', figure: 'Opus encode 24k/60ms c5, @evan/opus wasm', row: 'encode 24k/60ms @evan/opus wasm c5 audio', stat: 'mean', unit: 'µs/frame', vs: 'encode 24k/60ms @discordjs/opus c5 audio' },
  { bench: 'opus', figure: 'Opus decode 16k/60ms, native/opus.ts', row: 'decode 16k/60ms native/opus.ts wrapper', stat: 'mean', unit: 'µs/frame', vs: 'decode 16k/60ms @evan/opus wasm' },
  { bench: 'vad', figure: 'Silero VAD, one window alone', row: 'alone: 1 stream per call', stat: 'mean', unit: 'µs/window' },
  { bench: 'vad', figure: 'Silero VAD, batched ×8', row: 'batched: 8 streams per call', stat: 'mean', unit: 'µs/window', vs: 'alone: 1 stream per call' },
  { bench: 'sentences', figure: 'sentence splitter, CN reply', row: 'splitter: CN reply', stat: 'mean', unit: 'µs/token' },
  { bench: 'sentences', figure: 'sentence splitter, EN reply', row: 'splitter: EN reply', stat: 'mean', unit: 'µs/token' },
  { bench: 'llm', figure: 'LLM OpenAI adapter, SSE → text deltas', row: 'openai adapter (deltas)', stat: 'mean', unit: 'µs/token' },
  { bench: 'think', figure: 'think actor reply (worker, sentences, back to main)', row: 'think actor (worker → sentences → main)', stat: 'mean', unit: 'µs/token' },
  { bench: 'tts', figure: 'TTS text → first Opus frame, fastest: {row}', row: fastest, stat: 'p50', unit: 'ms', scale: 1000, vs: 'edge, warm socket' },
  { bench: 'tts', figure: 'TTS quick reply, cache hit (all frames)', row: 'quick reply, cache hit', stat: 'p50', unit: 'µs', vs: fastest },
];

function pick(rows: readonly BenchRow[], p: Pick): BenchRow | undefined {
  return typeof p === 'string' ? rows.find((r) => r.name === p) : p(rows);
}

const statOf = (r: BenchRow, stat: 'mean' | 'p50'): number => (stat === 'mean' ? r.meanUs : r.p50Us);

/** Headline lines for the benches that ran (a missing row is skipped, not an error). */
export function headline(reports: ReadonlyMap<string, BenchReport>): HeadlineLine[] {
  const out: HeadlineLine[] = [];
  for (const spec of HEADLINES) {
    const report = reports.get(spec.bench);
    if (!report) continue;
    const row = pick(report.rows, spec.row);
    if (!row) continue;
    const value = statOf(row, spec.stat);
    const line: HeadlineLine = { bench: spec.bench, figure: spec.figure.replace('{row}', row.name), value: value / (spec.scale ?? 1), unit: spec.unit, stat: spec.stat };
    const base = pick(report.rows, spec.vs ?? row.vs ?? '');
    if (base && base !== row) {
      line.ratio = value / statOf(base, spec.stat);
      line.vs = base.name;
    }
    out.push(line);
  }
  return out;
}

/** Three significant digits, at most two decimals. */
export function fmt(x: number): string {
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function formatHeadline(lines: readonly HeadlineLine[]): string {
  const head = ['figure', 'value', 'unit', 'stat', 'ratio', 'vs (same run)'];
  const body = lines.map((l) => [l.figure, fmt(l.value), l.unit, l.stat, l.ratio === undefined ? '' : formatRatio(l.ratio), l.vs ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const right = new Set([1, 4]);
  const line = (cells: string[]) => `| ${cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(head), rule, ...body.map(line)].join('\n');
}
