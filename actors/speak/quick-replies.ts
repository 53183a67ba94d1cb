/**
 * Encoded audio of fixed phrases (wake greeting, activation prompt, goodbye), kept in the store
 * as the exact Opus frames the device receives, keyed by TTS provider, voice, downlink format and
 * text. A hit skips synthesis and encoding entirely; nothing touches a temporary file.
 *
 * Blob layout: u16 frame count, then per frame u16 length + bytes (frames are < 64 KiB).
 */
import { createHash } from 'node:crypto';
import type { Namespace, Store } from '../../providers/store/contract.js';

const NAMESPACE = 'quick-replies';
/** Phrases are fixed texts, but voices and providers change: forget entries nobody used for 30 days. */
const TTL_MS = 30 * 24 * 3600 * 1000;

export interface QuickReplyKey {
  provider: string;
  voice: string | null;
  sampleRate: number;
  frameMs: number;
  text: string;
}

export class QuickReplies {
  readonly #ns: Namespace;

  constructor(store: Store) {
    this.#ns = store.ns(NAMESPACE);
  }

  static key(k: QuickReplyKey): string {
    return createHash('sha256').update(JSON.stringify([k.provider, k.voice, k.sampleRate, k.frameMs, k.text])).digest('base64url');
  }

  async get(k: QuickReplyKey): Promise<Uint8Array[] | undefined> {
    const blob = await this.#ns.getBytes(QuickReplies.key(k));
    return blob ? unpack(blob) : undefined;
  }

  async put(k: QuickReplyKey, frames: readonly Uint8Array[]): Promise<void> {
    if (frames.length === 0 || frames.length > 0xffff) return;
    await this.#ns.putBytes(QuickReplies.key(k), pack(frames), { ttlMs: TTL_MS });
  }
}

function pack(frames: readonly Uint8Array[]): Uint8Array {
  const size = 2 + frames.reduce((n, f) => n + 2 + f.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint16(0, frames.length);
  let o = 2;
  for (const f of frames) {
    view.setUint16(o, f.length);
    out.set(f, o + 2);
    o += 2 + f.length;
  }
  return out;
}

function unpack(blob: Uint8Array): Uint8Array[] | undefined {
  if (blob.length < 2) return undefined;
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const n = view.getUint16(0);
  const frames: Uint8Array[] = [];
  let o = 2;
  for (let i = 0; i < n; i++) {
    if (o + 2 > blob.length) return undefined;
    const len = view.getUint16(o);
    if (o + 2 + len > blob.length) return undefined;
    // A copy each: frames are transferred or sent on their own.
    frames.push(blob.slice(o + 2, o + 2 + len));
    o += 2 + len;
  }
  return frames;
}
