// Starts an actor system with worker pools of fixture actors and tears it down after the test.
import type { TestContext } from 'node:test';
import { ActorSystem } from '../../runtime/system.js';
import type { PoolSpec } from '../../runtime/pool.js';

export const fixture = (name: string): URL => new URL(`../fixtures/actors/${name}.ts`, import.meta.url);

export async function startSystem(
  t: TestContext,
  pools: Partial<PoolSpec>[],
  opts: { requestTimeoutMs?: number } = {},
): Promise<ActorSystem> {
  const sys = new ActorSystem({ requestTimeoutMs: opts.requestTimeoutMs ?? 10_000 });
  for (const p of pools) {
    sys.addPool({ name: 'w', size: 1, modules: [fixture('echo')], restart: { backoffInitialMs: 20 }, ...p } as PoolSpec);
  }
  t.after(() => sys.shutdown());
  await sys.start();
  return sys;
}

export function once<T = unknown>(sys: ActorSystem, event: string, pred: (x: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (x: T) => {
      if (!pred(x)) return;
      sys.off(event, on);
      resolve(x);
    };
    sys.on(event, on);
  });
}
