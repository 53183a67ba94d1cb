// The think worker: one per `workers.think`, hosting one think actor per talking session.
export { actors, bootThink as boot, shutdownThink as shutdown } from './think.js';
