/**
 * Finds the buffers in a message that can move to another thread instead of being copied.
 * Used when a thread relays a frame it received (main forwarding worker-to-worker traffic):
 * the relay owns those buffers outright, so moving them on is safe and keeps audio zero-copy.
 * Looks two levels deep, which is where actor messages keep their audio.
 */
import type { Transferable } from './wire.js';
export function collectTransferables(value: unknown): Transferable[] | undefined {
  let out: Transferable[] | undefined;
  const seen = new Set<unknown>();
  const visit = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object') return;
    let t: Transferable | undefined;
    if (v instanceof ArrayBuffer) t = v;
    else if (ArrayBuffer.isView(v)) t = v.buffer instanceof ArrayBuffer ? v.buffer : undefined;
    else if (isMessagePort(v)) t = v as Transferable;
    if (t !== undefined) {
      if (!seen.has(t) && !isDetached(t)) {
        seen.add(t);
        (out ??= []).push(t);
      }
      return;
    }
    if (depth >= 2) return;
    if (Array.isArray(v)) for (const x of v) visit(x, depth + 1);
    else for (const k in v as Record<string, unknown>) visit((v as Record<string, unknown>)[k], depth + 1);
  };
  visit(value, 0);
  return out;
}

function isMessagePort(v: object): boolean {
  return typeof (v as { postMessage?: unknown }).postMessage === 'function' && typeof (v as { start?: unknown }).start === 'function';
}

function isDetached(t: Transferable): boolean {
  return t instanceof ArrayBuffer && t.byteLength === 0 && (t as ArrayBuffer & { detached?: boolean }).detached === true;
}
