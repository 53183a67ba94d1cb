/**
 * Provider factories by vendor `type`. Workers build their providers from a config slice
 * (plain, structured-clone data: `{ type: 'espeak', wpm: 160 }`) plus shared dependencies such
 * as the spawner's address, so nothing unclonable crosses threads.
 *
 * Each vendor module is imported on first use, so a worker that only speaks never loads a
 * recogniser. Adding a vendor is one line in the table of its stage.
 */
import { defineErrors, XzError } from '../runtime/errors.js';
import { sharedSpawnClient, type SpawnClient, type SpawnClientFactory } from '../runtime/spawner.js';
import type { AsrProvider } from './contracts/asr.js';
import type { TtsProvider } from './contracts/tts.js';
import { probeFor as httpProbeFor, type HttpProbe } from './http/probe.js';

export const PR = defineErrors({
  XZ_ERR_PROVIDER_UNKNOWN_TYPE: { category: 'invalid-request', retryable: false, message: 'unknown provider type' },
  XZ_ERR_PROVIDER_DEPENDENCY: { category: 'internal', retryable: false, message: 'provider needs a dependency that was not given' },
});

export interface ProviderConfig {
  type: string;
  [option: string]: unknown;
}

export interface ProviderDeps {
  /** The spawner, for vendors that run a local program: its address (from Spawner.address) or a client factory. */
  spawner?: string | SpawnClientFactory | undefined;
}

/** What a factory gets: the instance name, its config, the deps, and the config path for messages. */
interface FactoryArgs {
  name: string;
  cfg: ProviderConfig;
  deps: ProviderDeps;
  path: string;
}
type Factory<P> = (a: FactoryArgs) => Promise<P>;

const ttsFactories: Readonly<Record<string, Factory<TtsProvider>>> = {
  espeak: async (a) => (await import('./tts/espeak/index.js')).createEspeakTts(a.name, a.cfg, spawnerOf(a), a.path),
  edge: async (a) => (await import('./tts/edge/index.js')).createEdgeTts(a.name, a.cfg, a.path),
  openai: async (a) => (await import('./tts/openai/index.js')).createOpenAiTts(a.name, a.cfg, a.path),
  volc: async (a) => (await import('./tts/volc/index.js')).createVolcTts(a.name, a.cfg, a.path),
  sherpa: async (a) => (await import('./tts/sherpa/index.js')).createSherpaTts(a.name, a.cfg, () => spawnerOf(a)(), a.path),
};

const asrFactories: Readonly<Record<string, Factory<AsrProvider>>> = {
  pocketsphinx: async (a) => (await import('./asr/pocketsphinx/index.js')).createPocketsphinxAsr(a.name, a.cfg, spawnerOf(a), a.path),
  openai: async (a) => (await import('./asr/openai/index.js')).createOpenAiAsr(a.name, a.cfg, a.path),
  volc: async (a) => (await import('./asr/volc/index.js')).createVolcAsr(a.name, a.cfg, a.path),
  sherpa: async (a) => (await import('./asr/sherpa/index.js')).createSherpaAsr(a.name, a.cfg, () => spawnerOf(a)(), a.path),
};

/** Vendors spoken to over a WebSocket, probed by their own handshake (HTTP ones by `base_url`). */
const wsProbes: Readonly<Record<'asr' | 'tts', Readonly<Record<string, Factory<HttpProbe>>>>> = {
  tts: {
    edge: async (a) => (await import('./tts/edge/index.js')).edgeProbe(a.cfg, a.path),
    volc: async (a) => (await import('./tts/volc/index.js')).volcTtsProbe(a.cfg, a.path),
  },
  asr: {
    volc: async (a) => (await import('./asr/volc/index.js')).volcAsrProbe(a.cfg, a.path),
  },
};

export const ttsTypes: readonly string[] = Object.keys(ttsFactories);

/** Vendors whose TTS takes text as it is written (`open()`), known before any instance exists. */
const TEXT_STREAMING_TTS: ReadonlySet<string> = new Set(['volc']);
export function ttsStreamsText(type: string): boolean {
  return TEXT_STREAMING_TTS.has(type);
}
export const asrTypes: readonly string[] = Object.keys(asrFactories);

function spawnerOf(a: FactoryArgs): () => Promise<SpawnClient> {
  const s = a.deps.spawner;
  if (typeof s === 'function') return s;
  if (typeof s === 'string' && s !== '') return () => sharedSpawnClient(s);
  throw new XzError(PR.XZ_ERR_PROVIDER_DEPENDENCY, `${a.path} (type ${a.cfg.type}) runs a local program and needs deps.spawner`, {
    details: { path: a.path, type: a.cfg.type },
  });
}

function pick<P>(stage: string, table: Readonly<Record<string, Factory<P>>>, name: string, cfg: ProviderConfig): Factory<P> {
  const f = typeof cfg?.type === 'string' && Object.hasOwn(table, cfg.type) ? table[cfg.type] : undefined;
  if (f) return f;
  const known = Object.keys(table);
  throw new XzError(PR.XZ_ERR_PROVIDER_UNKNOWN_TYPE, `providers.${stage}.${name}: unknown type ${JSON.stringify(cfg?.type)}; known: ${known.join(', ')}`, {
    details: { stage, name, type: cfg?.type, known },
  });
}

export async function createTts(name: string, cfg: ProviderConfig, deps: ProviderDeps = {}): Promise<TtsProvider> {
  return pick('tts', ttsFactories, name, cfg)({ name, cfg, deps, path: `providers.tts.${name}` });
}

export async function createAsr(name: string, cfg: ProviderConfig, deps: ProviderDeps = {}): Promise<AsrProvider> {
  return pick('asr', asrFactories, name, cfg)({ name, cfg, deps, path: `providers.asr.${name}` });
}

/**
 * A health probe for a provider instance (the pool runs it while the breaker is open): a GET
 * for HTTP vendors with a `base_url`, a WebSocket handshake for Edge and Doubao; undefined for
 * local engines, which have nothing to knock on.
 */
export async function probeFor(stage: 'llm' | 'asr' | 'tts', name: string, cfg: ProviderConfig): Promise<HttpProbe | undefined> {
  const http = httpProbeFor(cfg);
  if (http) return http;
  const table = stage === 'llm' ? undefined : wsProbes[stage];
  const ws = table && Object.hasOwn(table, cfg.type) ? table[cfg.type] : undefined;
  return ws?.({ name, cfg, deps: {}, path: `providers.${stage}.${name}` });
}
