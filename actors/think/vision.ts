/**
 * The vision actor (one per think worker, shared by every session): answers camera questions
 * with the configured vision model chain; with none, or when it fails, it asks the text model
 * to explain to the user that it cannot see right now — the original design's degradation rule.
 */
import { defineActor, detached } from '../../runtime/actor.js';
import { toWire } from '../../runtime/errors.js';
import type { LlmProvider, LlmDelta } from '../../providers/contracts/llm.js';
import type { VllmProvider } from '../../providers/contracts/vllm.js';

export type VisionIn = { t: 'vision.explain'; question: string; image: Uint8Array; mimeType: 'image/jpeg' | 'image/png'; deviceId: string };

export interface VisionDeps {
  vllm(): Promise<VllmProvider | undefined>;
  llm(): Promise<LlmProvider>;
}

const SYSTEM = 'You answer questions about a photo taken by a voice assistant device. Answer in the language of the question, in at most three short sentences, as plain speech (no lists, no markdown).';

async function collect(stream: AsyncIterable<LlmDelta>): Promise<string> {
  let text = '';
  for await (const d of stream) if (d.kind === 'text') text += d.text;
  return text.trim();
}

export function visionActor(deps: VisionDeps) {
  return defineActor<null, void, VisionIn>({
    // Camera questions are rare and slow; a long queue means the vision model is down.
    mailbox: { capacity: 16, overflow: 'fail' },
    start: () => null,
    receive(_s, m, _env, _ctx, signal) {
      // Answered concurrently: one slow upload must not hold the others.
      return detached((async () => {
        let why: string;
        try {
          const vllm = await deps.vllm();
          if (vllm) {
            const answer = await collect(vllm.describe({ image: m.image, mimeType: m.mimeType, question: m.question, system: SYSTEM, user: m.deviceId, signal }));
            if (answer) return { text: answer, fallback: false };
            why = 'the vision model returned nothing';
          } else why = 'no vision model is configured';
        } catch (e) {
          if (signal.aborted) throw e;
          why = `the vision model failed (${toWire(e).code})`;
        }
        const llm = await deps.llm();
        const text = await collect(
          llm.stream({
            messages: [
              { role: 'system', content: 'You are a voice assistant. Reply in the language of the question, in one or two short spoken sentences.' },
              { role: 'user', content: `The user asked about a photo from the device camera: "${m.question}". You cannot look at the photo right now because ${why}. Tell the user that briefly and kindly.` },
            ],
            user: m.deviceId,
            signal,
          }),
        );
        return { text: text || `I can't see the photo right now: ${why}.`, fallback: true };
      })());
    },
  });
}
