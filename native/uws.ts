/**
 * Loads uWebSockets.js and refuses to run on its silent JavaScript fallback: the npm build ships
 * native binaries for Node 20 only, and when the binary cannot load it quietly swaps in a slow
 * shim built on `ws`, which would pass every functional test while losing the reason we use it.
 * Dropping in another build for a newer Node means changing only this file.
 */
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);

function load(): typeof UWS {
  const saved = console.warn;
  const warnings: string[] = [];
  // The package prints its fallback notice with console.warn; keep it to explain the failure.
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  let mod: typeof UWS;
  try {
    mod = require('uWebSockets.js') as typeof UWS;
  } finally {
    console.warn = saved;
  }
  if (typeof mod.getParts !== 'function' || process.env.UWS_USE_FALLBACK) {
    throw new Error(
      `uWebSockets.js native binary did not load on Node ${process.versions.node} (ABI ${process.versions.modules}, ${process.platform}-${process.arch}); ` +
        `this build ships Node 20 binaries only.${warnings.length ? `\n${warnings.join('\n')}` : ''}`,
    );
  }
  return mod;
}

export const uws = load();
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
