/**
 * Messages of the `pools` actor: the main thread's owner of every provider pool's state
 * (quotas, breakers, health), so limits hold across all worker threads.
 *
 *   worker ── pools.attach {port} ──────────────▶ pools   (once per worker thread)
 *   worker ── pools.acquire {ticket} ───────────▶ pools ──▶ reply: granted | queued
 *   worker ◀── grant port: {ticket, permit|error} ── pools   (only for queued tickets)
 *   worker ── pools.release {ticket, outcome} ──▶ pools   (a tell: release + report at once)
 *
 * Why a port for late grants: a mailbox runs one message to completion, so the actor cannot
 * hold a request open while a permit is busy without stalling every other acquire and release.
 * It answers at once and hands out a waiting ticket's permit over the worker's grant port
 * instead. The port also tells the actor when a worker thread dies (it closes), which is when
 * that thread's leases and waits are taken back.
 *
 * All of it travels on the `system` lane with no session: a barge-in must never drop a release.
 */
import type { MessagePort } from 'node:worker_threads';
import type { WireError } from '../../runtime/errors.js';
import type { Outcome, Permit, PoolSnapshot } from '../../providers/pool/state.js';

/** Where the actor lives unless configured otherwise. */
export const POOLS_ADDR = 'pools';

export type PoolsIn =
  /** A worker thread's grant port; `channel` names the thread's connection in later messages. */
  | { readonly t: 'pools.attach'; readonly channel: string; readonly port: MessagePort }
  /** Ask for a permit. `ticket` is the caller's id for it, unique within the channel. */
  | { readonly t: 'pools.acquire'; readonly channel: string; readonly ticket: number; readonly provider: string; readonly wait: boolean; readonly holder?: string }
  /** Give a permit back (or stop waiting for it) and report how the attempt went. */
  | { readonly t: 'pools.release'; readonly channel: string; readonly ticket: number; readonly outcome: Outcome }
  /** An attempt's verdict without a permit (work that bypassed the pool but says something about health). */
  | { readonly t: 'pools.report'; readonly provider: string; readonly outcome: Outcome }
  | { readonly t: 'pools.snapshot' }
  /** The actor to itself: a worker's grant port closed (the thread ended). */
  | { readonly t: 'pools.detached'; readonly channel: string };

export type AcquireReply = { readonly granted: Permit } | { readonly queued: true };

/** What the grant port carries for a queued ticket. */
export type GrantMsg = { readonly ticket: number; readonly permit: Permit } | { readonly ticket: number; readonly error: WireError };

export type SnapshotReply = PoolSnapshot;
