/**
 * The speak actor: text of one sentence (or a music file) in, PCM chunks out to the codec actor as the TTS yields
 * them (first audio does not wait for the whole sentence), then an empty `last` chunk so the
 * codec pads and flushes the sentence's final frame.
 *
 * A barge-in bumps the turn: the runtime aborts this handler's signal, the provider stops (its
 * process is killed, its connection closed), and queued sentences of the old turn are dropped.
 */
import { defineActor, type ActorModule } from '../../runtime/actor.js';
import { toWire } from '../../runtime/errors.js';
import type { TtsProvider } from '../../providers/contracts/tts.js';
import { createTts } from '../../providers/registry.js';
import { pooledTts } from '../../providers/pool/tts.js';
import { realClock } from '../../runtime/clock.js';
import { PoolStateClient } from '../pools/client.js';
import { openTrack } from '../../providers/media/track.js';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** How far music decoding runs ahead of playback: enough to ride out a stall, little to waste on a skip. */
const MUSIC_LEAD_MS = 3000;

interface State extends SpeakInit {
  tts: Promise<TtsProvider> | undefined;
  client: PoolStateClient;
}

const speak = defineActor<State, SpeakInit, SpeakIn>({
  // Sentences of one reply; a deep queue means TTS is far slower than speech.
  mailbox: { capacity: 64, overflow: 'fail' },
  start: (ctx, init) => ({ ...init, tts: undefined, client: new PoolStateClient(ctx) }),
  async receive(init, m, env, ctx, signal) {
    const send = (pcm: Int16Array, sampleRate: number, last: boolean) => {
      if (signal.aborted) return;
      ctx.send(init.codecAddr, { t: 'codec.encode', pcm, sampleRate, sentence: m.sentence, last }, { turn: env.turn, transfer: [pcm.buffer as ArrayBuffer] });
    };
    let rate = 16_000;
    try {
      switch (m.t) {
        case 'speak.say': {
          init.tts ??= pooled(init.client, ctx.self);
          init.tts.catch(() => (init.tts = undefined));
          const tts = await init.tts;
          rate = tts.caps.sampleRate;
          const voice = { name: m.voice.name ?? undefined, language: m.voice.language ?? undefined };
          for await (const chunk of tts.synthesize({ text: m.text, voice, signal })) {
            rate = chunk.sampleRate;
            send(owned(chunk.pcm), rate, false);
          }
          break;
        }
        case 'speak.play': {
          const started = performance.now();
          let aheadMs = 0;
          for await (const chunk of openTrack(m.path, { signal, maxSeconds: m.maxSeconds })) {
            rate = chunk.sampleRate;
            send(chunk.pcm, rate, false);
            aheadMs += (chunk.pcm.length / rate) * 1000;
            // Stay MUSIC_LEAD_MS ahead of the wall clock: the pacer and device hold that much.
            const wait = aheadMs - (performance.now() - started) - MUSIC_LEAD_MS;
            if (wait > 0) await sleep(wait, undefined, { signal });
          }
          break;
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      const out: SpeakOut = { t: 'session.speak-failed', sentence: m.sentence, error: toWire(e) };
      ctx.send(init.sessionAddr, out, { turn: env.turn });
    }
    send(new Int16Array(0), rate, true);
  },
});

/** The chunk may be a view into a larger buffer: move a copy we own. */
function owned(pcm: Int16Array): Int16Array {
  return pcm.byteOffset === 0 && pcm.byteLength === pcm.buffer.byteLength ? pcm : pcm.slice();
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
