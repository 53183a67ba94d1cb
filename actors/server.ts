/**
 * `npm start`: load the configuration, start the server, stop it cleanly on SIGTERM/SIGINT.
 * Exit codes: 0 after a clean stop, 2 for an invalid configuration, 1 for anything else.
 */
import { load, ConfigError, redact } from '../config/index.js';
import { startServer, type ServerHandle } from './boot.js';

async function main(): Promise<void> {
  let config;
  try {
    config = load();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
  let server: ServerHandle;
  try {
    server = await startServer(config);
  } catch (e) {
    process.stderr.write(`xiaozhi-server failed to start: ${(e as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  server.log.debug({ config: redact(config) }, 'configuration');
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      server.log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(1);
    }
    server.stop(sig).then(
      () => {
        process.exitCode = 0;
        // Nothing should hold the loop now; if something does, do not hang the supervisor.
        setTimeout(() => process.exit(0), 2_000).unref();
      },
      (e) => {
        process.stderr.write(`error while stopping: ${(e as Error).stack}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('uncaughtException', (e) => {
    server.log.fatal({ err: e }, 'uncaught exception: stopping');
    void server.stop('uncaught exception').finally(() => process.exit(1));
  });
}

void main();
