// The far end of the hop benchmark: echoes audio-sized buffers back by copy, by transfer, or
// through a pair of shared-memory rings, and counts one-way frames for the pipelined run.
import { defineActor, withTransfer, type ActorModule } from '../../runtime/actor.js';
import { FrameRing } from '../../runtime/ring.js';

type In =
  | { t: 'hop.echo'; buf: ArrayBuffer }
  | { t: 'hop.echoT'; buf: ArrayBuffer }
  | { t: 'hop.frame'; buf: ArrayBuffer }
  | { t: 'hop.count' }
  | { t: 'hop.ring'; up: SharedArrayBuffer; down: SharedArrayBuffer };

interface State {
  frames: number;
  bytes: number;
  rings: FrameRing[];
}

/** Moves every frame from `up` back into `down` until `up` is closed. */
async function ringEcho(up: FrameRing, down: FrameRing): Promise<void> {
  const buf = new Uint8Array(up.slotBytes);
  for (;;) {
    const len = up.shiftInto(buf);
    if (len < 0) {
      if ((await up.waitForData()) === 'closed') return;
      continue;
    }
    const frame = buf.subarray(0, len);
    while (!down.push(frame)) {
      if ((await down.waitForSpace()) === 'closed') return;
    }
  }
}

const hop = defineActor<State, void, In>({
  // The pipelined run queues a thousand frames at once; default capacity would be tight.
  mailbox: { capacity: 4096, overflow: 'fail' },
  start: () => ({ frames: 0, bytes: 0, rings: [] }),
  receive(state, msg) {
    switch (msg.t) {
      case 'hop.echo':
        return { buf: msg.buf };
      case 'hop.echoT':
        return withTransfer({ buf: msg.buf }, [msg.buf]);
      case 'hop.frame':
        state.frames++;
        state.bytes += msg.buf.byteLength;
        return undefined;
      case 'hop.count':
        return { frames: state.frames, bytes: state.bytes };
      case 'hop.ring': {
        const up = FrameRing.attach(msg.up);
        const down = FrameRing.attach(msg.down);
        state.rings.push(up, down);
        // Runs beside the mailbox, not inside a handler, so the actor keeps answering.
        void ringEcho(up, down);
        return undefined;
      }
    }
  },
  stop(state) {
    for (const r of state.rings) r.close();
  },
});

export const actors: ActorModule['actors'] = { hop };
