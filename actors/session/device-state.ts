/**
 * What the server believes the device's conversation state is (protocol.md §7.3). The device
 * owns its state; we mirror it from what it tells us (`listen`) and what we tell it (`tts`), so
 * the session knows whether audio may flow and what a `tts stop` will do to the device.
 *
 *   idle ──listen start──▶ listening ──tts start──▶ speaking
 *    ▲  ◀──listen stop───     ▲   ◀──tts stop (auto/realtime)──┘
 *    └──────────────── tts stop (manual) ──────────────────────┘
 */
export type DeviceState = 'connecting' | 'idle' | 'listening' | 'speaking';
export type ListenMode = 'auto' | 'manual' | 'realtime';

export type DeviceEvent =
  | { e: 'hello' }
  | { e: 'listen-start'; mode: ListenMode }
  | { e: 'listen-stop' }
  | { e: 'tts-start' }
  | { e: 'tts-stop' };

export interface DeviceView {
  readonly state: DeviceState;
  readonly mode: ListenMode;
}

/** The next state, or undefined when the firmware (≥ 2.1) would ignore the transition. */
export function nextDeviceState(view: DeviceView, ev: DeviceEvent): DeviceView | undefined {
  const { state, mode } = view;
  switch (ev.e) {
    case 'hello':
      return state === 'connecting' ? { state: 'idle', mode } : view;
    case 'listen-start':
      // From idle (a new turn or push-to-talk) or listening (mode change); from speaking it
      // follows an abort or a wake-word barge-in (FW ≥ 2.3 switches straight to listening).
      return state === 'connecting' ? undefined : { state: 'listening', mode: ev.mode };
    case 'listen-stop':
      return state === 'listening' ? { state: 'idle', mode } : undefined;
    case 'tts-start':
      return state === 'idle' || state === 'listening' ? { state: 'speaking', mode } : state === 'speaking' ? view : undefined;
    case 'tts-stop':
      if (state !== 'speaking') return undefined;
      return { state: mode === 'manual' ? 'idle' : 'listening', mode };
  }
}

export function parseListenMode(v: unknown): ListenMode | undefined {
  return v === 'auto' || v === 'manual' || v === 'realtime' ? v : undefined;
}
