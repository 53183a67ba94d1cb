/**
 * A fake OpenAI audio API (vendors.md §2.3): a real node:http server on 127.0.0.1:0 serving
 *
 *   POST /v1/audio/speech          JSON in; raw 24 kHz s16le mono PCM out (response_format pcm),
 *                                  streamed chunked in odd-sized pieces (1, 4095, 3, then random),
 *                                  so a client must carry split samples across chunks
 *   POST /v1/audio/transcriptions  a real multipart/form-data upload, parsed from the boundary in
 *                                  Content-Type; `file` (with a filename) and `model` required; the
 *                                  WAV header is checked (RIFF/WAVE, PCM, mono, 16-bit, data size);
 *                                  answers `{"text": …}` (json) or the bare text (text)
 *
 * It checks `Authorization: Bearer <apiKey>` when an apiKey is set, records every request (the
 * parsed JSON; the multipart fields, the WAV's format and its samples), and every response the
 * client walked away from. Faults are queued per endpoint and consumed one per request.
 *
 *   const fake = await startOpenAiAudioFake({ apiKey: 'sk-test' });   // fake.url → base_url
 *   fake.inject('speech', { kind: 'status', status: 429, retryAfter: '2' });
 *   fake.inject('transcriptions', { kind: 'disconnect' });
 *   fake.pcmFor('hello')   // the exact samples the speech endpoint answers 'hello' with
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rng } from './chunker.js';

export type AudioFault =
  /** An error status with OpenAI's error body (401, 429 + retry-after, 500, 400, …). */
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string; readonly code?: string }
  /** 200 with a JSON error body (compatible servers do this): must not be played as audio. */
  | { readonly kind: 'json-200' }
  /** The request is read and never answered. */
  | { readonly kind: 'hang' }
  /** Headers and `afterBytes` bytes of the body (default: half), then silence. */
  | { readonly kind: 'stall'; readonly afterBytes?: number }
  /** Headers and `afterBytes` bytes (default: half), then the socket is destroyed. */
  | { readonly kind: 'disconnect'; readonly afterBytes?: number };

export type Endpoint = 'speech' | 'transcriptions';

export interface SpeechRecord {
  readonly headers: IncomingMessage['headers'];
  readonly json: Record<string, unknown>;
  readonly at: number;
}

export interface TranscriptionRecord {
  readonly headers: IncomingMessage['headers'];
  /** Text fields of the form (model, language, prompt, response_format, …). */
  readonly fields: Readonly<Record<string, string>>;
  readonly filename: string;
  readonly fileType: string;
  readonly wav: { readonly sampleRate: number; readonly channels: number; readonly bits: number; readonly samples: number };
  readonly pcm: Int16Array;
  readonly at: number;
}

export interface AudioDisconnect {
  readonly endpoint: Endpoint;
  readonly phase: 'before-headers' | 'body';
  readonly at: number;
}

export interface OpenAiAudioFakeOptions {
  /** Required bearer token; undefined accepts any (or none). */
  readonly apiKey?: string;
  /** Pause between body pieces, ms; 0 yields one event-loop turn. */
  readonly chunkGapMs?: number;
  /** Pause before the status line, ms. */
  readonly firstDelayMs?: number;
  readonly seed?: number;
  /** Write each body in one piece (a load test's vendor; tests want the odd pieces). */
  readonly whole?: boolean;
}

export interface OpenAiAudioFake {
  /** http://127.0.0.1:port/v1 — the providers' `base_url`. */
  readonly url: string;
  readonly speech: SpeechRecord[];
  readonly transcriptions: TranscriptionRecord[];
  readonly disconnects: AudioDisconnect[];
  chunkGapMs: number;
  firstDelayMs: number;
  /** What transcriptions answer; a function sees the upload. Default 'turn on the light'. */
  transcript: string | ((t: TranscriptionRecord) => string);
  inject(endpoint: Endpoint, f: AudioFault, times?: number): void;
  /** The samples the speech endpoint answers `input` with (at speed 1). */
  pcmFor(input: string, speed?: number): Int16Array;
  /** Resolves with the first disconnect at or after `since` (performance.now()). */
  waitForDisconnect(since: number, timeoutMs?: number): Promise<AudioDisconnect>;
  close(): Promise<void>;
}

const RATE = 24_000;
const WAV_EXT = /\.(flac|mp3|mp4|mpeg|mpga|m4a|ogg|wav|webm)$/i;
const sleep = (ms: number): Promise<void> => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

/** Seconds of speech a text takes (Chinese characters slower than Latin letters). */
function seconds(text: string): number {
  let s = 0;
  for (const ch of text) s += /[\u3400-\u9fff]/.test(ch) ? 0.22 : /[\p{L}\p{N}]/u.test(ch) ? 0.06 : 0.04;
  return Math.max(0.5, s);
}

/** Deterministic voiced-sounding audio: a 150 Hz buzz with harmonics under a syllable envelope. */
export function speechPcm(input: string, speed = 1): Int16Array {
  const n = Math.round((seconds(input) / speed) * RATE);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    const env = 0.5 - 0.5 * Math.cos(2 * Math.PI * 4 * t);
    const v = Math.sin(2 * Math.PI * 150 * t) + 0.5 * Math.sin(2 * Math.PI * 300 * t) + 0.25 * Math.sin(2 * Math.PI * 450 * t);
    out[i] = Math.round(8000 * env * v);
  }
  return out;
}

function errorBody(status: number, code?: string): { error: Record<string, unknown> } {
  const byStatus: Record<number, [string, string, string]> = {
    400: ['Invalid request.', 'invalid_request_error', 'invalid_value'],
    401: ['Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key'],
    429: ['Rate limit reached for requests.', 'requests', 'rate_limit_exceeded'],
    500: ['The server had an error while processing your request.', 'server_error', 'server_error'],
  };
  const [message, type, c] = byStatus[status] ?? ['Error.', 'server_error', 'error'];
  return { error: { message, type, param: null, code: code ?? c } };
}

interface Part {
  headers: Map<string, string>;
  data: Buffer;
}

/** RFC 7578 multipart/form-data: parts between `--boundary` lines, CRLF everywhere. */
export function parseMultipart(body: Buffer, contentType: string): Part[] | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) return undefined;
  const delim = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let at = body.indexOf(delim);
  if (at !== 0) return undefined;
  for (;;) {
    at += delim.length;
    if (body.subarray(at, at + 2).toString() === '--') return parts; // the closing delimiter
    if (body.subarray(at, at + 2).toString() !== '\r\n') return undefined;
    const headEnd = body.indexOf('\r\n\r\n', at + 2);
    const nextDelim = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd);
    if (headEnd === -1 || nextDelim === -1) return undefined;
    const headers = new Map<string, string>();
    for (const line of body.subarray(at + 2, headEnd).toString('utf8').split('\r\n')) {
      const c = line.indexOf(':');
      if (c > 0) headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim());
    }
    parts.push({ headers, data: body.subarray(headEnd + 4, nextDelim) });
    at = nextDelim + 2;
  }
}

/** The format of a WAV upload, or why it is not one the fake accepts. */
function readWav(b: Buffer): { wav: TranscriptionRecord['wav']; pcm: Int16Array } | string {
  if (b.length < 44 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') return 'not RIFF/WAVE';
  if (b.readUInt32LE(4) !== b.length - 8) return 'RIFF size does not match the file';
  let at = 12;
  let fmt: { channels: number; sampleRate: number; bits: number } | undefined;
  while (at + 8 <= b.length) {
    const id = b.toString('latin1', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      if (b.readUInt16LE(at + 8) !== 1) return 'not PCM';
      fmt = { channels: b.readUInt16LE(at + 10), sampleRate: b.readUInt32LE(at + 12), bits: b.readUInt16LE(at + 22) };
      if (b.readUInt32LE(at + 16) !== fmt.sampleRate * fmt.channels * (fmt.bits / 8)) return 'byte rate inconsistent';
    } else if (id === 'data') {
      if (!fmt) return 'data before fmt';
      if (at + 8 + size !== b.length) return 'data size does not match the file';
      const pcm = new Int16Array(size >> 1);
      new Uint8Array(pcm.buffer).set(b.subarray(at + 8, at + 8 + (size & ~1)));
      return { wav: { ...fmt, samples: pcm.length / fmt.channels }, pcm };
    }
    at += 8 + size + (size & 1);
  }
  return 'no data chunk';
}

export async function startOpenAiAudioFake(opts: OpenAiAudioFakeOptions = {}): Promise<OpenAiAudioFake> {
  const faults: Record<Endpoint, AudioFault[]> = { speech: [], transcriptions: [] };
  const speech: SpeechRecord[] = [];
  const transcriptions: TranscriptionRecord[] = [];
  const disconnects: AudioDisconnect[] = [];
  const waiters = new Set<() => void>();
  const cache = new Map<string, Int16Array>();
  const next = rng(opts.seed ?? 5);
  const state = { chunkGapMs: opts.chunkGapMs ?? 0, firstDelayMs: opts.firstDelayMs ?? 0, transcript: 'turn on the light' as OpenAiAudioFake['transcript'] };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };

  /** Writes `body` in odd pieces, honouring a stall or disconnect fault; stops if the client left. */
  async function stream(res: ServerResponse, body: Buffer, fault: AudioFault | undefined, gone: () => boolean, cut: () => void): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const stopAt = fault?.kind === 'stall' || fault?.kind === 'disconnect' ? (fault.afterBytes ?? body.length >> 1) : body.length;
    if (opts.whole && stopAt === body.length) {
      res.end(body);
      return;
    }
    const first = [1, 4095, 3];
    let at = 0;
    for (let i = 0; at < stopAt; i++) {
      const size = Math.min(first[i] ?? 1 + Math.floor(next() * 6000), stopAt - at);
      if (gone()) return;
      if (!res.write(body.subarray(at, at + size))) await new Promise((r) => res.once('drain', r));
      at += size;
      await sleep(state.chunkGapMs);
    }
    if (gone()) return;
    if (fault?.kind === 'stall') return; // open until the client gives up
    if (fault?.kind === 'disconnect') {
      await sleep(5); // the bytes already written leave first, as a crashing server's would
      cut();
      res.socket?.destroy();
      return;
    }
    res.end();
  }

  const server = createServer({ noDelay: true }, (req, res) => void serve(req, res));

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = Buffer.concat(parts);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const endpoint: Endpoint | undefined = path === '/v1/audio/speech' ? 'speech' : path === '/v1/audio/transcriptions' ? 'transcriptions' : undefined;
    if (req.method !== 'POST' || !endpoint) return json(res, 404, errorBody(404));
    let intentional = false;
    res.on('close', () => {
      if (!res.writableFinished && !intentional) disconnects.push({ endpoint, phase: res.headersSent ? 'body' : 'before-headers', at: performance.now() });
      for (const w of [...waiters]) w();
    });
    const gone = (): boolean => res.destroyed || res.writableEnded;
    if (opts.apiKey !== undefined && req.headers.authorization !== `Bearer ${opts.apiKey}`) return json(res, 401, errorBody(401));
    if (endpoint === 'speech') {
      let j: Record<string, unknown>;
      try {
        j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      } catch {
        return json(res, 400, errorBody(400));
      }
      speech.push({ headers: req.headers, json: j, at: performance.now() });
      const speed = j.speed === undefined ? 1 : Number(j.speed);
      const voiceOk = typeof j.voice === 'string' || (typeof j.voice === 'object' && j.voice !== null && typeof (j.voice as { id?: unknown }).id === 'string');
      if (!/^application\/json/.test(req.headers['content-type'] ?? '') || typeof j.model !== 'string' || typeof j.input !== 'string' || j.input === '' || j.input.length > 4096 || !voiceOk) {
        return json(res, 400, errorBody(400));
      }
      if (j.response_format !== 'pcm' || !(speed >= 0.25 && speed <= 4)) return json(res, 400, errorBody(400, 'unsupported_value'));
      const fault = faults.speech.shift();
      if (state.firstDelayMs) await sleep(state.firstDelayMs);
      if (fault?.kind === 'hang') return;
      if (fault?.kind === 'status') return json(res, fault.status, errorBody(fault.status, fault.code), fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
      if (fault?.kind === 'json-200') return json(res, 200, errorBody(500));
      const key = `${speed}:${j.input}`;
      // Cached: the bench measures the client, not the fake's sine arithmetic.
      const pcm = cache.get(key) ?? speechPcm(j.input, speed);
      if (cache.size < 64) cache.set(key, pcm);
      return stream(res, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), fault, gone, () => (intentional = true));
    }
    const form = parseMultipart(body, req.headers['content-type'] ?? '');
    if (!form) return json(res, 400, errorBody(400));
    const fields: Record<string, string> = {};
    let file: { filename: string; type: string; data: Buffer } | undefined;
    for (const p of form) {
      const cd = p.headers.get('content-disposition') ?? '';
      const name = /\bname="([^"]*)"/.exec(cd)?.[1];
      const filename = /\bfilename="([^"]*)"/.exec(cd)?.[1];
      if (!name) return json(res, 400, errorBody(400));
      if (filename !== undefined) file = { filename, type: p.headers.get('content-type') ?? '', data: p.data };
      else fields[name] = p.data.toString('utf8');
    }
    if (!file || !fields.model || !WAV_EXT.test(file.filename)) return json(res, 400, errorBody(400));
    const wav = readWav(file.data);
    if (typeof wav === 'string') return json(res, 400, { error: { message: `Invalid file format. (${wav})`, type: 'invalid_request_error', param: null, code: null } });
    const rec: TranscriptionRecord = { headers: req.headers, fields, filename: file.filename, fileType: file.type, ...wav, at: performance.now() };
    transcriptions.push(rec);
    const format = fields.response_format ?? 'json';
    if (format !== 'json' && format !== 'text') return json(res, 400, errorBody(400, 'unsupported_value'));
    const fault = faults.transcriptions.shift();
    if (state.firstDelayMs) await sleep(state.firstDelayMs);
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'status') return json(res, fault.status, errorBody(fault.status, fault.code), fault.retryAfter ? { 'retry-after': fault.retryAfter } : {});
    const text = typeof state.transcript === 'function' ? state.transcript(rec) : state.transcript;
    if (fault?.kind === 'stall' || fault?.kind === 'disconnect') {
      return stream(res, Buffer.from(JSON.stringify({ text })), fault, gone, () => (intentional = true));
    }
    if (format === 'text') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(`${text}\n`);
    json(res, 200, { text, usage: { type: 'duration', seconds: Math.ceil(wav.wav.samples / wav.wav.sampleRate) } });
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    speech,
    transcriptions,
    disconnects,
    get chunkGapMs() {
      return state.chunkGapMs;
    },
    set chunkGapMs(v) {
      state.chunkGapMs = v;
    },
    get firstDelayMs() {
      return state.firstDelayMs;
    },
    set firstDelayMs(v) {
      state.firstDelayMs = v;
    },
    get transcript() {
      return state.transcript;
    },
    set transcript(v) {
      state.transcript = v;
    },
    inject(endpoint, f, times = 1) {
      for (let i = 0; i < times; i++) faults[endpoint].push(f);
    },
    pcmFor: speechPcm,
    waitForDisconnect(since, timeoutMs = 2000) {
      const find = (): AudioDisconnect | undefined => disconnects.find((d) => d.at >= since);
      return new Promise((resolve, reject) => {
        const hit = find();
        if (hit) return resolve(hit);
        const w = (): void => {
          const d = find();
          if (!d) return;
          clearTimeout(timer);
          waiters.delete(w);
          resolve(d);
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`openai audio fake: no disconnect within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
