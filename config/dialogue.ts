/**
 * The config keys of the dialogue brain, spread into config/schema.ts. Numbers and booleans are
 * also accepted in their text form, because a `${VAR}` can only produce a string.
 *
 *   dialogue: { wake_words, hotwords, assistant_name, timezone, history_tokens, memory,
 *               exit_phrases, greeting, wake_tail_ms, idle_farewell_s, idle_close_s,
 *               farewell_prompt, activation_prompt }
 *   tools:    { weather: { url, key, timeout_ms, default_city }, music: { dir }, voices: [...] }
 */
import { z } from 'zod';

const numeric = (v: unknown): unknown =>
  typeof v === 'string' && /^[-+]?(\d+(\.\d+)?|\.\d+)$/.test(v.trim()) ? Number(v) : v;
const boolean = (v: unknown): unknown => (v === 'true' ? true : v === 'false' ? false : v);
const int = (min: number, max: number) => z.preprocess(numeric, z.int().min(min).max(max));
const flag = () => z.preprocess(boolean, z.boolean());

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const DEFAULT_WAKE_WORDS = ['你好小智', '小智', '你好小志', 'hello xiaozhi', 'hi xiaozhi'];
export const DEFAULT_EXIT_PHRASES = ['退出', '关闭', '再见', '拜拜', 'goodbye', 'bye bye', 'bye'];
export const DEFAULT_FAREWELL_PROMPT =
  'The user has been silent for a while. Say one short, warm goodbye sentence in the language of the conversation, then stop.';
export const DEFAULT_ACTIVATION_PROMPT = '请登录控制台，输入验证码 {{code}} 绑定设备。Please enter the code {{code}} in the console to bind this device.';

const memory = z.strictObject({
  /** Keep recent turns and a model-written summary per device, across sessions and restarts. */
  enabled: flag().default(true),
  /** Turns kept verbatim and replayed as history at the next session. */
  recent_turns: int(0, 100).default(6),
});

/**
 * The keys to add inside the existing `dialogue` strictObject of config/schema.ts (spread this
 * shape next to `wake_words`).
 */
export const dialogueShape = {
  /** Texts a device sends in `listen detect` that mean "wake up" (already in config/schema.ts). */
  wake_words: z.array(z.string().min(1)).default(DEFAULT_WAKE_WORDS),
  /**
   * Words speech recognition should favour (names, products). Passed to every ASR as its hints:
   * Doubao's hotword corpus, OpenAI's transcription prompt, sherpa offline transducers.
   */
  hotwords: z.array(z.string().trim().min(1).max(64)).max(200).default([]),
  /** `{{assistant_name}}` in prompt templates. */
  assistant_name: z.string().min(1).default('小智'),
  /** IANA zone for `{{datetime}}` and get_current_time; null = the server's zone. */
  timezone: z.string().min(1).refine(validTimeZone, { message: 'expected an IANA time zone such as Asia/Shanghai' }).nullable().default(null),
  /** History sent to the model, in estimated tokens (~1 per CJK character, ~1 per 4 Latin characters). */
  history_tokens: int(100, 1_000_000).default(2000),
  memory: memory.prefault({}),
  /** A recognized utterance equal to one of these (punctuation, spaces and case ignored) ends the session. */
  exit_phrases: z.array(z.string().min(1)).default(DEFAULT_EXIT_PHRASES),
  /** Spoken after a wake word in `listen detect`; null answers with stt + tts stop only. */
  greeting: z.string().min(1).nullable().default('我在，请说。'),
  /** Speech detected this soon after a wake-up is the tail of the wake word, not a question. */
  wake_tail_ms: int(0, 10_000).default(2000),
  /** No speech for this long ⇒ a farewell turn, then close; 0 disables (PY: 120). */
  idle_farewell_s: int(0, 86_400).default(120),
  /** Hard close this long after the farewell if the session still has not ended (PY: +60). */
  idle_close_s: int(1, 86_400).default(60),
  /** The instruction for the idle farewell turn (sent to the model as the user message). */
  farewell_prompt: z.string().min(1).default(DEFAULT_FAREWELL_PROMPT),
  /** Spoken to unbound devices at most once a minute; `{{code}}` is the 6-digit code, read digit by digit. */
  activation_prompt: z.string().min(1).default(DEFAULT_ACTIVATION_PROMPT),
};

/** The whole `dialogue` section as it would read after the paste. */
export const dialogueSchema = z.strictObject(dialogueShape);

/** `tools.voices`: a bare TTS voice id, or an id with a name people say and a description. */
const voice = z.union([
  z.string().min(1).transform((id) => ({ id, name: id, description: '' })),
  z.strictObject({ id: z.string().min(1), name: z.string().min(1).optional(), description: z.string().default('') }).transform((v) => ({
    id: v.id,
    name: v.name ?? v.id,
    description: v.description,
  })),
]);

const weather = z.strictObject({
  /** URL template; `{city}` (and `{key}` if present) are filled in URL-encoded. null = no weather tool. */
  url: z
    .string()
    .refine((s) => /^https?:\/\//.test(s) && s.includes('{city}'), { message: 'expected an http(s) URL containing {city}' })
    .nullable()
    .default(null),
  /** API key: goes into `{key}`, or as `Authorization: Bearer` when the URL has no `{key}`. Use `${VAR}`. */
  key: z.string().min(1).nullable().default(null),
  timeout_ms: int(100, 60_000).default(5000),
  /** City used when the user does not name one. */
  default_city: z.string().min(1).nullable().default(null),
});

const music = z.strictObject({
  /** Folder of mp3/wav/ogg/opus files (searched recursively); null = no play_music tool. */
  dir: z.string().min(1).nullable().default(null),
  /** A track plays at most this long (a 2-hour recording would otherwise hold the speaker). */
  max_seconds: z.number().positive().max(86_400).default(900),
});

/** A new top-level `tools` section (add `tools: toolsSchema.prefault({})` to configSchema). */
export const toolsSchema = z.strictObject({
  weather: weather.prefault({}),
  music: music.prefault({}),
  /** Voices change_voice may pick; empty = no change_voice tool. */
  voices: z.array(voice).default([]),
});

export type DialogueSettings = z.output<typeof dialogueSchema>;
export type ToolsSettings = z.output<typeof toolsSchema>;
export type VoiceOption = ToolsSettings['voices'][number];
