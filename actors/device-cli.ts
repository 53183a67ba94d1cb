/**
 * `npm run device -- <command>`: the operator's side of activation, against the same store the
 * server uses (LMDB is safe to open from a second process while the server runs).
 *
 *   bind <code> [label]   bind the device that is showing this 6-digit code
 *   list [--bound|--pending]
 *   unbind <device-id>
 */
import { load, ConfigError } from '../config/index.js';
import { openStore } from '../providers/store/index.js';
import { DeviceRegistry } from '../providers/store/devices.js';

const USAGE = `usage: npm run device -- bind <code> [label] | list [--bound|--pending] | unbind <device-id>`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return cmd ? 0 : 2;
  }
  const config = load();
  const store = await openStore(config.store);
  const devices = new DeviceRegistry(store);
  try {
    switch (cmd) {
      case 'bind': {
        const code = args[0];
        if (!code) throw new Error(USAGE);
        const rec = await devices.bind(code, args[1] ? { label: args.slice(1).join(' ') } : {});
        process.stdout.write(`bound ${rec.deviceId}${rec.label ? ` (${rec.label})` : ''}\n`);
        return 0;
      }
      case 'unbind': {
        const id = args[0];
        if (!id) throw new Error(USAGE);
        const ok = await devices.unbind(id);
        process.stdout.write(ok ? `unbound ${id}\n` : `${id} was not bound\n`);
        return ok ? 0 : 1;
      }
      case 'list': {
        const filter = args.includes('--bound') ? { bound: true } : args.includes('--pending') ? { bound: false } : {};
        const list = await devices.list(filter);
        for (const d of list) {
          process.stdout.write(
            [d.deviceId, d.boundAt ? 'bound' : 'unbound', d.boardType ?? '-', d.firmwareVersion ?? '-', new Date(d.lastSeen).toISOString(), d.label ?? ''].join('\t') + '\n',
          );
        }
        if (list.length === 0) process.stdout.write('no devices\n');
        return 0;
      }
      default:
        throw new Error(USAGE);
    }
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    const err = e as { code?: string; message?: string };
    process.stderr.write(`${e instanceof ConfigError ? e.message : err.code ? `${err.code}: ${err.message}` : err.message}\n`);
    process.exitCode = e instanceof ConfigError ? 2 : 1;
  },
);
