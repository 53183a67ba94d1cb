/**
 * The speak actor: sentences (whole, in pieces as the model writes them, or a music file) in, PCM
 * chunks out to the codec actor as the TTS yields them, each sentence closed by an empty `last`
 * chunk so the codec pads and flushes its final frame. Ordering and the per-turn pump live in
 * pipeline.ts.
 *
 * A barge-in bumps the turn: the turn's signal aborts, the provider stops (its process is killed,
 * its connection closed), and the old turn's remaining sentences are dropped.
 */
import { defineActor, type ActorContext, type ActorModule } from '../../runtime/actor.js';
import { toWire } from '../../runtime/errors.js';
import type { TtsProvider } from '../../providers/contracts/tts.js';
import { createTts } from '../../providers/registry.js';
import { pooledTts } from '../../providers/pool/tts.js';
import { realClock } from '../../runtime/clock.js';
import { PoolStateClient } from '../pools/client.js';
import { TurnPipeline } from './pipeline.js';
import type { SpeakBoot, SpeakIn, SpeakInit, SpeakOut } from './messages.js';

let boot: SpeakBoot = { tts: {}, chain: [], spawner: null, hedgeMs: 0 };
const providers = new Map<string, Promise<TtsProvider>>();

function vendor(name: string): Promise<TtsProvider> {
  const cfg = boot.tts[name];
  if (!cfg) return Promise.reject(new Error(`TTS "${name}" is not configured`));
  let p = providers.get(name);
  if (!p) {
    p = createTts(name, cfg, { spawner: boot.spawner ?? undefined });
    providers.set(name, p);
    p.catch(() => providers.delete(name));
  }
  return p;
}

/** The TTS chain behind the pool adapter (failover, breaker, quotas), state owned by main. */
async function pooled(client: PoolStateClient, holder: string): Promise<TtsProvider> {
  const chain: { key: string; provider: TtsProvider }[] = [];
  for (const name of boot.chain) {
    try {
      chain.push({ key: `tts.${name}`, provider: await vendor(name) });
    } catch {
      // A TTS whose config is broken is left out; the others still speak.
    }
  }
  if (chain.length === 0) throw new Error('no usable TTS (pipeline.tts)');
  return chain.length === 1 ? chain[0]!.provider : pooledTts({ id: 'tts', chain, state: client, clock: realClock, hedgeMs: boot.hedgeMs, holder });
}

interface State extends SpeakInit {
  tts: Promise<TtsProvider> | undefined;
  client: PoolStateClient;
  pipeline: TurnPipeline | undefined;
  /** Aborts the pump when the actor stops (session over, worker shutting down). */
  stopped: AbortController;
}

const speak = defineActor<State, SpeakInit, SpeakIn>({
  // Handlers only file jobs; a deep queue means the worker thread itself is stalled.
  mailbox: { capacity: 256, overflow: 'fail' },
  start: (ctx, init) => ({ ...init, tts: undefined, client: new PoolStateClient(ctx), pipeline: undefined, stopped: new AbortController() }),
  receive(s, m, env, ctx) {
    const p = pipelineFor(s, env.turn, ctx);
    if (!p) return;
    const voice = (v: { name?: string | null; language?: string | null }) => ({ name: v.name ?? undefined, language: v.language ?? undefined });
    switch (m.t) {
      case 'speak.say':
        return p.text(m.sentence, m.text, voice(m.voice), true, false);
      case 'speak.text':
        return p.text(m.sentence, m.text, voice(m.voice), m.end, true);
      case 'speak.play':
        return p.play(m.sentence, m.path, m.maxSeconds);
    }
  },
  stop(s) {
    s.stopped.abort();
  },
});

/** The pipeline of the message's turn: a newer turn replaces the old one (already aborted by the bump). */
function pipelineFor(s: State, turn: number, ctx: ActorContext): TurnPipeline | undefined {
  if (s.pipeline && s.pipeline.turn === turn) return s.pipeline;
  if (s.pipeline && s.pipeline.turn > turn) return undefined;
  const signal = AbortSignal.any([ctx.turnSignal(turn), s.stopped.signal]);
  const tts = () => {
    s.tts ??= pooled(s.client, ctx.self);
    s.tts.catch(() => (s.tts = undefined));
    return s.tts;
  };
  s.pipeline = new TurnPipeline(turn, signal, tts, {
    pcm: (sentence, pcm, sampleRate, last) => {
      if (signal.aborted) return;
      ctx.send(s.codecAddr, { t: 'codec.encode', pcm, sampleRate, sentence, last }, { turn, transfer: [pcm.buffer as ArrayBuffer] });
    },
    failed: (sentence, e) => {
      const out: SpeakOut = { t: 'session.speak-failed', sentence, error: toWire(e) };
      ctx.send(s.sessionAddr, out, { turn });
    },
  });
  return s.pipeline;
}

export const actors: ActorModule['actors'] = { speak };

export function bootSpeak(data: unknown): void {
  boot = data as SpeakBoot;
  providers.clear();
}

export async function shutdownSpeak(): Promise<void> {
  for (const p of providers.values()) await p.then((x) => x.close?.()).catch(() => {});
  providers.clear();
}
