/**
 * Vision model providers by `type`, created inside think workers from a config slice.
 */
import { defineErrors, XzError } from '../../runtime/errors.js';
import type { VisionInput, VllmProvider } from '../contracts/vllm.js';

export const VLLM_ERR = defineErrors({
  XZ_ERR_VLLM_UNKNOWN_TYPE: { category: 'invalid-request', retryable: false, message: 'unknown vision model provider type' },
});

export interface VllmInstanceConfig {
  readonly type: string;
  readonly [option: string]: unknown;
}

type Factory = (id: string, cfg: VllmInstanceConfig) => Promise<VllmProvider>;

/** A chat model that sees images, used as a vision model: one user message with the photo. */
async function chatAsVision(id: string, cfg: VllmInstanceConfig): Promise<VllmProvider> {
  const { createLlm } = await import('../llm/registry.js');
  const llm = await createLlm(id, cfg);
  return {
    id,
    describe: (input: VisionInput) =>
      llm.stream({
        messages: [
          ...(input.system ? [{ role: 'system' as const, content: input.system }] : []),
          { role: 'user', content: input.question, images: [{ mimeType: input.mimeType, base64: Buffer.from(input.image).toString('base64') }] },
        ],
        ...(input.user ? { user: input.user } : {}),
        signal: input.signal,
      }),
    ...(llm.close ? { close: () => llm.close!() } : {}),
  };
}

const FACTORIES: Record<string, Factory> = {
  // OpenAI-compatible image input (GPT-4o, Qwen-VL, GLM-4V, Doubao vision…) and Ollama `images`.
  openai: chatAsVision,
  ollama: chatAsVision,
};

export const vllmTypes = (): string[] => Object.keys(FACTORIES);

export async function createVllm(id: string, cfg: VllmInstanceConfig): Promise<VllmProvider> {
  const make = FACTORIES[cfg.type];
  if (!make) throw new XzError(VLLM_ERR.XZ_ERR_VLLM_UNKNOWN_TYPE, `vllm "${id}": unknown type "${cfg.type}" (known: ${vllmTypes().join(', ') || 'none yet'})`);
  return make(id, cfg);
}
