/**
 * Edge TTS message framing (vendors.md §8.3–8.4). Text frames are HTTP-like: `Name:value` lines
 * joined by CRLF, a blank line, then the body. Binary frames carry a 2-byte big-endian header
 * length, that many bytes of header lines, then the audio payload. Header order varies between
 * messages, so headers are read into a map (lower-cased names).
 */

export const OUTPUT_FORMATS = {
  'audio-24khz-48kbitrate-mono-mp3': 24_000,
  'audio-24khz-96kbitrate-mono-mp3': 24_000,
} as const satisfies Record<string, number>;
export type OutputFormat = keyof typeof OUTPUT_FORMATS;

export interface EdgeMessage {
  readonly headers: ReadonlyMap<string, string>;
  /** Text body (text frames) or audio payload (binary frames). */
  readonly body: string | Uint8Array;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const p2 = (n: number): string => String(n).padStart(2, '0');

/** JavaScript's Date#toString in UTC, as Edge sends X-Timestamp (without the host's zone). */
export function jsDate(ms: number): string {
  const d = new Date(ms);
  return (
    `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())} ${d.getUTCFullYear()} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} GMT+0000 (Coordinated Universal Time)`
  );
}

export function speechConfig(format: OutputFormat, nowMs: number): string {
  // The options are the strings "true"/"false"; word boundaries are not needed for speaking.
  const body = { context: { synthesis: { audio: { metadataoptions: { sentenceBoundaryEnabled: 'false', wordBoundaryEnabled: 'false' }, outputFormat: format } } } };
  return `X-Timestamp:${jsDate(nowMs)}\r\nContent-Type:application/json; charset=utf-8\r\nPath:speech.config\r\n\r\n${JSON.stringify(body)}\r\n`;
}

export function ssmlMessage(requestId: string, ssml: string, nowMs: number): string {
  // The trailing Z after the date copies an Edge bug; the service has always accepted it.
  return `X-RequestId:${requestId}\r\nContent-Type:application/ssml+xml\r\nX-Timestamp:${jsDate(nowMs)}Z\r\nPath:ssml\r\n\r\n${ssml}`;
}

export interface Prosody {
  rate: string;
  pitch: string;
  volume: string;
}

export const RATE_RE = /^[+-]\d+%$/;
export const PITCH_RE = /^[+-]\d+Hz$/;
const SHORT_VOICE = /^([a-z]{2,3}-[A-Za-z0-9]{2,8}(?:-[A-Za-z0-9]+)?)-([A-Za-z0-9]+)$/;

/** `zh-CN-XiaoxiaoNeural` → the long name Edge itself sends; long names pass through. */
export function longVoiceName(name: string): string {
  const m = SHORT_VOICE.exec(name);
  if (!m) return name;
  return `Microsoft Server Speech Text to Speech Voice (${m[1]}, ${m[2]})`;
}

export function isVoiceName(name: string): boolean {
  return SHORT_VOICE.test(name) || /^Microsoft Server Speech Text to Speech Voice \([a-z]{2,3}-[A-Za-z0-9-]+, [A-Za-z0-9]+\)$/.test(name);
}

/** Control characters the service chokes on (a vertical tab fails the request) become spaces. */
export function cleanText(text: string): string {
  return text.replace(/[\x00-\x08\x0B\x0C\x0E-\x1F]/g, ' ');
}

export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&apos;'));
}

/** The SSML document for one request; `text` is escaped here. */
export function ssml(voice: string, p: Prosody, text: string): string {
  return (
    `<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang='en-US'>` +
    `<voice name='${xmlEscape(longVoiceName(voice))}'><prosody pitch='${p.pitch}' rate='${p.rate}' volume='${p.volume}'>` +
    `${xmlEscape(cleanText(text))}</prosody></voice></speak>`
  );
}

/**
 * Splits text so each piece, once escaped, fits `maxBytes` of UTF-8 (the service takes 4096 per
 * request). Cuts prefer whitespace and never split a character or an entity (escaping is per piece).
 */
export function splitText(text: string, maxBytes = 4096): string[] {
  const out: string[] = [];
  const cost = (c: string): number => Buffer.byteLength(xmlEscape(c), 'utf8');
  let piece = '';
  let bytes = 0;
  let lastSpace = -1;
  for (const ch of text) {
    const c = cost(ch);
    if (bytes + c > maxBytes && piece !== '') {
      const cut = lastSpace > 0 ? lastSpace : piece.length;
      out.push(piece.slice(0, cut));
      piece = piece.slice(cut);
      bytes = [...piece].reduce((n, x) => n + cost(x), 0);
      lastSpace = -1;
    }
    piece += ch;
    bytes += c;
    if (/\s/.test(ch)) lastSpace = piece.length;
  }
  if (piece.trim() !== '') out.push(piece);
  return out.filter((p) => p.trim() !== '');
}

function parseHeaderBlock(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** A text frame; undefined when it has no header block (not something Edge sends). */
export function parseText(data: string): EdgeMessage | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  return { headers: parseHeaderBlock(data.slice(0, end)), body: data.slice(end + 4) };
}

/** A binary frame: headers from bytes [2, 2+H), payload after them. */
export function parseBinary(data: Uint8Array): EdgeMessage | undefined {
  if (data.byteLength < 2) return undefined;
  const h = (data[0]! << 8) | data[1]!;
  if (2 + h > data.byteLength) return undefined;
  const block = Buffer.from(data.buffer, data.byteOffset + 2, h).toString('latin1');
  return { headers: parseHeaderBlock(block), body: data.subarray(2 + h) };
}
