// The codec worker: one per `workers.codec`, hosting one codec actor per talking session. It
// loads only worker-safe native code (@discordjs/opus; see native/opus.ts), so the pool may
// terminate a stuck worker without endangering the process.
import type { ActorModule } from '../../runtime/actor.js';
import { closeCodecLog, codec } from './codec.js';

export const actors: ActorModule['actors'] = { codec };

export async function shutdown(): Promise<void> {
  await closeCodecLog();
}
