/**
 * Keeps a worker's native calls and its termination apart.
 *
 * `worker.terminate()` stops the thread's JavaScript wherever it is. When that is inside a
 * native addon call, an addon built on an older node-addon-api (@discordjs/opus is one) sees
 * its next N-API call fail, tries to throw, and that throw aborts the whole process (measured:
 * SIGABRT in `OpusEncoder::Encode` when a codec worker was terminated mid-encode). So a worker
 * wraps each native call in `nativeCall`, and the main thread closes the gate before it
 * terminates: it waits for the call in flight to return, and once closed the worker blocks at
 * the next call, where termination is harmless.
 *
 * One Int32 shared per worker incarnation:
 *   IDLE ──enter──▶ INSIDE ──leave──▶ IDLE
 *   main: IDLE → CLOSED; INSIDE → WANTED, and the worker's leave turns WANTED into CLOSED
 *   (not IDLE: a worker encoding frame after frame would otherwise starve the main thread).
 */
const IDLE = 0;
const INSIDE = 1;
const CLOSED = 2;
const WANTED = 3;

let gate: Int32Array | null = null;
let depth = 0;

/** Worker side, at boot: the cell the main thread closes before terminating this thread. */
export function installNativeGate(buffer: SharedArrayBuffer): void {
  gate = new Int32Array(buffer);
}

/** Runs a synchronous native call that must not be cut by termination. Free outside workers. */
export function nativeCall<T>(fn: () => T): T {
  const g = gate;
  if (g === null || depth > 0) return fn();
  while (Atomics.compareExchange(g, 0, IDLE, INSIDE) !== IDLE) {
    // Closed: this thread is being terminated. Blocking here is where termination is safe.
    Atomics.wait(g, 0, CLOSED, 1000);
  }
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    if (Atomics.exchange(g, 0, IDLE) === WANTED) {
      Atomics.store(g, 0, CLOSED);
      Atomics.notify(g, 0);
    }
  }
}

/** Main side: a fresh gate for a new worker thread. */
export function newNativeGate(): SharedArrayBuffer {
  return new SharedArrayBuffer(4);
}

/**
 * Main side: closes the gate, waiting up to `timeoutMs` for a native call in flight to return.
 * False when it did not return in time (a call stuck in native code; terminate anyway).
 */
export async function closeNativeGate(buffer: SharedArrayBuffer, timeoutMs: number): Promise<boolean> {
  const g = new Int32Array(buffer);
  const end = performance.now() + timeoutMs;
  for (;;) {
    const was = Atomics.compareExchange(g, 0, IDLE, CLOSED);
    if (was === IDLE || was === CLOSED) return true;
    if (was === INSIDE && Atomics.compareExchange(g, 0, INSIDE, WANTED) !== INSIDE) continue;
    const left = end - performance.now();
    if (left <= 0) return false;
    const w = Atomics.waitAsync(g, 0, WANTED, left);
    if (w.async) await w.value;
  }
}
