/**
 * What the device's tools look like to the rest of the server, whichever protocol carries them
 * (MCP, protocol.md §8, or legacy IoT, §9). Plain data: tool lists are cached in the store and
 * may cross threads.
 */

export interface DeviceTool {
  /** The name on the device (`self.audio_speaker.set_volume`, `iot_Speaker_SetVolume`). */
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments object (`{type:'object', properties, required?}`). */
  readonly inputSchema: Record<string, unknown>;
  readonly annotations?: Record<string, unknown>;
  /** Meant for a person (reboot, upgrade…), not for the model: `annotations.audience` is `["user"]`. */
  readonly userOnly: boolean;
}

export interface ToolResult {
  /** The single content item as text (an image becomes a short description). */
  readonly text: string;
  readonly isError: boolean;
}

/** What the firmware's `initialize` reply tells: board name and firmware version. */
export interface ServerInfo {
  readonly name: string;
  readonly version: string;
  readonly protocolVersion: string;
}

export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}
