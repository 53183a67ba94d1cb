/**
 * The sockets of one Edge provider instance: an idle socket is reused for the next sentence, of
 * this turn or a later one, so a handshake (TLS + upgrade + speech.config, ~100–300 ms to the real
 * service) is paid once per socket rather than per sentence. Concurrent syntheses (several
 * sessions on one worker) each get their own socket, up to `max`; beyond that they wait for one
 * to come back. Idle sockets are closed after `idleMs` so a quiet worker holds nothing open.
 */
import { E, XzError } from '../../../runtime/errors.js';
import { connect, type ConnectOptions, type EdgeConnection } from './connection.js';

export class EdgePool {
  readonly #o: ConnectOptions;
  readonly #max: number;
  readonly #idleMs: number;
  readonly #idle: EdgeConnection[] = [];
  readonly #timers = new Map<EdgeConnection, NodeJS.Timeout>();
  readonly #all = new Set<EdgeConnection>();
  #opening = 0;
  #waiters: (() => void)[] = [];
  #closed = false;
  /** Clock correction learnt from a 403's Date header, shared by later handshakes. */
  readonly skew = { ms: 0 };
  /** Upgrades completed (for stats and tests). */
  handshakes = 0;

  constructor(o: ConnectOptions, max: number, idleMs: number) {
    this.#o = o;
    this.#max = max;
    this.#idleMs = idleMs;
  }

  get size(): number {
    return this.#all.size + this.#opening;
  }

  async acquire(signal: AbortSignal): Promise<EdgeConnection> {
    for (;;) {
      if (this.#closed) throw new XzError(E.XZ_ERR_SHUTTING_DOWN, `${this.#o.vendor}: provider closed`);
      if (signal.aborted) throw new XzError(E.XZ_ERR_ABORTED, `${this.#o.vendor}: synthesis aborted`);
      // Most recently used first: it is the least likely to have been dropped by the server.
      for (let c = this.#idle.pop(); c; c = this.#idle.pop()) {
        clearTimeout(this.#timers.get(c));
        this.#timers.delete(c);
        if (c.usable) return c;
        c.destroy();
      }
      if (this.size < this.#max) return this.#open(signal);
      await this.#wait(signal);
    }
  }

  /** Returns a socket after a request that ended cleanly (turn.end); anything else is destroyed. */
  release(c: EdgeConnection): void {
    if (this.#closed || !c.usable) {
      c.destroy();
      return;
    }
    this.#idle.push(c);
    this.#timers.set(
      c,
      setTimeout(() => {
        const i = this.#idle.indexOf(c);
        if (i !== -1) this.#idle.splice(i, 1);
        this.#timers.delete(c);
        c.destroy();
      }, this.#idleMs).unref(),
    );
    this.#wakeOne();
  }

  async #open(signal: AbortSignal): Promise<EdgeConnection> {
    this.#opening++;
    let c: EdgeConnection;
    try {
      c = await connect(this.#o, this.skew, signal);
    } finally {
      this.#opening--;
    }
    this.handshakes++;
    this.#all.add(c);
    c.onClosed = () => {
      this.#all.delete(c);
      const i = this.#idle.indexOf(c);
      if (i !== -1) this.#idle.splice(i, 1);
      clearTimeout(this.#timers.get(c));
      this.#timers.delete(c);
      this.#wakeOne(); // room for a new socket
    };
    if (this.#closed) {
      c.destroy();
      throw new XzError(E.XZ_ERR_SHUTTING_DOWN, `${this.#o.vendor}: provider closed`);
    }
    return c;
  }

  #wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(new XzError(E.XZ_ERR_ABORTED, `${this.#o.vendor}: aborted waiting for a connection`));
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        reject(new XzError(E.XZ_ERR_ABORTED, `${this.#o.vendor}: aborted waiting for a connection`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(wake);
    });
  }

  #wakeOne(): void {
    this.#waiters.shift()?.();
  }

  close(): void {
    this.#closed = true;
    for (const c of [...this.#all]) c.destroy();
    this.#idle.length = 0;
    for (const w of this.#waiters.splice(0)) w();
  }
}
