/**
 * The dialogue brain: prompt, history, memory, roles, function tools and session policy, as pure
 * modules a session composes. `dialogueTools` builds the server functions a config enables.
 */
import type { Tool } from '../tools/registry.js';
import type { ToolsSettings, VoiceOption } from './config.js';
import { MusicLibrary, type Track } from './music.js';
import { switchRoleTool, type Role } from './roles.js';
import { changeVoiceTool, endConversationTool, playMusicTool, weatherTool } from './tools.js';

export interface DialogueToolHooks {
  /** Close the session after this reply. */
  readonly onEnd: () => void;
  readonly currentVoice: () => string | null;
  readonly onVoice: (v: VoiceOption) => void | Promise<void>;
  readonly onPlay: (t: Track) => void | Promise<void>;
  readonly roles: ReadonlyMap<string, Role>;
  readonly currentRole: () => string;
  readonly onRole: (r: Role) => void | Promise<void>;
}

/**
 * The tools config enables: end_conversation always; switch_role with two roles or more;
 * change_voice with a voice list; get_weather with a URL; play_music with a folder (pass a
 * library shared by all sessions, so its listing is scanned once).
 */
export function dialogueTools(cfg: ToolsSettings, hooks: DialogueToolHooks, library?: MusicLibrary): Tool[] {
  const out: Tool[] = [endConversationTool({ onEnd: hooks.onEnd })];
  if (hooks.roles.size > 1) out.push(switchRoleTool({ roles: hooks.roles, current: hooks.currentRole, onSwitch: hooks.onRole }));
  if (cfg.voices.length > 0) out.push(changeVoiceTool({ voices: cfg.voices, current: hooks.currentVoice, onChange: hooks.onVoice }));
  if (cfg.weather.url) {
    out.push(weatherTool({ url: cfg.weather.url, key: cfg.weather.key, timeoutMs: cfg.weather.timeout_ms, defaultCity: cfg.weather.default_city }));
  }
  const lib = library ?? (cfg.music.dir ? new MusicLibrary(cfg.music.dir) : undefined);
  if (lib) out.push(playMusicTool({ library: lib, onPlay: hooks.onPlay }));
  return out;
}

export * from './config.js';
export * from './prompt.js';
export * from './history.js';
export * from './memory.js';
export * from './roles.js';
export * from './tools.js';
export * from './music.js';
export * from './intents.js';
