/**
 * The `echo` responder: answers "I heard: …" with what the user said. It is the default until a
 * language model is configured, so a new installation can check microphone → ASR → TTS → speaker
 * on a real device without any key or network. It streams in small pieces like a real model.
 */
import type { LlmDelta, LlmProvider, LlmRequest } from '../../contracts/llm.js';
import { E, XzError } from '../../../runtime/errors.js';

export interface EchoOptions {
  /** Text before the echoed words. */
  prefix?: string;
  /** What to say when there is nothing to echo. */
  empty?: string;
}

export function createEchoLlm(id: string, opts: EchoOptions = {}): LlmProvider {
  const prefix = opts.prefix ?? 'I heard: ';
  return {
    id,
    caps: { tools: false, vision: false, maxContextTokens: 1_000_000 },
    async *stream(req: LlmRequest): AsyncIterable<LlmDelta> {
      const last = [...req.messages].reverse().find((m) => m.role === 'user');
      const heard = last?.content.trim() ?? '';
      const answer = heard ? `${prefix}${heard}` : (opts.empty ?? 'I did not catch that.');
      const words = answer.split(/(?<=\s)/);
      for (let i = 0; i < words.length; i += 3) {
        if (req.signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, 'echo aborted');
        yield { kind: 'text', text: words.slice(i, i + 3).join('') };
        // Yield to the event loop between pieces, as a network stream would.
        await new Promise((r) => setImmediate(r));
      }
      yield { kind: 'usage', inputTokens: heard.length, outputTokens: answer.length };
      yield { kind: 'end', reason: 'stop' };
    },
  };
}
