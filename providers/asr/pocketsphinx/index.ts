/**
 * pocketsphinx as an AsrProvider: offline English, one batch run per utterance wrapped as a
 * stream. Audio written to the stream is kept until `end()`; then the utterance goes to
 * `pocketsphinx_continuous` (Debian's 0.8) through the spawner and its hypothesis comes back as
 * the one final event.
 *
 * The audio travels through a temp file: pocketsphinx reads `-infile` with fopen, and the
 * spawner's stdin is a socket pair, which /dev/stdin cannot reopen (checked: exit 1). The file
 * is raw 16 kHz s16le (no `.wav` suffix, so no header is expected) and is removed in every case.
 *
 * Free-form English uses the en-us language model, which recognises synthetic speech poorly;
 * a JSGF grammar (`grammar: path`) restricts it to a command set, where it is reliable.
 *
 * Config (providers.asr.<name>):
 *   type: pocketsphinx
 *   command: pocketsphinx_continuous
 *   grammar: null              JSGF file; null = free-form with the language model
 *   hmm / lm / dict: null      model paths; null = the ones pocketsphinx was built with
 *   pad_ms: 200                silence added before and after, so its own VAD sees the edges
 *   max_seconds: 30            audio beyond this is dropped (the VAD should have cut it)
 *   timeout_ms: 30000
 *   tmp_dir: null              where the utterance file goes; null = the OS temp dir
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E, XzError } from '../../../runtime/errors.js';
import { readAll, type SpawnClient } from '../../../runtime/spawner.js';
import { BatchUtterance, type BatchRecognizer } from '../batch.js';
import type { AsrCapabilities, AsrEvent, AsrOptions, AsrProvider, AsrStream } from '../../contracts/asr.js';
import { UPLINK_RATE } from '../../contracts/audio.js';
import { ASR } from '../errors.js';

export interface PocketsphinxConfig {
  command: string;
  grammar: string | null;
  hmm: string | null;
  lm: string | null;
  dict: string | null;
  padMs: number;
  maxSeconds: number;
  timeoutMs: number;
  tmpDir: string | null;
}

function invalid(path: string, message: string): XzError {
  return new XzError(E.XZ_ERR_CONFIG_INVALID, `${path}: ${message}`, { details: { path } });
}

function str(cfg: Record<string, unknown>, key: string, path: string): string | null {
  const v = cfg[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '') throw invalid(`${path}.${key}`, 'must be a non-empty string');
  return v;
}

function num(cfg: Record<string, unknown>, key: string, dflt: number, min: number, max: number, path: string): number {
  const v = cfg[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalid(`${path}.${key}`, `must be a number in ${min}..${max}`);
  return v;
}

export function parsePocketsphinxConfig(cfg: Record<string, unknown>, path = 'providers.asr.pocketsphinx'): PocketsphinxConfig {
  return {
    command: str(cfg, 'command', path) ?? 'pocketsphinx_continuous',
    grammar: str(cfg, 'grammar', path),
    hmm: str(cfg, 'hmm', path),
    lm: str(cfg, 'lm', path),
    dict: str(cfg, 'dict', path),
    padMs: num(cfg, 'pad_ms', 200, 0, 2000, path),
    maxSeconds: num(cfg, 'max_seconds', 30, 1, 600, path),
    timeoutMs: num(cfg, 'timeout_ms', 30_000, 100, 600_000, path),
    tmpDir: str(cfg, 'tmp_dir', path),
  };
}

export function pocketsphinxArgs(cfg: PocketsphinxConfig, file: string): string[] {
  const args = ['-infile', file, '-samprate', String(UPLINK_RATE)];
  if (cfg.hmm) args.push('-hmm', cfg.hmm);
  if (cfg.dict) args.push('-dict', cfg.dict);
  // A grammar replaces the language model (pocketsphinx takes one search or the other).
  if (cfg.grammar) args.push('-jsgf', cfg.grammar);
  else if (cfg.lm) args.push('-lm', cfg.lm);
  return args;
}

/** One line per segment its VAD found; fillers and alternate-pronunciation marks are dropped. */
export function parseHypothesis(stdout: string): string {
  return stdout
    .split('\n')
    .flatMap((line) => line.trim().split(/\s+/))
    .filter((w) => w !== '' && !/^(<.*>|\[.*\]|\+\+.*\+\+)$/.test(w))
    .map((w) => w.replace(/\(\d+\)$/, ''))
    .join(' ');
}

export class PocketsphinxAsr implements AsrProvider, BatchRecognizer {
  readonly id: string;
  readonly caps: AsrCapabilities = { streaming: false, sampleRate: UPLINK_RATE, languages: ['en'] };
  readonly cfg: PocketsphinxConfig;
  readonly #client: () => Promise<SpawnClient>;

  constructor(id: string, cfg: PocketsphinxConfig, client: () => Promise<SpawnClient>) {
    this.id = id;
    this.cfg = cfg;
    this.#client = client;
  }

  get maxSeconds(): number {
    return this.cfg.maxSeconds;
  }

  open(opts: AsrOptions): AsrStream {
    return new BatchUtterance(this, opts);
  }

  language(): string {
    return 'en';
  }

  /** Runs one utterance; resolves with its text ('' for silence). */
  async recognize(chunks: readonly Int16Array[], samples: number, opts: AsrOptions): Promise<string> {
    const { signal } = opts;
    const lang = opts.language?.toLowerCase().split(/[-_]/)[0];
    // Refused before any work: English models would only produce confident nonsense.
    if (lang !== undefined && lang !== 'en') throw new XzError(ASR.XZ_ERR_ASR_LANGUAGE, `pocketsphinx recognises English, not ${opts.language}`);
    if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, 'recognition aborted');
    if (samples === 0) return '';
    const pad = Math.round((this.cfg.padMs * UPLINK_RATE) / 1000);
    const pcm = new Int16Array(samples + 2 * pad); // zero-filled: the padding is silence
    let at = pad;
    for (const c of chunks) {
      pcm.set(c, at);
      at += c.length;
    }
    const dir = await mkdtemp(join(this.cfg.tmpDir ?? tmpdir(), 'xz-asr-'));
    try {
      const file = join(dir, 'utterance.raw');
      await writeFile(file, new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength), { mode: 0o600 });
      const client = await this.#client();
      const proc = client.run(this.cfg.command, pocketsphinxArgs(this.cfg, file), { signal, timeoutMs: this.cfg.timeoutMs });
      const { stdout } = await readAll(proc);
      return parseHypothesis(stdout.toString('utf8'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

export function createPocketsphinxAsr(id: string, cfg: Record<string, unknown>, client: () => Promise<SpawnClient>, path?: string): AsrProvider {
  return new PocketsphinxAsr(id, parsePocketsphinxConfig(cfg, path), client);
}
