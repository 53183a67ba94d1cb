// The speak worker: one per `workers.speak`, hosting one speak actor per talking session.
export { actors, bootSpeak as boot, shutdownSpeak as shutdown } from './speak.js';
