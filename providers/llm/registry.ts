/**
 * Language model providers by `type`, created inside worker threads from a config slice.
 * A new vendor adds one line here and a folder beside this file.
 */
import { defineErrors, XzError } from '../../runtime/errors.js';
import type { LlmProvider } from '../contracts/llm.js';

export const LLM_ERR = defineErrors({
  XZ_ERR_LLM_UNKNOWN_TYPE: { category: 'invalid-request', retryable: false, message: 'unknown language model provider type' },
});

export interface LlmInstanceConfig {
  readonly type: string;
  readonly [option: string]: unknown;
}

type Factory = (id: string, cfg: LlmInstanceConfig) => Promise<LlmProvider>;

const FACTORIES: Record<string, Factory> = {
  echo: async (id, cfg) => (await import('./echo/index.js')).createEchoLlm(id, cfg as { prefix?: string }),
  openai: async (id, cfg) => (await import('./openai/index.js')).createOpenAiLlm(id, cfg),
  ollama: async (id, cfg) => (await import('./ollama/index.js')).createOllamaLlm(id, cfg),
  coze: async (id, cfg) => (await import('./coze/index.js')).createCozeLlm(id, cfg),
  dify: async (id, cfg) => (await import('./dify/index.js')).createDifyLlm(id, cfg),
};

export const llmTypes = Object.keys(FACTORIES);

export async function createLlm(id: string, cfg: LlmInstanceConfig): Promise<LlmProvider> {
  const make = FACTORIES[cfg.type];
  if (!make) throw new XzError(LLM_ERR.XZ_ERR_LLM_UNKNOWN_TYPE, `llm "${id}": unknown type "${cfg.type}" (known: ${llmTypes.join(', ')})`);
  return make(id, cfg);
}
