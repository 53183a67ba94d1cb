// A legacy IoT device (firmware before 1.8 with "Xiaozhi IoT 1.0", protocol.md §9): the messages
// it sends after the channel opens, built the way its ThingManager concatenates them (one
// descriptor message per thing, then the states), and how it applies `commands`.
import type { TestDevice } from '../helpers/device.js';

export interface SimThing {
  name: string;
  description: string;
  properties: Record<string, { description: string; type: 'boolean' | 'number' | 'string' }>;
  methods: Record<string, { description: string; parameters: Record<string, { description: string; type: 'boolean' | 'number' | 'string' }> }>;
  state: Record<string, boolean | number | string>;
}

export function defaultThings(): SimThing[] {
  return [
    {
      name: 'Speaker',
      description: 'The audio speaker of the device',
      properties: { volume: { description: 'Current audio volume value', type: 'number' } },
      methods: { SetVolume: { description: 'Set the audio volume', parameters: { volume: { description: 'An integer between 0 and 100', type: 'number' } } } },
      state: { volume: 80 },
    },
    {
      name: 'Screen',
      description: 'A screen that can set theme and brightness',
      properties: {
        theme: { description: 'Current theme', type: 'string' },
        brightness: { description: 'Current brightness percentage', type: 'number' },
      },
      methods: {
        SetTheme: { description: 'Set the screen theme', parameters: { theme_name: { description: 'Valid string values are "light" and "dark"', type: 'string' } } },
        SetBrightness: { description: 'Set the brightness', parameters: { brightness: { description: 'An integer between 0 and 100', type: 'number' } } },
      },
      state: { theme: 'light', brightness: 75 },
    },
  ];
}

export class IotDeviceSim {
  readonly things: SimThing[];
  /** Commands applied, in order; unknown things or methods are skipped as the device does. */
  readonly applied: { name: string; method: string; parameters: Record<string, unknown> }[] = [];

  constructor(things: SimThing[] = defaultThings()) {
    this.things = things;
  }

  /** The text frames sent right after the channel opens: one descriptor message per thing, then all states. */
  openingMessages(sessionId: string): string[] {
    const out = this.things.map((t) => `{"session_id":"${sessionId}","type":"iot","update":true,"descriptors":[${JSON.stringify({ name: t.name, description: t.description, properties: t.properties, methods: t.methods })}]}`);
    out.push(this.statesMessage(sessionId, this.things));
    return out;
  }

  statesMessage(sessionId: string, things: SimThing[]): string {
    return `{"session_id":"${sessionId}","type":"iot","update":true,"states":[${things.map((t) => JSON.stringify({ name: t.name, state: t.state })).join(',')}]}`;
  }

  /**
   * Plays the device over a TestDevice: sends the opening messages now (call it right after the
   * server hello, whose session_id the device copies) and applies every `iot` command received.
   */
  attach(dev: TestDevice, sessionId: string): () => void {
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      try {
        const msg = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
        if (msg['type'] === 'iot') this.apply(msg);
      } catch {
        // Not JSON: the device logs and drops it.
      }
    };
    dev.ws.on('message', onMessage);
    for (const m of this.openingMessages(sessionId)) dev.sendText(m);
    return () => void dev.ws.off('message', onMessage);
  }

  /** ThingManager::Invoke for each command of a server `iot` message. */
  apply(msg: Record<string, unknown>): void {
    const commands = msg['commands'];
    if (!Array.isArray(commands)) return;
    for (const c of commands as Record<string, unknown>[]) {
      const thing = this.things.find((t) => t.name === c['name']);
      const method = typeof c['method'] === 'string' ? thing?.methods[c['method']] : undefined;
      if (!thing || !method) continue;
      const params = (c['parameters'] ?? {}) as Record<string, unknown>;
      this.applied.push({ name: thing.name, method: c['method'] as string, parameters: params });
      if (thing.name === 'Speaker' && typeof params['volume'] === 'number') thing.state['volume'] = params['volume'];
      if (thing.name === 'Screen' && typeof params['brightness'] === 'number') thing.state['brightness'] = params['brightness'];
      if (thing.name === 'Screen' && typeof params['theme_name'] === 'string') thing.state['theme'] = params['theme_name'];
    }
  }
}
