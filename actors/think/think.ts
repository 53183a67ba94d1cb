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
import { streamReply } from './reply.js';
import { visionActor } from './vision.js';
import type { VllmProvider } from '../../providers/contracts/vllm.js';
import { createVllm } from '../../providers/vllm/registry.js';

/** Rounds of tool calls before the model must answer in plain words. */
const MAX_TOOL_ROUNDS = 3;
/** A device tool may take a while (the firmware runs it on its main task); PY allows 30 s. */
const TOOL_TIMEOUT_MS = 30_000;

let boot: ThinkBoot = { llm: {}, chain: [], vllm: {}, vllmChain: [] };
const providers = new Map<string, Promise<LlmProvider>>();
let vllmProvider: Promise<VllmProvider | undefined> | undefined;

function visionProvider(): Promise<VllmProvider | undefined> {
  const name = boot.vllmChain[0];
  const cfg = name === undefined ? undefined : boot.vllm[name];
  if (!name || !cfg) return Promise.resolve(undefined);
  vllmProvider ??= createVllm(name, cfg);
  vllmProvider.catch(() => (vllmProvider = undefined));
  return vllmProvider;
}

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
        const out = (msg: ThinkOut) => {
          if (!signal.aborted) ctx.send(init.sessionAddr, msg, { turn: env.turn });
        };
        try {
          const llm = await provider();
          const r = await streamReply({
            llm,
            messages: m.messages,
            tools: m.tools ?? [],
            maxRounds: m.maxToolRounds ?? MAX_TOOL_ROUNDS,
            user: init.session,
            sessionAddr: init.sessionAddr,
            turn: env.turn,
            ctx,
            signal,
            toolTimeoutMs: TOOL_TIMEOUT_MS,
          });
          out({
            t: 'session.reply-done',
            text: r.text,
            sentences: r.sentences,
            toolCalls: r.toolCalls,
            ...(r.emotion ? { emotion: r.emotion } : {}),
            ...(r.firstTextMs !== undefined ? { firstTextMs: r.firstTextMs } : {}),
            ...(r.error !== undefined ? { error: toWire(r.error) } : {}),
          });
        } catch (e) {
          if (signal.aborted) return;
          out({ t: 'session.reply-done', text: '', sentences: 0, error: toWire(e) });
        }
        return;
      }
    }
  },
});

export const actors: ActorModule['actors'] = { think, vision: visionActor({ vllm: visionProvider, llm: provider }) };

export function bootThink(data: unknown): void {
  boot = data as ThinkBoot;
  providers.clear();
  vllmProvider = undefined;
}

export async function shutdownThink(): Promise<void> {
  for (const p of providers.values()) await p.then((x) => x.close?.()).catch(() => {});
  providers.clear();
}
