/**
 * Speech recognition as a pool: the AsrProvider contract over a chain of recognisers, with the
 * audio written so far replayed to a recogniser that starts late (failover, hedge). See run.ts.
 */
import { realClock } from '../../runtime/clock.js';
import type { AsrEvent, AsrOptions, AsrProvider, AsrStream } from '../contracts/asr.js';
import { detachOnEnd, Fanout } from './fanout.js';
import { members, type PooledOptions } from './llm.js';
import { runPooled } from './run.js';

export interface PooledAsrOptions extends PooledOptions<AsrProvider> {
  /** Most audio kept for replay before a recogniser answers, in samples (default 60 s at 16 kHz). */
  readonly replaySamples?: number;
}

export function pooledAsr(o: PooledAsrOptions): AsrProvider {
  const byKey = members('asr', o.chain);
  const chain = [...byKey.keys()];
  const first = byKey.get(chain[0] ?? '');
  const clock = o.clock ?? realClock;
  const limit = o.replaySamples ?? 60 * 16_000;
  return {
    id: o.id,
    caps: first?.caps ?? { streaming: false, sampleRate: 16_000, languages: 'any' },
    open(opts: AsrOptions): AsrStream {
      const input = new Fanout<Int16Array>(limit, (pcm) => pcm.length);
      const events = runPooled<AsrEvent>({
        chain,
        state: o.state,
        clock,
        signal: opts.signal,
        hedgeMs: o.hedgeMs,
        holder: o.holder,
        onCommit: () => input.commit(),
        start: (key, signal) => {
          const s = byKey.get(key)!.open({ ...opts, signal });
          // Two live recognisers read the same arrays; neither may modify them (the contract's
          // "do not reuse" is about the writer).
          const detach = input.attach(s);
          signal.addEventListener('abort', detach, { once: true });
          return detachOnEnd(s, detach);
        },
      });
      return {
        write: (pcm) => input.write(pcm),
        end: () => input.end(),
        [Symbol.asyncIterator]: () => events[Symbol.asyncIterator](),
      };
    },
  };
}
