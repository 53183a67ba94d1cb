/**
 * The think actor: streams the model's reply for one turn and splits it into sentences.
 *
 *   think.respond ──▶ provider.stream(messages) ──deltas──▶ SentenceSplitter ──▶ session.reply-sentence …
 *                                                                           └──▶ session.reply-done
 *
 * A barge-in bumps the turn: the runtime aborts this handler's signal, which closes the model's
 * stream at once (the vendor sees the disconnect), and nothing of the old turn is sent after.
 */
import { defineActor, type ActorModule } from '../../runtime/actor.js';
import { toWire } from '../../runtime/errors.js';
import type { LlmProvider } from '../../providers/contracts/llm.js';
import { createLlm } from '../../providers/llm/registry.js';
import type { ThinkBoot, ThinkIn, ThinkInit, ThinkOut } from './messages.js';
import { SentenceSplitter } from './sentences.js';

let boot: ThinkBoot = { llm: {}, chain: [] };
const providers = new Map<string, Promise<LlmProvider>>();

function provider(): Promise<LlmProvider> {
  const name = boot.chain[0];
  const cfg = name === undefined ? undefined : boot.llm[name];
  if (!name || !cfg) return Promise.reject(new Error('no language model configured (pipeline.llm is empty)'));
  let p = providers.get(name);
  if (!p) {
    p = createLlm(name, cfg);
    providers.set(name, p);
    p.catch(() => providers.delete(name));
  }
  return p;
}

const think = defineActor<ThinkInit, ThinkInit, ThinkIn>({
  mailbox: { capacity: 8, overflow: 'drop-oldest' },
  start: (_ctx, init) => init,
  async receive(init, m, env, ctx, signal) {
    switch (m.t) {
      case 'think.respond': {
        const started = ctx.clock.now();
        const split = new SentenceSplitter();
        const out = (msg: ThinkOut) => {
          if (!signal.aborted) ctx.send(init.sessionAddr, msg, { turn: env.turn });
        };
        let index = 0;
        let full = '';
        let firstTextMs: number | undefined;
        let emotionSent = false;
        const emit = (texts: string[]) => {
          for (const text of texts) {
            const emotion = !emotionSent && split.emotion ? split.emotion : undefined;
            if (emotion) emotionSent = true;
            out({ t: 'session.reply-sentence', text, index: index++, ...(emotion ? { emotion } : {}) });
          }
        };
        try {
          const llm = await provider();
          for await (const d of llm.stream({ messages: m.messages, user: init.session, signal })) {
            if (d.kind !== 'text') continue;
            firstTextMs ??= ctx.clock.now() - started;
            full += d.text;
            emit(split.push(d.text));
          }
          emit(split.flush());
          const emotion = split.emotion;
          out({ t: 'session.reply-done', text: full, sentences: index, ...(emotion ? { emotion } : {}), ...(firstTextMs !== undefined ? { firstTextMs } : {}) });
        } catch (e) {
          if (signal.aborted) return;
          out({ t: 'session.reply-done', text: full, sentences: index, error: toWire(e) });
        }
        return;
      }
    }
  },
});

export const actors: ActorModule['actors'] = { think };

export function bootThink(data: unknown): void {
  boot = data as ThinkBoot;
  providers.clear();
}

export async function shutdownThink(): Promise<void> {
  for (const p of providers.values()) await p.then((x) => x.close?.()).catch(() => {});
  providers.clear();
}
