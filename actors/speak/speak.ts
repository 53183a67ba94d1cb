/**
 * The speak actor: text of one sentence in, PCM chunks out to the codec actor as the TTS yields
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
import type { SpeakBoot, SpeakIn, SpeakInit, SpeakOut } from './messages.js';

let boot: SpeakBoot = { tts: {}, chain: [], spawner: null };
const providers = new Map<string, Promise<TtsProvider>>();

function provider(): Promise<TtsProvider> {
  const name = boot.chain[0];
  const cfg = name === undefined ? undefined : boot.tts[name];
  if (!name || !cfg) return Promise.reject(new Error('no TTS configured (pipeline.tts is empty)'));
  let p = providers.get(name);
  if (!p) {
    p = createTts(name, cfg, { spawner: boot.spawner ?? undefined });
    providers.set(name, p);
    p.catch(() => providers.delete(name));
  }
  return p;
}

const speak = defineActor<SpeakInit, SpeakInit, SpeakIn>({
  // Sentences of one reply; a deep queue means TTS is far slower than speech.
  mailbox: { capacity: 64, overflow: 'fail' },
  start: (_ctx, init) => init,
  async receive(init, m, env, ctx, signal) {
    switch (m.t) {
      case 'speak.say': {
        const send = (pcm: Int16Array, sampleRate: number, last: boolean) => {
          if (signal.aborted) return;
          ctx.send(init.codecAddr, { t: 'codec.encode', pcm, sampleRate, sentence: m.sentence, last }, { turn: env.turn, transfer: [pcm.buffer as ArrayBuffer] });
        };
        let rate = 16_000;
        try {
          const tts = await provider();
          rate = tts.caps.sampleRate;
          const voice = { name: m.voice.name ?? undefined, language: m.voice.language ?? undefined };
          for await (const chunk of tts.synthesize({ text: m.text, voice, signal })) {
            rate = chunk.sampleRate;
            // The chunk may be a view into a larger buffer: move a copy we own.
            const own = chunk.pcm.byteOffset === 0 && chunk.pcm.byteLength === chunk.pcm.buffer.byteLength ? chunk.pcm : chunk.pcm.slice();
            send(own, rate, false);
          }
        } catch (e) {
          if (signal.aborted) return;
          const out: SpeakOut = { t: 'session.speak-failed', sentence: m.sentence, error: toWire(e) };
          ctx.send(init.sessionAddr, out, { turn: env.turn });
        }
        send(new Int16Array(0), rate, true);
        return;
      }
    }
  },
});

export const actors: ActorModule['actors'] = { speak };

export function bootSpeak(data: unknown): void {
  boot = data as SpeakBoot;
  providers.clear();
}

export async function shutdownSpeak(): Promise<void> {
  for (const p of providers.values()) await p.then((x) => x.close?.()).catch(() => {});
  providers.clear();
}
