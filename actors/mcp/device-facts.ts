/**
 * What the system prompt may say about the device: board and firmware (from MCP `initialize`),
 * battery, charging and speaker volume (from the firmware's `self.get_device_status`, protocol.md
 * §8, or the legacy IoT states, §9).
 *
 * The status is asked for in the background — after the tools are known and before a turn when the
 * last answer is over a minute old — and never waited for: a turn uses what is known, so a slow
 * device costs no latency. Only numbers and booleans are taken from the reply, so nothing the
 * device sends can inject text into the prompt.
 */
import type { Logger } from '../../runtime/log.js';
import type { DeviceFacts } from '../dialogue/prompt.js';
import type { DeviceToolbox } from './toolbox.js';
import { isObject } from './rpc.js';

const STATUS_TOOL = 'self.get_device_status';

export interface DeviceFactsOptions {
  now: () => number;
  log: Logger;
  /** Re-ask the device after this long; default 60 s. */
  maxAgeMs?: number;
  /** Give up on one status call after this long; default 3 s. */
  timeoutMs?: number;
}

export class DeviceFactsTracker {
  readonly #box: DeviceToolbox;
  readonly #o: DeviceFactsOptions;
  #status: Pick<DeviceFacts, 'battery' | 'charging' | 'volume'> = {};
  #askedAt = -Infinity;
  #inFlight = false;

  constructor(box: DeviceToolbox, o: DeviceFactsOptions) {
    this.#box = box;
    this.#o = o;
  }

  /** What is known now; board and firmware once MCP is initialized. */
  facts(): DeviceFacts | undefined {
    const info = this.#box.mcp.serverInfo;
    const f: DeviceFacts = { ...(info ? { board: info.name, firmware: info.version } : {}), ...this.#status, ...this.#iotStatus() };
    return Object.keys(f).length ? f : undefined;
  }

  /** Asks the device for its status when the last answer is stale; returns at once. */
  refresh(): void {
    const now = this.#o.now();
    if (this.#inFlight || now - this.#askedAt < (this.#o.maxAgeMs ?? 60_000)) return;
    if (!this.#box.tools().some((t) => t.name === STATUS_TOOL)) return;
    this.#inFlight = true;
    this.#askedAt = now;
    this.#box
      .call(STATUS_TOOL, {}, { timeoutMs: this.#o.timeoutMs ?? 3000 })
      .then((r) => {
        if (!r.isError) this.#status = parseStatus(r.text);
      })
      .catch((e: unknown) => this.#o.log.debug({ err: e }, 'device status unavailable'))
      .finally(() => (this.#inFlight = false));
  }

  /**
   * A tool may just have changed the volume: forget the status (a stale figure in the prompt
   * would contradict what the model just did) and ask again before the next turn.
   */
  invalidate(): void {
    this.#status = {};
    this.#askedAt = -Infinity;
  }

  /** Legacy IoT devices report Speaker.volume and Battery.level/charging as states. */
  #iotStatus(): Pick<DeviceFacts, 'battery' | 'charging' | 'volume'> {
    const states = this.#box.iotStates();
    if (!states) return {};
    const out: { battery?: number; charging?: boolean; volume?: number } = {};
    const volume = percent(states.get('Speaker')?.['volume']);
    const battery = percent(states.get('Battery')?.['level']);
    const charging = states.get('Battery')?.['charging'];
    if (volume !== undefined) out.volume = volume;
    if (battery !== undefined) out.battery = battery;
    if (typeof charging === 'boolean') out.charging = charging;
    return out;
  }
}

/** `{"audio_speaker":{"volume":70},"battery":{"level":85,"charging":false},…}` → facts. */
export function parseStatus(text: string): Pick<DeviceFacts, 'battery' | 'charging' | 'volume'> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return {};
  }
  if (!isObject(v)) return {};
  const out: { battery?: number; charging?: boolean; volume?: number } = {};
  const speaker = v['audio_speaker'];
  const battery = v['battery'];
  const volume = isObject(speaker) ? percent(speaker['volume']) : undefined;
  const level = isObject(battery) ? percent(battery['level']) : undefined;
  if (volume !== undefined) out.volume = volume;
  if (level !== undefined) out.battery = level;
  if (isObject(battery) && typeof battery['charging'] === 'boolean') out.charging = battery['charging'];
  return out;
}

function percent(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 100 ? Math.round(x) : undefined;
}
