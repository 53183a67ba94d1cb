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
 * One Int32 shared per worker incarnation: the number of native calls in flight, plus a CLOSING
 * bit the main thread sets. A call that finds the bit set blocks (for good: termination is
 * coming); the main thread waits until the count is zero. Async calls (onnxruntime's `run`)
 * count from their start until their promise settles, since the addon's completion callback
 * is what must not be cut.
 */
const CLOSING = 1 << 30;

let gate: Int32Array | null = null;
let depth = 0;

/** Worker side, at boot: the cell the main thread closes before terminating this thread. */
export function installNativeGate(buffer: SharedArrayBuffer): void {
  gate = new Int32Array(buffer);
}

/**
 * Counts a call in, or reports the gate closed. Closed with nothing in flight, a synchronous
 * caller blocks: the thread is being terminated and that is the harmless place to be. With
 * async calls in flight the thread must keep turning so their completions can run and the
 * count reach zero: then the caller is refused instead.
 */
function enter(g: Int32Array, sync: boolean): boolean {
  for (;;) {
    const v = Atomics.load(g, 0);
    if (!(v & CLOSING)) {
      if (Atomics.compareExchange(g, 0, v, v + 1) === v) return true;
    } else if (!sync || v !== CLOSING) {
      return false;
    } else {
      Atomics.wait(g, 0, v, 1000);
    }
  }
}

function leave(g: Int32Array): void {
  if (Atomics.sub(g, 0, 1) - 1 === CLOSING) Atomics.notify(g, 0);
}

/** Runs a synchronous native call that must not be cut by termination. Free outside workers. */
export function nativeCall<T>(fn: () => T): T {
  const g = gate;
  if (g === null || depth > 0) return fn();
  if (!enter(g, true)) throw new Error('native call refused: this worker is being terminated');
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    leave(g);
  }
}

/** The same for a native call that completes later: held until its promise settles. */
export async function nativeCallAsync<T>(fn: () => Promise<T>): Promise<T> {
  const g = gate;
  if (g === null) return fn();
  // Never settles: the thread ends before anyone could observe it.
  if (!enter(g, false)) return new Promise<T>(() => {});
  try {
    return await fn();
  } finally {
    leave(g);
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
  let v = Atomics.or(g, 0, CLOSING) | CLOSING;
  while (v !== CLOSING) {
    const left = end - performance.now();
    if (left <= 0) return false;
    const w = Atomics.waitAsync(g, 0, v, left);
    if (w.async) await w.value;
    v = Atomics.load(g, 0);
  }
  return true;
}
