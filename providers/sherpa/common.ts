/**
 * What the sherpa-onnx recognizer and synthesiser (providers/tts/sherpa) share: their error
 * codes, config checking with zod (every problem named by its config path), the model-file
 * check, the model probe in a child process, and a lane that runs one native job at a time.
 *
 * Creation order, so a misconfigured instance fails with a message rather than a dead process:
 * config shape → files exist (fs only) → the addon loads here (no model yet) → the model loads in
 * a child process (native/sherpa.ts says why: a wrong but existing model file makes sherpa-onnx
 * exit() the whole process) → the model loads in this thread.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { E, XzError, defineErrors } from '../../runtime/errors.js';
import { readAll, type SpawnClient } from '../../runtime/spawner.js';
import {
  loadSherpa,
  probeCommand,
  SherpaError,
  type OfflineRecognizerConfig,
  type OfflineTtsConfig,
  type OnlineRecognizerConfig,
  type ProbeTarget,
  type SherpaModule,
} from '../../native/sherpa.js';

export const SHERPA = defineErrors({
  XZ_ERR_SHERPA_UNAVAILABLE: { category: 'internal', retryable: false, message: 'the sherpa-onnx native module could not be loaded' },
  XZ_ERR_SHERPA_MODEL_MISSING: { category: 'invalid-request', retryable: false, message: 'a configured sherpa-onnx model file does not exist' },
  XZ_ERR_SHERPA_MODEL_INVALID: { category: 'invalid-request', retryable: false, message: 'sherpa-onnx could not load the configured model' },
  // Recognition or synthesis failed inside the engine; another provider of the chain may do better.
  XZ_ERR_SHERPA_FAILED: { category: 'upstream', retryable: false, message: 'sherpa-onnx failed' },
});

/** Where the engine should run. The npm build is CPU-only; the others fall back to CPU. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'coreml'] as const;

/** A `${VAR}` in YAML can only produce a string: accept "2" where a number is expected. */
export const numeric = (v: unknown): unknown => (typeof v === 'string' && /^[-+]?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v);
export const boolean = (v: unknown): unknown => (v === 'true' ? true : v === 'false' ? false : v);

type Issue = z.core.$ZodIssue;

function join(base: string, rel: readonly PropertyKey[]): string {
  let out = base;
  for (const seg of rel) out += typeof seg === 'number' ? `[${seg}]` : `.${String(seg)}`;
  return out;
}

function valueAt(root: unknown, rel: readonly PropertyKey[]): unknown {
  let v = root;
  for (const seg of rel) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[seg] : undefined;
  return v;
}

function describe(i: Issue, input: unknown): { at: readonly PropertyKey[]; message: string }[] {
  if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ at: [...i.path, k], message: 'unknown key' }));
  if (i.code === 'invalid_union' && 'discriminator' in i && Array.isArray((i as { options?: unknown }).options)) {
    const got = valueAt(input, i.path);
    const options = (i as unknown as { options: unknown[] }).options.map(String);
    const what = got === undefined ? 'required' : `unknown ${String(i.discriminator)} ${JSON.stringify(got)}`;
    return [{ at: i.path, message: `${what}; expected one of: ${options.join(', ')}` }];
  }
  return [{ at: i.path, message: i.message }];
}

/** Parses a provider's config slice; a failure lists every problem as `<config path>: <message>`. */
export function parseWith<S extends z.ZodType>(schema: S, cfg: unknown, path: string): z.output<S> {
  const r = schema.safeParse(cfg);
  if (r.success) return r.data;
  const issues = r.error.issues.flatMap((i) => describe(i, cfg)).map((d) => ({ path: join(path, d.at), message: d.message }));
  throw new XzError(E.XZ_ERR_CONFIG_INVALID, issues.map((i) => `${i.path}: ${i.message}`).join('; '), {
    details: { path: issues[0]?.path ?? path, issues },
  });
}

/** One configured path: its lookup key, its value, where it sits in the config, and whether it is a folder. */
export interface ModelPath {
  key: string;
  value: string;
  /** Full config path, for messages. */
  at: string;
  dir?: boolean;
}

/**
 * Resolves model paths against `base` (the model's `dir`, else the working directory) and
 * checks each exists as the right kind of entry, before anything native sees them. Returns
 * absolute paths by key.
 */
export function resolveModelPaths(base: { value: string | undefined; at: string }, paths: readonly ModelPath[]): Map<string, string> {
  const root = resolve(base.value ?? '.');
  if (base.value !== undefined) check(root, base.at, true);
  const out = new Map<string, string>();
  for (const p of paths) {
    const abs = resolve(root, p.value);
    check(abs, p.at, p.dir === true);
    out.set(p.key, abs);
  }
  return out;
}

function check(abs: string, at: string, dir: boolean): void {
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new XzError(SHERPA.XZ_ERR_SHERPA_MODEL_MISSING, `${at}: ${abs} does not exist`, { details: { path: at, file: abs } });
  }
  if (dir !== st.isDirectory()) {
    throw new XzError(SHERPA.XZ_ERR_SHERPA_MODEL_MISSING, `${at}: ${abs} is not a ${dir ? 'folder' : 'file'}`, { details: { path: at, file: abs } });
  }
}

export interface SherpaCreateOptions {
  /** Module to load instead of sherpa-onnx-node (tests). */
  specifier?: string;
}

/** The addon, or a coded error saying why it will not load. */
export function sherpaModule(specifier?: string): SherpaModule {
  try {
    return loadSherpa(specifier);
  } catch (e) {
    if (e instanceof SherpaError) throw new XzError(SHERPA.XZ_ERR_SHERPA_UNAVAILABLE, e.message, { cause: e });
    throw e;
  }
}

// Probe outcomes by config, per thread: a model is checked once, and a model that failed its
// check is not loaded again and again by every utterance that asks for the provider (fixing the
// files needs a restart). Failures to run the probe at all (spawner down, timeout) are not kept.
const probes = new Map<string, Promise<Record<string, unknown>>>();

export interface VerifyOptions {
  target: ProbeTarget;
  config: OnlineRecognizerConfig | OfflineRecognizerConfig | OfflineTtsConfig;
  client: () => Promise<SpawnClient>;
  timeoutMs: number;
  /** The config path of the model, for messages. */
  path: string;
  specifier?: string | undefined;
}

/** Loads the model in a child process first; resolves with what the probe printed. */
export function verifyModel(o: VerifyOptions): Promise<Record<string, unknown>> {
  const key = JSON.stringify([o.target, o.config, o.specifier ?? null]);
  let p = probes.get(key);
  if (!p) {
    p = runProbe(o);
    probes.set(key, p);
    p.catch((e: unknown) => {
      if (!(e instanceof XzError && e.code === SHERPA.XZ_ERR_SHERPA_MODEL_INVALID)) probes.delete(key);
    });
  }
  return p;
}

async function runProbe(o: VerifyOptions): Promise<Record<string, unknown>> {
  const { cmd, args } = probeCommand(o.target, o.config, o.specifier);
  const client = await o.client();
  const { stdout, exit } = await readAll(client.run(cmd, args, { timeoutMs: o.timeoutMs, check: false }));
  if (exit.code !== 0) {
    // sherpa-onnx logs its reason to stderr just before it exits; the last lines say it.
    const reason = exit.stderr.trim().split('\n').slice(-3).join(' | ') || `exit ${exit.code ?? exit.signal}`;
    throw new XzError(SHERPA.XZ_ERR_SHERPA_MODEL_INVALID, `${o.path}: sherpa-onnx could not load this model (${exit.code !== null ? `exit ${exit.code}` : exit.signal}): ${reason}`, {
      details: { path: o.path, exitCode: exit.code, signal: exit.signal, stderr: exit.stderr.slice(-2000) },
    });
  }
  const line = stdout.toString('utf8').trim().split('\n').at(-1) ?? '{}';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * Runs native jobs one at a time. The addon's objects are not documented as safe for
 * concurrent calls from the libuv pool, and on a box sized by worker count a second parallel
 * job would only compete for the same cores. A job whose signal fired while it waited is skipped.
 */
export class Lane {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const p = this.#tail.then(() => {
      if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, 'aborted before it started');
      return job();
    });
    this.#tail = p.catch(() => {});
    return p;
  }
}

/** `p`, or XZ_ERR_ABORTED the moment the signal fires (the native job may run on, unobserved). */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal, message: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new XzError(E.XZ_ERR_ABORTED, message));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new XzError(E.XZ_ERR_ABORTED, message));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A native failure as a coded error. */
export function engineError(what: string, e: unknown): XzError {
  if (e instanceof XzError) return e;
  return new XzError(SHERPA.XZ_ERR_SHERPA_FAILED, `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
