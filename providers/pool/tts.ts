/**
 * Speech synthesis as a pool: the TtsProvider contract over a chain of voices, with failover,
 * breakers, quotas and hedging from run.ts. Text sessions (`open`) replay the text pushed so far
 * to a provider that starts late; they exist only when every member offers them.
 */
import { realClock } from '../../runtime/clock.js';
import type { PcmChunk } from '../contracts/audio.js';
import type { TtsProvider, TtsRequest, TtsSession, Voice } from '../contracts/tts.js';
import { detachOnEnd, Fanout, type Sink } from './fanout.js';
import { members, type PooledOptions } from './llm.js';
import { runPooled } from './run.js';

export interface PooledTtsOptions extends PooledOptions<TtsProvider> {
  /** Most text kept for replay in a session before audio arrives, characters (default 20 000). */
  readonly replayChars?: number;
}

export function pooledTts(o: PooledTtsOptions): TtsProvider {
  const byKey = members('tts', o.chain);
  const chain = [...byKey.keys()];
  const all = [...byKey.values()];
  const first = all[0];
  const clock = o.clock ?? realClock;
  const sessions = all.length > 0 && all.every((p) => typeof p.open === 'function');
  const run = (signal: AbortSignal, start: (key: string, signal: AbortSignal) => AsyncIterable<PcmChunk>, onCommit?: () => void) =>
    runPooled<PcmChunk>({ chain, state: o.state, clock, signal, hedgeMs: o.hedgeMs, holder: o.holder, start, ...(onCommit ? { onCommit } : {}) });
  const provider: TtsProvider = {
    id: o.id,
    // Chunks carry their own rate, so a fallback voice at another rate still plays correctly.
    caps: {
      sampleRate: first?.caps.sampleRate ?? 16_000,
      streamingAudio: all.every((p) => p.caps.streamingAudio),
      streamingText: sessions && all.every((p) => p.caps.streamingText),
    },
    synthesize(req: TtsRequest): AsyncIterable<PcmChunk> {
      return run(req.signal, (key, signal) => byKey.get(key)!.synthesize({ ...req, signal }));
    },
  };
  if (sessions) {
    provider.open = (voice: Voice, signal: AbortSignal): TtsSession => {
      const input = new Fanout<string>(o.replayChars ?? 20_000, (t) => t.length);
      const chunks = run(
        signal,
        (key, sig) => {
          const s = byKey.get(key)!.open!(voice, sig);
          const sink: Sink<string> = { write: (t) => s.pushText(t), end: () => s.end() };
          const detach = input.attach(sink);
          sig.addEventListener('abort', detach, { once: true });
          return detachOnEnd(s, detach);
        },
        () => input.commit(),
      );
      return {
        pushText: (t) => input.write(t),
        end: () => input.end(),
        [Symbol.asyncIterator]: () => chunks[Symbol.asyncIterator](),
      };
    };
  }
  return provider;
}
