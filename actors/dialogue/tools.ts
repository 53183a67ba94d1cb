/**
 * Server functions of the dialogue beyond get_current_time (actors/tools/registry.ts): ending the
 * conversation, changing the voice, the weather, playing music. Each is a `Tool` of the registry;
 * what a tool does to the session (close after the reply, a new TTS voice, streaming a file) is an
 * injected callback, so these stay testable without a session.
 *
 * Results are written for the model: a failure is an `isError` result saying what to tell the
 * user, never a thrown error, because the model must still say something.
 */
import { request } from 'undici';
import type { Tool } from '../tools/registry.js';
import type { VoiceOption } from './config.js';
import type { MusicLibrary, Track } from './music.js';

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');
const norm = (s: string) => s.normalize('NFKC').toLowerCase().replace(/[\p{P}\p{S}\s]/gu, '');

// ── end_conversation ────────────────────────────────────────────────────────────────────────

export interface EndConversationOptions {
  /** Marks the session to close after this reply's `tts stop` (the goodbye is heard first). */
  readonly onEnd: () => void;
}

export function endConversationTool(o: EndConversationOptions): Tool {
  return {
    source: 'server',
    definition: {
      name: 'end_conversation',
      description: 'End the conversation when the user says goodbye, wants to stop talking or asks you to be quiet. After calling it, say a short goodbye.',
      parameters: { type: 'object', properties: {} },
    },
    async run() {
      o.onEnd();
      return { text: 'The conversation will end after this reply. Say one short, warm goodbye in the language of the conversation, and nothing else.', isError: false };
    },
  };
}

// ── change_voice ────────────────────────────────────────────────────────────────────────────

export interface ChangeVoiceOptions {
  readonly voices: readonly VoiceOption[];
  /** The voice id in use. */
  readonly current: () => string | null;
  readonly onChange: (voice: VoiceOption) => void | Promise<void>;
}

export function findVoice(voices: readonly VoiceOption[], asked: string): VoiceOption | undefined {
  const q = norm(asked);
  if (q === '') return undefined;
  return voices.find((v) => norm(v.id) === q) ?? voices.find((v) => norm(v.name) === q) ?? onlyOne(voices.filter((v) => norm(v.name).includes(q) || q.includes(norm(v.name))));
}

function onlyOne<T>(xs: T[]): T | undefined {
  return xs.length === 1 ? xs[0] : undefined;
}

export function changeVoiceTool(o: ChangeVoiceOptions): Tool {
  const listing = o.voices.map((v) => (v.description ? `"${v.name}" (${v.description})` : `"${v.name}"`)).join('; ');
  return {
    source: 'server',
    definition: {
      name: 'change_voice',
      description: `Change the voice you speak with, when the user asks for another voice. Available voices: ${listing}.`,
      parameters: {
        type: 'object',
        properties: { voice: { type: 'string', enum: o.voices.map((v) => v.name), description: 'The voice to use.' } },
        required: ['voice'],
      },
    },
    async run(args) {
      const asked = str(args['voice']);
      const v = findVoice(o.voices, asked);
      if (!v) return { text: `There is no voice "${asked}". Available voices: ${o.voices.map((x) => x.name).join(', ')}.`, isError: true };
      if (v.id === o.current()) return { text: `Already speaking with the "${v.name}" voice.`, isError: false };
      await o.onChange(v);
      return { text: `Voice changed to "${v.name}" from the next sentence on. Confirm it in one short sentence.`, isError: false };
    },
  };
}

// ── get_weather ─────────────────────────────────────────────────────────────────────────────

export interface WeatherOptions {
  /** URL template with `{city}` and optionally `{key}`. */
  readonly url: string;
  readonly key?: string | null | undefined;
  readonly timeoutMs?: number | undefined;
  readonly defaultCity?: string | null | undefined;
  /** Characters of the answer passed to the model; default 2000. */
  readonly maxChars?: number | undefined;
}

/** Body bytes read at most: a weather answer is small, a misconfigured URL may not be. */
const WEATHER_MAX_BYTES = 64 * 1024;

export function weatherUrl(template: string, city: string, key: string | null | undefined): string {
  return template.replaceAll('{city}', encodeURIComponent(city)).replaceAll('{key}', encodeURIComponent(key ?? ''));
}

export function weatherTool(o: WeatherOptions): Tool {
  const timeoutMs = o.timeoutMs ?? 5000;
  const maxChars = o.maxChars ?? 2000;
  return {
    source: 'server',
    definition: {
      name: 'get_weather',
      description: `Current weather and forecast for a city. Use it for any question about the weather${o.defaultCity ? ` (the user is in ${o.defaultCity} unless they name another city)` : ''}.`,
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', description: 'City name as the user said it, e.g. 北京 or London.' } },
        ...(o.defaultCity ? {} : { required: ['city'] }),
      },
    },
    async run(args, ctx) {
      const city = str(args['city']) || (o.defaultCity ?? '');
      if (city === '') return { text: 'No city given: ask the user which city they mean.', isError: true };
      const url = weatherUrl(o.url, city, o.key);
      const headers: Record<string, string> = { accept: 'application/json, text/plain;q=0.9, */*;q=0.5' };
      if (o.key && !o.url.includes('{key}')) headers['authorization'] = `Bearer ${o.key}`;
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = AbortSignal.any([ctx.signal, timeout]);
      try {
        const res = await request(url, { method: 'GET', headers, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
        const body = await readLimited(res.body, WEATHER_MAX_BYTES);
        if (res.statusCode < 200 || res.statusCode >= 300) {
          return { text: `The weather service answered with status ${res.statusCode}: tell the user the weather is not available right now.`, isError: true };
        }
        const text = compact(body, maxChars);
        if (text === '') return { text: 'The weather service sent an empty answer: tell the user the weather is not available right now.', isError: true };
        return { text: `Weather for ${city} (summarize it in one or two spoken sentences): ${text}`, isError: false };
      } catch (e) {
        if (ctx.signal.aborted) throw e;
        const why = timeout.aborted ? `did not answer within ${timeoutMs} ms` : 'could not be reached';
        return { text: `The weather service ${why}: tell the user the weather is not available right now.`, isError: true };
      }
    },
  };
}

async function readLimited(body: AsyncIterable<Uint8Array> & { destroy?: () => void }, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of body) {
    chunks.push(c);
    n += c.byteLength;
    if (n >= limit) {
      body.destroy?.();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/** JSON is re-serialized compactly (no indentation spent on tokens); text is trimmed. */
function compact(body: string, maxChars: number): string {
  let s = body.trim();
  try {
    s = JSON.stringify(JSON.parse(s));
  } catch {
    s = s.replace(/\s+/g, ' ');
  }
  return s.length > maxChars ? `${s.slice(0, maxChars)}…` : s;
}

// ── play_music ──────────────────────────────────────────────────────────────────────────────

export interface PlayMusicOptions {
  readonly library: MusicLibrary;
  /** Starts streaming the file once this reply is done (the streaming is the session's job). */
  readonly onPlay: (track: Track) => void | Promise<void>;
}

export function playMusicTool(o: PlayMusicOptions): Tool {
  return {
    source: 'server',
    definition: {
      name: 'play_music',
      description: 'Play a song from the local music library. Leave `song` empty to play something at random. If the song is not found, the answer lists songs that are available.',
      parameters: {
        type: 'object',
        properties: { song: { type: 'string', description: 'Song title (or part of it) as the user said it.' } },
      },
    },
    async run(args) {
      const asked = str(args['song']);
      const track = await o.library.find(asked);
      if (!track) {
        const all = await o.library.list();
        if (all.length === 0) return { text: 'The music library is empty: tell the user there is no music to play.', isError: true };
        const some = all.slice(0, 10).map((t) => t.title).join(', ');
        return { text: `No song matching "${asked}". Some available songs: ${some}${all.length > 10 ? ', …' : ''}. Ask the user which one to play.`, isError: true };
      }
      await o.onPlay(track);
      return { text: `Now playing "${track.title}". Announce it in a few words and say nothing else.`, isError: false };
    },
  };
}
