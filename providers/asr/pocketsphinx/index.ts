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

/** Rejects with XZ_ERR_ABORTED as soon as the signal fires, whatever `p` is doing. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  const abortErr = (): XzError => new XzError(E.XZ_ERR_ABORTED, 'recognition aborted');
  if (signal.aborted) return Promise.reject(abortErr());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortErr());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

class Utterance implements AsrStream {
  #chunks: Int16Array[] = [];
  #samples = 0;
  #ended = false;
  readonly #ready: Promise<string>;
  #start!: (result: Promise<string>) => void;
  readonly #max: number;

  constructor(
    readonly provider: PocketsphinxAsr,
    readonly opts: AsrOptions,
  ) {
    this.#max = provider.cfg.maxSeconds * UPLINK_RATE;
    // Settles with the recognition once end() starts it; iterating before end() waits here.
    this.#ready = new Promise((resolve) => (this.#start = resolve));
    this.#ready.catch(() => {}); // reported through the iteration
  }

  write(pcm: Int16Array): void {
    if (this.#ended) throw new XzError(ASR.XZ_ERR_ASR_MISUSE, 'write() after end()');
    const room = this.#max - this.#samples;
    if (room <= 0) return;
    const kept = pcm.length > room ? pcm.subarray(0, room) : pcm;
    this.#chunks.push(kept);
    this.#samples += kept.length;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    // Start now rather than when someone iterates: the answer is wanted as soon as possible.
    const lang = this.opts.language?.toLowerCase().split(/[-_]/)[0];
    // Refused before any work: English models would only produce confident nonsense.
    const work =
      lang !== undefined && lang !== 'en'
        ? Promise.reject(new XzError(ASR.XZ_ERR_ASR_LANGUAGE, `pocketsphinx recognises English, not ${this.opts.language}`))
        : this.provider.recognize(this.#chunks, this.#samples, this.opts.signal);
    this.#start(work);
    this.#chunks = [];
  }

  async *[Symbol.asyncIterator](): AsyncIterator<AsrEvent> {
    const text = await abortable(this.#ready, this.opts.signal);
    yield { kind: 'final', text, language: 'en' };
  }
}

export class PocketsphinxAsr implements AsrProvider {
  readonly id: string;
  readonly caps: AsrCapabilities = { streaming: false, sampleRate: UPLINK_RATE, languages: ['en'] };
  readonly cfg: PocketsphinxConfig;
  readonly #client: () => Promise<SpawnClient>;

  constructor(id: string, cfg: PocketsphinxConfig, client: () => Promise<SpawnClient>) {
    this.id = id;
    this.cfg = cfg;
    this.#client = client;
  }

  open(opts: AsrOptions): AsrStream {
    return new Utterance(this, opts);
  }

  /** Runs one utterance; resolves with its text ('' for silence). */
  async recognize(chunks: readonly Int16Array[], samples: number, signal: AbortSignal): Promise<string> {
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
