/**
 * The main thread's side of one worker thread: start it, wait for its handshake, carry frames,
 * and report how it ended. It knows nothing of restarts; the pool decides those.
 */
import { EventEmitter } from 'node:events';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Clock, Timer } from './clock.js';
import { E, XzError, fromWire } from './errors.js';
import type { Frame, Transferable } from './wire.js';
import type { WorkerBoot } from './worker-entry.js';
import { closeNativeGate, newNativeGate } from './native-gate.js';

// Compiled builds run worker-entry.js directly. Tests and tools run the .ts sources through
// tsx, whose loader a Node 20 worker does not inherit: there a small bootstrap registers tsx in
// the new thread first.
const fromSource = import.meta.url.endsWith('.ts');
const ENTRY = new URL(`./worker-entry${fromSource ? '.ts' : '.js'}`, import.meta.url);
const TS_BOOTSTRAP = fromSource
  ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY.href)}); });`
  : '';

/** Longest a native call in flight may delay a terminate: beyond it the call is stuck anyway. */
const GATE_WAIT_MS = 2000;

export interface WorkerExit {
  code: number;
  /** The uncaught error that killed it, if any. */
  error?: Error;
  /** True when we asked it to stop. */
  expected: boolean;
  /** True when it never completed its handshake. */
  duringBoot: boolean;
}

export interface HandleOptions {
  bootTimeoutMs: number;
  resourceLimits?: ResourceLimits;
}

export class WorkerHandle extends EventEmitter {
  readonly name: string;
  readonly worker: Worker;
  #state: 'booting' | 'ready' | 'stopping' | 'exited' = 'booting';
  #onFrame: (f: Frame) => void = () => {};
  #bootTimer: Timer | undefined;
  #error: Error | undefined;
  readonly ready: Promise<void>;
  readonly exited: Promise<WorkerExit>;
  readonly #gate = newNativeGate();

  constructor(boot: Omit<WorkerBoot, 'gate'>, clock: Clock, opts: HandleOptions) {
    super();
    this.name = boot.name;
    this.worker = new Worker(fromSource ? TS_BOOTSTRAP : ENTRY, {
      eval: fromSource,
      workerData: { ...boot, gate: this.#gate } satisfies WorkerBoot,
      name: boot.name,
      ...(opts.resourceLimits ? { resourceLimits: opts.resourceLimits } : {}),
    });
    let bootResolve!: () => void;
    let bootReject!: (e: XzError) => void;
    this.ready = new Promise<void>((res, rej) => {
      bootResolve = res;
      bootReject = rej;
    });
    // A boot failure is reported through `ready`; nobody may be listening yet.
    this.ready.catch(() => {});
    let exitResolve!: (x: WorkerExit) => void;
    this.exited = new Promise((r) => (exitResolve = r));

    this.#bootTimer = clock.setTimer(opts.bootTimeoutMs, () => {
      if (this.#state !== 'booting') return;
      bootReject(new XzError(E.XZ_ERR_WORKER_BOOT_FAILED, `${this.name}: no handshake within ${opts.bootTimeoutMs} ms`));
      void this.terminate();
    });

    this.worker.on('message', (f: Frame) => {
      if (this.#state === 'booting') {
        if (f.k === 'ready') {
          this.#state = 'ready';
          this.#bootTimer?.cancel();
          bootResolve();
        } else if (f.k === 'boot-failed') {
          this.#bootTimer?.cancel();
          bootReject(fromWire(f.error));
        }
        return;
      }
      this.#onFrame(f);
    });
    this.worker.on('error', (e) => {
      this.#error = e;
    });
    this.worker.on('exit', (code) => {
      const duringBoot = this.#state === 'booting';
      const expected = this.#state === 'stopping';
      this.#state = 'exited';
      this.#bootTimer?.cancel();
      if (duringBoot) {
        bootReject(new XzError(E.XZ_ERR_WORKER_BOOT_FAILED, `${this.name} exited (code ${code}) before its handshake${this.#error ? `: ${this.#error.message}` : ''}`));
      }
      const exit: WorkerExit = { code, expected, duringBoot, ...(this.#error ? { error: this.#error } : {}) };
      exitResolve(exit);
      this.emit('exit', exit);
    });
  }

  get alive(): boolean {
    return this.#state === 'ready' || this.#state === 'stopping';
  }

  get state(): string {
    return this.#state;
  }

  onFrame(fn: (f: Frame) => void): void {
    this.#onFrame = fn;
  }

  post(frame: Frame, transfer?: readonly Transferable[]): void {
    this.worker.postMessage(frame, transfer as Transferable[] | undefined);
  }

  /** Marks the coming exit as asked for (after a host.stop request). */
  markStopping(): void {
    if (this.#state === 'ready' || this.#state === 'booting') this.#state = 'stopping';
  }

  /** Ends the thread the hard way, but never in the middle of a native call (native-gate.ts). */
  async terminate(): Promise<number> {
    await closeNativeGate(this.#gate, GATE_WAIT_MS);
    return this.worker.terminate();
  }
}
