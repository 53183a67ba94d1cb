/**
 * Frames between threads. Actor traffic and host control share one shape: a control operation
 * is a request to the pseudo-actor `$host` of the receiving thread, so correlation, timeouts and
 * crash handling are written once.
 */
import type { MessagePort, TransferListItem } from 'node:worker_threads';
import type { Envelope, Msg } from './envelope.js';
import type { WireError } from './errors.js';

export const HOST = '$host';

/** Something postMessage can move instead of copy: an ArrayBuffer, a MessagePort. */
export type Transferable = TransferListItem;

export type Frame =
  | { k: 'tell'; env: Envelope }
  | { k: 'req'; id: number; env: Envelope }
  | { k: 'res'; id: number; ok: true; value: unknown }
  | { k: 'res'; id: number; ok: false; error: WireError }
  | { k: 'cancel'; id: number }
  | { k: 'ready'; pid: number; threadId: number }
  | { k: 'boot-failed'; error: WireError }
  | { k: 'fault'; addr: string; error: WireError };

/** Control messages understood by every host at the `$host` address. */
export type HostMsg =
  | { t: 'host.spawn'; addr: string; kind: string; session: string; init: unknown }
  | { t: 'host.kill'; addr: string }
  | { t: 'host.turn'; session: string; turn: number }
  | { t: 'host.forget'; sessions: string[] }
  | { t: 'host.port'; name: string; port: MessagePort }
  | { t: 'host.route'; addr: string; via: string | null }
  | { t: 'host.ping' }
  | { t: 'host.stats' }
  | { t: 'host.drain' }
  | { t: 'host.stop' };

export function isHostMsg(m: Msg): m is HostMsg {
  return m.t.startsWith('host.');
}

/** One end of a thread-to-thread connection. */
export interface Channel {
  readonly name: string;
  /** False once the far end is gone; posting then fails the frame's request. */
  readonly alive: boolean;
  post(frame: Frame, transfer?: readonly Transferable[]): void;
}
