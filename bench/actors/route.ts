// The worker end of the routing benchmark: a sink that counts small one-way messages, and a
// driver that sends a batch of them from inside a worker (to a sibling on its own thread, over a
// linked port, or through the main thread) and then asks the target for its count.
import { defineActor, type ActorModule } from '../../runtime/actor.js';

type SinkIn = { t: 'route.msg'; i: number } | { t: 'route.count' };
type DriverIn = { t: 'route.drive'; to: string; n: number };

const ROUTE_MAILBOX = { capacity: 8192, overflow: 'fail' } as const;

/** Also spawned on the main thread by bench/routing.ts. */
export const routeSink = defineActor<{ count: number }, void, SinkIn>({
  mailbox: ROUTE_MAILBOX,
  start: () => ({ count: 0 }),
  receive(state, msg) {
    if (msg.t === 'route.msg') {
      state.count++;
      return undefined;
    }
    return state.count;
  },
});

const driver = defineActor<null, void, DriverIn>({
  start: () => null,
  async receive(_state, msg, _env, ctx) {
    for (let i = 0; i < msg.n; i++) ctx.send(msg.to, { t: 'route.msg', i });
    // Same route as the tells, so it arrives after them: the answer means all were delivered.
    return await ctx.request<number>(msg.to, { t: 'route.count' });
  },
});

export const actors: ActorModule['actors'] = { 'route.sink': routeSink, 'route.driver': driver };
