/**
 * The worker actors one talking session uses, spawned when the device first listens (an idle
 * connected device costs no worker state), linked so audio flows worker to worker, and killed
 * with the session.
 *
 *   session ──codec.decode──▶ codec/<id> ──listen.pcm──▶ listen/<id> ──speech/transcript──▶ session
 *   session ──think.respond─▶ think/<id> ──reply sentences──▶ session
 *   session ──speak.say─────▶ speak/<id> ──codec.encode──▶ codec/<id> ──session.frames──▶ session
 */
import type { ActorSystem } from '../../runtime/system.js';

export interface CrewSettings {
  downlink: { sampleRate: number; frameMs: number; complexity: number };
  vad: { threshold: number; min_speech_ms: number; end_silence_ms: number };
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
      spawn(c.listen, 'listen', { session, sessionAddr, vad: s.vad }),
      spawn(c.think, 'think', { session, sessionAddr }),
      spawn(c.speak, 'speak', { session, sessionAddr, codecAddr: c.codec }),
    ]);
    await Promise.all([system.link(c.codec, c.listen), system.link(c.speak, c.codec)]);
  } catch (e) {
    await Promise.allSettled(spawned.map((a) => system.kill(a)));
    throw e;
  }
  return c;
}

export async function killCrew(system: ActorSystem, c: Crew): Promise<void> {
  await Promise.allSettled([c.codec, c.listen, c.think, c.speak].map((a) => system.kill(a)));
}
