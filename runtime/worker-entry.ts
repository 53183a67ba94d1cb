/**
 * The program every actor worker thread runs.
 *
 *   main ── workerData {name, modules, data} ──▶ import modules, run their boot()
 *        ◀── ready | boot-failed ──────────────
 *        ── frames (tell/req/res/cancel) ──────▶ ActorHost of this thread
 *        ── host.stop ─────────────────────────▶ drain mailboxes, stop actors, module shutdown,
 *                                                close ports; the thread then ends by itself
 *
 * The thread never calls process.exit(): native resources are released by the modules'
 * shutdown hooks and the thread ends when nothing keeps its event loop alive.
 */
import { parentPort, threadId, workerData, type MessagePort } from 'node:worker_threads';
import type { ActorDef, ActorModule } from './actor.js';
import { E, XzError, toWire } from './errors.js';
import { ActorHost } from './host.js';
import { installNativeGate } from './native-gate.js';
import type { Channel, Frame, HostMsg, Transferable } from './wire.js';

export interface WorkerBoot {
  name: string;
  /** Module URLs, each exporting `actors` and optionally `boot`/`shutdown`. */
  modules: string[];
  data?: unknown;
  requestTimeoutMs?: number;
  /** Closed by the main thread before it terminates this one (native-gate.ts). */
  gate: SharedArrayBuffer;
}

if (!parentPort) throw new Error('worker-entry must run in a worker thread');
const port = parentPort;
const boot = workerData as WorkerBoot;
installNativeGate(boot.gate);

const parent: Channel = {
  name: 'main',
  alive: true,
  post(frame: Frame, transfer?: readonly Transferable[]) {
    port.postMessage(frame, transfer as Transferable[] | undefined);
  },
};

class PortChannel implements Channel {
  alive = true;
  constructor(
    readonly name: string,
    readonly port: MessagePort,
    host: ActorHost,
  ) {
    port.on('message', (f: Frame) => host.receive(f, this));
    port.on('close', () => {
      if (!this.alive) return;
      this.alive = false;
      host.failChannel(this, new XzError(E.XZ_ERR_WORKER_CRASHED, `peer ${name} went away`), true);
    });
  }
  post(frame: Frame, transfer?: readonly Transferable[]): void {
    this.port.postMessage(frame, transfer as Transferable[] | undefined);
  }
  close(): void {
    this.alive = false;
    this.port.close();
  }
}

const modules: ActorModule[] = [];
const ports = new Map<string, PortChannel>();
let host: ActorHost;

async function stop(): Promise<void> {
  await host.drainAndStop();
  for (const m of [...modules].reverse()) await m.shutdown?.();
  for (const p of ports.values()) p.close();
  ports.clear();
  // Let the reply go out first, then drop the last handle keeping this thread alive.
  setImmediate(() => port.close());
}

function control(msg: HostMsg): unknown {
  switch (msg.t) {
    case 'host.port': {
      ports.get(msg.name)?.close();
      ports.set(msg.name, new PortChannel(msg.name, msg.port, host));
      return undefined;
    }
    case 'host.route': {
      const via = msg.via === null ? null : ports.get(msg.via);
      if (via === undefined) throw new XzError(E.XZ_ERR_NO_SUCH_ACTOR, `no port "${msg.via}" on ${boot.name}`);
      host.setRoute(msg.addr, via);
      return undefined;
    }
    case 'host.stop':
      return stop();
    default:
      throw new XzError(E.XZ_ERR_UNKNOWN_MESSAGE, `${msg.t} not handled by worker ${boot.name}`);
  }
}

async function main(): Promise<void> {
  const kinds: Record<string, ActorDef<any, any, any>> = {};
  try {
    for (const url of boot.modules) {
      const m = (await import(url)) as Partial<ActorModule>;
      if (typeof m.actors !== 'object' || m.actors === null) throw new Error(`${url} exports no "actors"`);
      for (const [kind, def] of Object.entries(m.actors)) {
        if (kinds[kind]) throw new Error(`actor kind "${kind}" offered twice (${url})`);
        kinds[kind] = def;
      }
      modules.push(m as ActorModule);
      await m.boot?.(boot.data);
    }
  } catch (e) {
    port.postMessage({ k: 'boot-failed', error: toWire(new XzError(E.XZ_ERR_WORKER_BOOT_FAILED, (e as Error)?.message ?? String(e), { cause: e })) } satisfies Frame);
    for (const m of [...modules].reverse()) await Promise.resolve(m.shutdown?.()).catch(() => {});
    port.close();
    return;
  }
  host = new ActorHost({
    name: boot.name,
    kinds,
    parent,
    onControl: (msg) => control(msg),
    ...(modules.some((m) => m.counters) ? { counters: () => Object.assign({}, ...modules.map((m) => m.counters?.() ?? {})) as Record<string, number> } : {}),
    ...(boot.requestTimeoutMs ? { requestTimeoutMs: boot.requestTimeoutMs } : {}),
  });
  port.on('message', (f: Frame) => host.receive(f, parent));
  port.postMessage({ k: 'ready', pid: process.pid, threadId } satisfies Frame);
}

void main();
