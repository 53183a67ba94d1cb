/**
 * What the firmware requires of server text messages (protocol.md §1, §4.2, §6.2), checked from
 * the device's side: one JSON object per text frame with a string `type`; the fields the firmware
 * reads without type checks present and of the right type (a JSON null there crashes older
 * builds); a server hello with a string `transport` and a `session_id`. Unknown message types are
 * legal (the device ignores them) and only counted.
 */

export type ViolationKind =
  | 'non-json-text'
  | 'missing-type'
  | 'json-null'
  | 'missing-field'
  | 'hello-missing-transport'
  | 'hello-wrong-transport'
  | 'hello-missing-session-id'
  | 'hello-bad-audio-params'
  | 'hello-timeout'
  | 'audio-before-tts-start'
  | 'audio-after-tts-stop'
  | 'frame-too-long'
  | 'bad-frame-header'
  | 'undecodable-audio'
  | 'mcp-not-answerable'
  | 'ota-bad-reply';

export interface Problem {
  kind: ViolationKind;
  detail: string;
}

/** Types the firmware (or our own server's extensions) knows; anything else is just counted. */
export const KNOWN_SERVER_TYPES: ReadonlySet<string> = new Set(['hello', 'stt', 'llm', 'tts', 'mcp', 'system', 'alert', 'custom', 'goodbye', 'iot', 'pong']);

type Need = 'string' | 'object';
/** Fields the firmware reads as the given JSON type, per message type (and tts state). */
const REQUIRED: Record<string, Record<string, Need>> = {
  stt: { text: 'string' },
  tts: { state: 'string' },
  'tts/sentence_start': { text: 'string' },
  alert: { status: 'string', message: 'string', emotion: 'string' },
  system: { command: 'string' },
  mcp: { payload: 'object' },
  custom: { payload: 'object' },
};
/** Fields that are optional but, when present, must not be null or of another type. */
const OPTIONAL: Record<string, Record<string, Need>> = {
  llm: { emotion: 'string', text: 'string' },
};

export type Parsed = { ok: true; msg: Record<string, unknown>; type: string; problems: Problem[] } | { ok: false; problems: Problem[] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function check(msg: Record<string, unknown>, type: string, fields: Record<string, Need> | undefined, required: boolean, out: Problem[]): void {
  if (!fields) return;
  for (const [k, need] of Object.entries(fields)) {
    const v = msg[k];
    if (v === undefined) {
      if (required) out.push({ kind: 'missing-field', detail: `${type} without ${k}` });
    } else if (v === null) {
      out.push({ kind: 'json-null', detail: `${type}.${k} is null` });
    } else if (need === 'object' ? !isObject(v) : typeof v !== need) {
      out.push({ kind: 'missing-field', detail: `${type}.${k} is ${Array.isArray(v) ? 'an array' : typeof v}, not ${need === 'object' ? 'an object' : 'a string'}` });
    }
  }
}

/** Parses one server text frame and lists what a device would object to. */
export function parseServerText(text: string): Parsed {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, problems: [{ kind: 'non-json-text', detail: clip(text) }] };
  }
  if (!isObject(v)) return { ok: false, problems: [{ kind: 'non-json-text', detail: `not a JSON object: ${clip(text)}` }] };
  const type = v['type'];
  if (typeof type !== 'string') {
    return { ok: false, problems: [{ kind: type === null ? 'json-null' : 'missing-type', detail: `no string type: ${clip(text)}` }] };
  }
  const problems: Problem[] = [];
  if (v['session_id'] === null) problems.push({ kind: 'json-null', detail: `${type}.session_id is null` });
  if (type === 'hello') checkHello(v, problems);
  check(v, type, REQUIRED[type], true, problems);
  check(v, type, OPTIONAL[type], false, problems);
  if (type === 'tts' && v['state'] === 'sentence_start') check(v, 'tts sentence_start', REQUIRED['tts/sentence_start'], true, problems);
  return { ok: true, msg: v, type, problems };
}

function checkHello(v: Record<string, unknown>, out: Problem[]): void {
  const transport = v['transport'];
  if (typeof transport !== 'string') {
    // Current firmware dereferences a null pointer while logging such a hello (§4.2).
    out.push({ kind: 'hello-missing-transport', detail: `hello transport is ${transport === null ? 'null' : transport === undefined ? 'missing' : typeof transport}` });
  } else if (transport !== 'websocket') {
    out.push({ kind: 'hello-wrong-transport', detail: `hello transport "${clip(transport)}": the device ignores this hello and times out` });
  }
  const sid = v['session_id'];
  if (sid === undefined) out.push({ kind: 'hello-missing-session-id', detail: 'hello without session_id' });
  // A null session_id is reported once, as json-null, by the caller.
  else if (typeof sid !== 'string' && sid !== null) out.push({ kind: 'hello-missing-session-id', detail: `hello session_id is ${typeof sid}` });
  const ap = v['audio_params'];
  if (ap === null) out.push({ kind: 'json-null', detail: 'hello.audio_params is null' });
  else if (ap !== undefined) {
    if (!isObject(ap)) out.push({ kind: 'hello-bad-audio-params', detail: 'audio_params is not an object' });
    else {
      for (const k of ['sample_rate', 'frame_duration']) {
        const x = ap[k];
        if (x === null) out.push({ kind: 'json-null', detail: `hello.audio_params.${k} is null` });
        else if (x !== undefined && (typeof x !== 'number' || !(x > 0))) out.push({ kind: 'hello-bad-audio-params', detail: `audio_params.${k} is ${JSON.stringify(x)}` });
      }
    }
  }
}

/** The server hello's downlink parameters, with the firmware's defaults for what is absent (§4.2). */
export function helloAudio(hello: Record<string, unknown>, prev = { sampleRate: 24000, frameMs: 60 }): { sampleRate: number; frameMs: number } {
  const ap = hello['audio_params'];
  if (!isObject(ap)) return prev;
  const rate = ap['sample_rate'];
  const dur = ap['frame_duration'];
  return {
    sampleRate: typeof rate === 'number' && rate > 0 ? rate : prev.sampleRate,
    frameMs: typeof dur === 'number' && dur > 0 ? dur : prev.frameMs,
  };
}

export function clip(s: string, n = 120): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
