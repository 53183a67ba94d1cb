/**
 * Vision language models: an image and a question in, text out (streamed, like a chat model).
 */
import type { LlmDelta } from './llm.js';

export interface VisionInput {
  readonly image: Uint8Array;
  readonly mimeType: 'image/jpeg' | 'image/png';
  readonly question: string;
  /** Instructions for the answer (language, length). */
  readonly system?: string;
  readonly user?: string;
  readonly signal: AbortSignal;
}

export interface VllmProvider {
  readonly id: string;
  describe(input: VisionInput): AsyncIterable<LlmDelta>;
  close?(): Promise<void>;
}
