/**
 * The listen worker module: the `listen` actor kind, and the one Silero model session this
 * worker's sessions share (loaded at boot, before the worker reports ready, so a missing model
 * fails the pool's start instead of the first session).
 *
 * Boot data (the pool's `data`, a structured-clone config slice):
 *   vad?       the `providers.vad` instance: `{ type: 'silero', model?: path, threads?: n }`;
 *              default: native/models/silero_vad.onnx, one thread
 *   maxBatch?  most windows scored in one model call (default 64)
 *   asr?, chain?, spawner?, hints?   the pipeline's ASR instances, their order, the spawner's
 *              address and dialogue.hotwords: the default ASR of every session on this worker
 */
import type { ActorModule } from '../../runtime/actor.js';
import { SileroVad, type SileroVadConfig } from '../../providers/vad/silero.js';
import { closeAsrProviders, configureWorkerAsr, type WorkerAsrConfig } from './asr.js';
import { installWorkerVad, releaseWorkerVad } from './batcher.js';
import { listen, totals } from './listen.js';

export interface ListenBoot extends WorkerAsrConfig {
  vad?: SileroVadConfig | null;
  maxBatch?: number;
}

export const actors: ActorModule['actors'] = { listen };

export async function boot(data: unknown): Promise<void> {
  const cfg = (data ?? {}) as ListenBoot;
  const model = await SileroVad.create(cfg.vad ?? {});
  installWorkerVad(model, cfg.maxBatch !== undefined ? { maxBatch: cfg.maxBatch } : {});
  configureWorkerAsr(cfg);
}

/** This worker's totals over every session it has hosted. */
export function counters(): Record<string, number> {
  return { ...totals };
}

export async function shutdown(): Promise<void> {
  await closeAsrProviders();
  await releaseWorkerVad();
}
