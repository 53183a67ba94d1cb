/**
 * The worker actors one talking session uses, spawned when the device first listens (an idle
 * connected device costs no worker state), linked so audio flows worker to worker, and killed
 * with the session.
 *
 *   session ──codec.decode──▶ codec/<id> ──listen.pcm──▶ listen/<id> ──speech/transcript──▶ session
 *   session ──think.respond─▶ think/<id> ──reply sentences──▶ session
 *   session ──speak.say─────▶ speak/<id> ──codec.encode──▶ codec/<id> ──session.frames──▶ session
 *                 think/<id> ──speak.text (pieces)──▶ speak/<id>      (a TTS that takes streamed text)
 */
import type { ActorSystem } from '../../runtime/system.js';
import type { AnyMsg, Lane } from '../../runtime/envelope.js';

export interface CrewSettings {
  downlink: { sampleRate: number; frameMs: number; complexity: number };
  vad: { threshold: number; min_speech_ms: number; end_silence_ms: number; early_asr_ms?: number };
  echo?: { threshold: number; maxLagMs: number; windowMs: number };
  /** The TTS chain takes text as it is written: think feeds speak directly, so they are linked. */
  ttsStreamsText: boolean;
}

export interface Crew {
  readonly codec: string;
  readonly listen: string;
  readonly think: string;
  readonly speak: string;
}

export function crewOf(sessionId: string): Crew {
  return { codec: `codec/${sessionId}`, listen: `listen/${sessionId}`, think: `think/${sessionId}`, speak: `speak/${sessionId}` };
}

/** Spawns and links the session's worker actors; on any failure, kills what was spawned. */
export async function spawnCrew(system: ActorSystem, sessionId: string, sessionAddr: string, s: CrewSettings): Promise<Crew> {
  const c = crewOf(sessionId);
  const session = sessionId;
  const spawned: string[] = [];
  const spawn = async (addr: string, pool: string, init: unknown) => {
    await system.spawn(addr, pool, init, { pool, session });
    spawned.push(addr);
  };
  try {
    await Promise.all([
      spawn(c.codec, 'codec', { session, sessionAddr, listenAddr: c.listen, downlink: s.downlink }),
      spawn(c.listen, 'listen', { session, sessionAddr, vad: s.vad, ...(s.echo ? { echo: s.echo } : {}) }),
      spawn(c.think, 'think', { session, sessionAddr, ...(s.ttsStreamsText ? { speakAddr: c.speak } : {}) }),
      spawn(c.speak, 'speak', { session, sessionAddr, codecAddr: c.codec }),
    ]);
    await Promise.all([
      system.link(c.codec, c.listen),
      system.link(c.speak, c.codec),
      ...(s.ttsStreamsText ? [system.link(c.think, c.speak)] : []),
    ]);
  } catch (e) {
    await Promise.allSettled(spawned.map((a) => system.kill(a)));
    throw e;
  }
  return c;
}

export async function killCrew(system: ActorSystem, c: Crew): Promise<void> {
  await Promise.allSettled([c.codec, c.listen, c.think, c.speak].map((a) => system.kill(a)));
}

/** Messages kept while the worker actors start (≈ 2 s of uplink audio plus control). */
const MAX_PENDING = 48;

/**
 * A session's handle on its crew: spawned on first use, messages queued (bounded) while it
 * starts, delivered in order once it is up; `release()` hands the crew back for killing.
 */
export class CrewLink {
  #crew: Crew | undefined;
  #state: 'none' | 'spawning' | 'ready' | 'released' = 'none';
  #pending: [keyof Crew, AnyMsg, Lane, ArrayBufferLike[] | undefined][] = [];

  constructor(
    private readonly system: ActorSystem,
    private readonly sessionId: string,
    private readonly sessionAddr: string,
    private readonly settings: CrewSettings,
    private readonly onFailure: (e: unknown) => void,
  ) {}

  /** Spawns the crew if it is not there yet (an idle connected device has none). */
  ensure(): void {
    if (this.#state !== 'none') return;
    this.#state = 'spawning';
    spawnCrew(this.system, this.sessionId, this.sessionAddr, this.settings).then(
      (crew) => {
        if (this.#state !== 'spawning') {
          void killCrew(this.system, crew);
          return;
        }
        this.#crew = crew;
        this.#state = 'ready';
        const pending = this.#pending;
        this.#pending = [];
        for (const [who, msg, lane, transfer] of pending) this.send(who, msg, lane, transfer);
      },
      (e: unknown) => {
        this.#state = 'released';
        this.#pending = [];
        this.onFailure(e);
      },
    );
  }

  send(who: keyof Crew, msg: AnyMsg, lane: Lane, transfer?: ArrayBufferLike[]): void {
    const crew = this.#crew;
    if (!crew) {
      if (this.#state === 'spawning' && this.#pending.length < MAX_PENDING) this.#pending.push([who, msg, lane, transfer]);
      return;
    }
    this.system.send(crew[who], msg, { session: this.sessionId, lane, ...(transfer ? { transfer: transfer as ArrayBuffer[] } : {}) });
  }

  /** No more messages; returns the crew (if it came up) for the caller to finish with and kill. */
  release(): Crew | undefined {
    const crew = this.#crew;
    this.#crew = undefined;
    this.#state = 'released';
    this.#pending = [];
    return crew;
  }
}
