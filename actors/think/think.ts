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
import { pooledLlm } from '../../providers/pool/llm.js';
import { PoolStateClient } from '../pools/client.js';
import { realClock } from '../../runtime/clock.js';

/** Rounds of tool calls before the model must answer in plain words. */
const MAX_TOOL_ROUNDS = 3;
/** A device tool may take a while (the firmware runs it on its main task); PY allows 30 s. */
const TOOL_TIMEOUT_MS = 30_000;

let boot: ThinkBoot = { llm: {}, chain: [], vllm: {}, vllmChain: [], hedgeMs: 0 };
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

function vendor(name: string): Promise<LlmProvider> {
  const cfg = boot.llm[name];
  if (!cfg) return Promise.reject(new Error(`language model "${name}" is not configured`));
  let p = providers.get(name);
  if (!p) {
    p = createLlm(name, cfg);
    providers.set(name, p);
    p.catch(() => providers.delete(name));
  }
  return p;
}

/** The first model of the chain, unpooled: for the vision fallback's one-off explanation. */
function provider(): Promise<LlmProvider> {
  const name = boot.chain[0];
  if (!name) return Promise.reject(new Error('no language model configured (pipeline.llm is empty)'));
  return vendor(name);
}

/**
 * The chain behind the pool adapter: failover, breaker, quotas and hedging, with their state
 * owned by the main thread's `pools` actor so limits hold across every think worker.
 */
async function pooled(client: PoolStateClient, holder: string): Promise<LlmProvider> {
  const chain: { key: string; provider: LlmProvider }[] = [];
  for (const name of boot.chain) {
    try {
      chain.push({ key: `llm.${name}`, provider: await vendor(name) });
    } catch {
      // A model whose config is broken is left out; the others still answer (the error was logged at boot).
    }
  }
  if (chain.length === 0) throw new Error('no usable language model (pipeline.llm)');
  return pooledLlm({ id: 'llm', chain, state: client, clock: realClock, hedgeMs: boot.hedgeMs, holder });
}

interface State extends ThinkInit {
  llm: Promise<LlmProvider> | undefined;
  client: PoolStateClient;
}

const think = defineActor<State, ThinkInit, ThinkIn>({
  mailbox: { capacity: 8, overflow: 'drop-oldest' },
  start: (ctx, init) => ({ ...init, llm: undefined, client: new PoolStateClient(ctx) }),
  async receive(init, m, env, ctx, signal) {
    switch (m.t) {
      case 'think.complete': {
        init.llm ??= pooled(init.client, ctx.self);
        const llm = await init.llm;
        let text = '';
        for await (const d of llm.stream({ messages: m.messages, user: init.session, signal })) if (d.kind === 'text') text += d.text;
        return text;
      }
      case 'think.respond': {
        const out = (msg: ThinkOut) => {
          if (!signal.aborted) ctx.send(init.sessionAddr, msg, { turn: env.turn });
        };
        try {
          init.llm ??= pooled(init.client, ctx.self);
          init.llm.catch(() => (init.llm = undefined));
          const llm = await init.llm;
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
            pieces: m.pieces && init.speakAddr ? { speakAddr: init.speakAddr, voice: m.pieces.voice } : undefined,
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
