/** Runs one health probe with a deadline; never throws, the result says how it went. */
import type { Clock } from '../../runtime/clock.js';
import { E, XzError, toWire, type WireError } from '../../runtime/errors.js';
import type { Probe, ProbeResult } from './state.js';

export async function runProbe(provider: string, probe: Probe | undefined, timeoutMs: number, clock: Clock): Promise<ProbeResult> {
  const started = clock.now();
  if (!probe) {
    return { provider, ok: false, at: started, ms: 0, error: toWire(new XzError(E.XZ_ERR_NO_SUCH_ACTOR, `no probe for ${provider}`)) };
  }
  const ctl = new AbortController();
  const timer = clock.setTimer(timeoutMs, () => ctl.abort(new XzError(E.XZ_ERR_REQUEST_TIMEOUT, `probe of ${provider} took over ${timeoutMs} ms`)));
  // A probe that ignores its signal must not hold the verdict past the deadline.
  const deadline = new Promise<never>((_, reject) => ctl.signal.addEventListener('abort', () => reject(ctl.signal.reason), { once: true }));
  let error: WireError | undefined;
  try {
    await Promise.race([probe(ctl.signal), deadline]);
  } catch (err) {
    error = toWire(err);
  } finally {
    timer.cancel();
    ctl.abort();
  }
  const at = clock.now();
  return { provider, ok: !error, at, ms: at - started, ...(error ? { error } : {}) };
}
