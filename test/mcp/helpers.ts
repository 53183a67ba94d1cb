// Wiring for the device MCP tests: a client and a firmware-faithful simulator joined without a
// socket (JSON text crosses between them, as on the wire), and a logger whose lines tests read.
import { SimClock, type Clock } from '../../runtime/clock.js';
import { createLogger, type Logger } from '../../runtime/log.js';
import { DeviceMcp, type DeviceMcpOptions } from '../../actors/mcp/device-mcp.js';
import { McpDeviceSim, type McpDeviceOptions } from '../helpers/mcp-device.js';

export function testLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level: 'debug',
    file: null,
    console: 'json',
    consoleStream: { write: (chunk: string) => void chunk.split('\n').forEach((l) => l && lines.push(JSON.parse(l) as Record<string, unknown>)) },
  });
  return { log, lines };
}

export interface Wired {
  sim: McpDeviceSim;
  client: DeviceMcp;
  clock: Clock;
  lines: Record<string, unknown>[];
  /** The JSON-RPC payloads the client sent, as the device received them. */
  sent: Record<string, unknown>[];
}

export function wire(sim: McpDeviceOptions = {}, client: Partial<DeviceMcpOptions> = {}): Wired {
  const clock = client.clock ?? sim.clock ?? new SimClock();
  const device = new McpDeviceSim({ ...sim, clock });
  const { log, lines } = testLog();
  const sent: Record<string, unknown>[] = [];
  let mcp: DeviceMcp | undefined;
  const send = device.link((payload) => mcp!.receive(payload));
  mcp = new DeviceMcp({
    clock,
    log,
    ...client,
    send: (payload) => {
      sent.push(payload);
      return send(payload);
    },
  });
  return { sim: device, client: mcp, clock, lines, sent };
}

/** Lets replies scheduled with setImmediate arrive (and SimClock timers up to `ms` fire). */
export async function flush(clock: Clock, ms = 0): Promise<void> {
  if (clock instanceof SimClock) await clock.advance(ms);
  else await new Promise((r) => setTimeout(r, ms));
}

export function lamp(n: number): string {
  return `self.lamp_${n}.set_state`;
}
