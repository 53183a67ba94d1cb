/**
 * Vision model providers by `type`, created inside think workers from a config slice.
 */
import { defineErrors, XzError } from '../../runtime/errors.js';
import type { VllmProvider } from '../contracts/vllm.js';

export const VLLM_ERR = defineErrors({
  XZ_ERR_VLLM_UNKNOWN_TYPE: { category: 'invalid-request', retryable: false, message: 'unknown vision model provider type' },
});

export interface VllmInstanceConfig {
  readonly type: string;
  readonly [option: string]: unknown;
}

type Factory = (id: string, cfg: VllmInstanceConfig) => Promise<VllmProvider>;

const FACTORIES: Record<string, Factory> = {};

export const vllmTypes = (): string[] => Object.keys(FACTORIES);

export async function createVllm(id: string, cfg: VllmInstanceConfig): Promise<VllmProvider> {
  const make = FACTORIES[cfg.type];
  if (!make) throw new XzError(VLLM_ERR.XZ_ERR_VLLM_UNKNOWN_TYPE, `vllm "${id}": unknown type "${cfg.type}" (known: ${vllmTypes().join(', ') || 'none yet'})`);
  return make(id, cfg);
}
