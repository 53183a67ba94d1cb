/**
 * A fake Edge "read aloud" TTS service (vendors.md §8.7): a real `ws` WebSocket server on
 * 127.0.0.1:0 speaking the consumer endpoint's exact framing. Written from the protocol notes,
 * not from our client, so the two cannot share a mistake.
 *
 * Upgrade: checks the path, TrustedClientToken, a 32-hex ConnectionId, Sec-MS-GEC recomputed on
 * the fake's own clock (current or previous 5-minute window), Sec-MS-GEC-Version against the
 * User-Agent's Edg/ major, the extension Origin, no-cache headers and the muid cookie; anything
 * wrong gets 403 with a Date header (the client's clock fix reads it). permessage-deflate is on.
 *
 * Messages: speech.config first (outputFormat checked; an unknown one gets turn.start + turn.end
 * and no audio, as the real service does with raw formats); ssml with X-RequestId, Content-Type,
 * a X-Timestamp ending in Z, Edge's SSML shape, prosody syntax, escaped text and a known voice
 * (close 1007 `Unsupported voice …` / `SSML is invalid` otherwise). The answer comes in the real
 * order with varying header order: turn.start, response, audio.metadata, binary audio frames cut
 * at non-frame boundaries with more metadata between, the header-only last frame, turn.end.
 *
 * Audio is real MP3 (24 kHz, 48 kbps mono, as `audio-24khz-48kbitrate-mono-mp3`): frames of
 * test/fixtures/speech/hello-24k-48kbps.mp3 repeated for as long as the text would take to say.
 * That file is espeak-ng speech encoded once with
 *   espeak-ng -w h.wav "Hello, this is xiaozhi speaking." && sox h.wav -r 24000 -c 1 h24.wav &&
 *   lame -b 48 --cbr -t --nores -m m h24.wav hello-24k-48kbps.mp3
 * (`--nores`: no bit reservoir, so any run of its frames decodes on its own.)
 *
 *   const fake = await startEdgeFake();             // fake.url → the provider's `url`
 *   fake.inject({ kind: 'upgrade', status: 403 });  // next handshake refused
 *   fake.inject({ kind: 'stall', afterFrames: 2 }); // next request goes quiet after 2 audio frames
 *   fake.handshakes; fake.requests; fake.closes;    // what the client did
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { rng } from './chunker.js';

const PATH = '/consumer/speech/synthesize/readaloud/edge/v1';
const TOKEN = '6A5AA1D4EAFF4E9FB37E23D68491D6F4';
const ORIGIN = 'chrome-extension://jdiccldimpdaibmpdkjnbmckianbfold';
const FORMATS = new Set(['audio-24khz-48kbitrate-mono-mp3', 'audio-24khz-96kbitrate-mono-mp3', 'webm-24khz-16bit-mono-opus']);
const FIXTURE = new URL('../fixtures/speech/hello-24k-48kbps.mp3', import.meta.url);
/** 576 samples at 24 kHz (MPEG-2 layer III). */
export const FRAME_SECONDS = 0.024;

export type EdgeFault =
  /** The next upgrade is refused with this status (403 carries a Date header). */
  | { readonly kind: 'upgrade'; readonly status: number; readonly retryAfter?: number }
  /** The next request: close with `code`/`reason` after `afterFrames` audio frames (-1: before turn.start). */
  | { readonly kind: 'close'; readonly code: number; readonly reason: string; readonly afterFrames?: number }
  /** The next request: turn.start, then turn.end with no audio. */
  | { readonly kind: 'no-audio' }
  /** The next request: `afterFrames` audio frames, then nothing (socket stays open). */
  | { readonly kind: 'stall'; readonly afterFrames?: number }
  /** The next request: `afterFrames` audio frames, then the TCP socket is destroyed. */
  | { readonly kind: 'disconnect'; readonly afterFrames?: number };

export interface EdgeRequest {
  readonly connectionId: string;
  readonly requestId: string;
  readonly outputFormat: string;
  readonly lang: string;
  /** Voice as sent (long form) and its short name. */
  readonly voice: string;
  readonly shortVoice: string;
  readonly rate: string;
  readonly pitch: string;
  readonly volume: string;
  /** The text, unescaped. */
  readonly text: string;
  readonly at: number;
}

export interface EdgeClose {
  readonly connectionId: string;
  readonly code: number;
  /** A request was still being answered: the client gave up on it (abort) or the fake cut it. */
  readonly midRequest: boolean;
  readonly at: number;
}

export interface EdgeFakeOptions {
  /** Voices accepted (short names); default a few zh/en voices. */
  readonly voices?: readonly string[];
  /** Added to the fake's clock for Sec-MS-GEC and Date (skew tests), ms. */
  readonly clockOffsetMs?: number;
  /** Pause between audio messages, ms; 0 yields one event-loop turn. */
  readonly frameGapMs?: number;
  /** Pause before turn.start, ms (service latency). */
  readonly firstDelayMs?: number;
  readonly seed?: number;
}

export interface EdgeFake {
  /** ws://127.0.0.1:port/consumer/…/edge/v1 — the provider's `url`. */
  readonly url: string;
  /** Upgrades accepted. */
  readonly handshakes: number;
  /** Upgrades refused: status and why. */
  readonly rejected: { status: number; why: string }[];
  readonly requests: EdgeRequest[];
  readonly closes: EdgeClose[];
  frameGapMs: number;
  firstDelayMs: number;
  clockOffsetMs: number;
  /** Queues a fault; upgrade faults apply to handshakes, the rest to requests, in order. */
  inject(f: EdgeFault, times?: number): void;
  /** The MP3 bytes this fake answers `text` with. */
  mp3For(text: string): Buffer;
  /** The server closes every socket that is not answering a request (idle timeout). */
  dropIdle(code?: number): void;
  /** Resolves with the first close at or after `since` (performance.now()). */
  waitForClose(since: number, timeoutMs?: number): Promise<EdgeClose>;
  close(): Promise<void>;
}

/** The token the real service expects at `unixMs` (independent of the client's code). */
export function expectedGec(unixMs: number): string {
  const windowStart = (BigInt(Math.floor(unixMs / 1000)) + 11_644_473_600n) / 300n * 300n;
  return createHash('sha256').update(`${windowStart * 10_000_000n}${TOKEN}`).digest('hex').toUpperCase();
}

/** Splits MP3 bytes into frames by their headers (MPEG-1/2 layer III). */
export function mp3Frames(buf: Uint8Array): Buffer[] {
  const b = Buffer.from(buf);
  const out: Buffer[] = [];
  const rates = { v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320], v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160] };
  const srs = { v1: [44_100, 48_000, 32_000], v2: [22_050, 24_000, 16_000] };
  for (let at = 0; at + 4 <= b.length; ) {
    if (b[at] !== 0xff || (b[at + 1]! & 0xe0) !== 0xe0) throw new Error(`fake: no MP3 frame sync at ${at}`);
    const v1 = (b[at + 1]! & 0x18) === 0x18;
    const kbps = (v1 ? rates.v1 : rates.v2)[b[at + 2]! >> 4]!;
    const sr = (v1 ? srs.v1 : srs.v2)[(b[at + 2]! >> 2) & 3]!;
    const len = Math.floor(((v1 ? 144 : 72) * kbps * 1000) / sr) + ((b[at + 2]! >> 1) & 1);
    out.push(b.subarray(at, at + len));
    at += len;
  }
  return out;
}

/** How long the fake takes to "say" a text: Chinese characters slower than Latin letters. */
export function secondsFor(text: string): number {
  let s = 0;
  for (const ch of text) s += /[\u3400-\u9fff]/.test(ch) ? 0.22 : /[\p{L}\p{N}]/u.test(ch) ? 0.06 : 0.04;
  return Math.max(0.5, s);
}

interface SocketState {
  readonly id: string;
  readonly tcp: Socket;
  format?: string;
  /** X-RequestId being answered. */
  active?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));

function textMessage(headers: [string, string][], body: string): string {
  return `${headers.map(([k, v]) => `${k}:${v}`).join('\r\n')}\r\n\r\n${body}`;
}

function binaryMessage(headers: [string, string][], payload: Uint8Array): Buffer {
  const block = Buffer.from(headers.map(([k, v]) => `${k}:${v}\r\n`).join(''), 'latin1');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(block.length);
  return Buffer.concat([len, block, payload]);
}

function parseTextMessage(s: string): { headers: Map<string, string>; body: string } | undefined {
  const end = s.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const headers = new Map<string, string>();
  for (const line of s.slice(0, end).split('\r\n')) {
    const c = line.indexOf(':');
    if (c > 0) headers.set(line.slice(0, c), line.slice(c + 1));
  }
  return { headers, body: s.slice(end + 4) };
}

const SSML_RE =
  /^<speak version='1\.0' xmlns='http:\/\/www\.w3\.org\/2001\/10\/synthesis' xml:lang='([^']+)'><voice name='([^']+)'><prosody pitch='([^']+)' rate='([^']+)' volume='([^']+)'>([\s\S]*)<\/prosody><\/voice><\/speak>$/;
const LONG_VOICE_RE = /^Microsoft Server Speech Text to Speech Voice \(([a-z]{2,3}-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?), ([A-Za-z0-9]+)\)$/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string | undefined {
  if (/<|&(?!(amp|lt|gt|quot|apos);)/.test(s)) return undefined; // a bare < or & is invalid SSML
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ENTITIES[e]!);
}

export async function startEdgeFake(opts: EdgeFakeOptions = {}): Promise<EdgeFake> {
  const frames = mp3Frames(readFileSync(FIXTURE));
  const voices = new Set(opts.voices ?? ['zh-CN-XiaoxiaoNeural', 'zh-CN-YunxiNeural', 'en-US-AvaNeural', 'en-US-EmmaMultilingualNeural', 'en-GB-SoniaNeural']);
  const upgradeFaults: EdgeFault[] = [];
  const requestFaults: EdgeFault[] = [];
  const requests: EdgeRequest[] = [];
  const closes: EdgeClose[] = [];
  const rejected: { status: number; why: string }[] = [];
  const sockets = new Map<WebSocket, SocketState>();
  const closeWaiters = new Set<() => void>();
  const next = rng(opts.seed ?? 11);

  // The settings tests change live; the returned object is this one, so writes reach the server.
  const fake = {
    frameGapMs: opts.frameGapMs ?? 0,
    firstDelayMs: opts.firstDelayMs ?? 0,
    clockOffsetMs: opts.clockOffsetMs ?? 0,
    handshakes: 0,
  };
  const now = (): number => Date.now() + fake.clockOffsetMs;

  const mp3For = (text: string): Buffer => {
    const n = Math.ceil(secondsFor(text) / FRAME_SECONDS);
    return Buffer.concat(Array.from({ length: n }, (_, i) => frames[i % frames.length]!));
  };

  function check(req: IncomingMessage): string | undefined {
    const u = new URL(req.url ?? '/', 'http://x');
    const q = u.searchParams;
    const h = req.headers;
    if (u.pathname !== PATH) return `path ${u.pathname}`;
    if (q.get('TrustedClientToken') !== TOKEN) return 'TrustedClientToken';
    if (!/^[0-9a-fA-F]{32}$/.test(q.get('ConnectionId') ?? '')) return 'ConnectionId';
    const gec = q.get('Sec-MS-GEC') ?? '';
    if (!/^[0-9A-F]{64}$/.test(gec)) return 'Sec-MS-GEC shape';
    if (gec !== expectedGec(now()) && gec !== expectedGec(now() - 300_000)) return 'Sec-MS-GEC expired or from the wrong clock';
    const ver = /^1-(\d+)\.\d+\.\d+\.\d+$/.exec(q.get('Sec-MS-GEC-Version') ?? '');
    if (!ver) return 'Sec-MS-GEC-Version';
    if (!(h['user-agent'] ?? '').includes(`Edg/${ver[1]}.`)) return 'User-Agent does not match Sec-MS-GEC-Version';
    if (h.origin !== ORIGIN) return 'Origin';
    if (h.pragma !== 'no-cache' || h['cache-control'] !== 'no-cache') return 'no-cache headers';
    if (!/muid=[0-9A-F]{32}/.test(h.cookie ?? '')) return 'muid cookie';
    return undefined;
  }

  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: true,
    verifyClient: (info: { req: IncomingMessage }, cb: (ok: boolean, code?: number, msg?: string, headers?: Record<string, string>) => void) => {
      const date = new Date(now()).toUTCString();
      const fault = upgradeFaults.shift();
      if (fault?.kind === 'upgrade') {
        rejected.push({ status: fault.status, why: 'injected' });
        const extra: Record<string, string> = { Date: date };
        if (fault.retryAfter !== undefined) extra['Retry-After'] = String(fault.retryAfter);
        return cb(false, fault.status, 'Injected', extra);
      }
      const why = check(info.req);
      if (why) {
        rejected.push({ status: 403, why });
        return cb(false, 403, 'Forbidden', { Date: date });
      }
      cb(true);
    },
  });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as AddressInfo).port;

  wss.on('connection', (ws, req) => {
    fake.handshakes++;
    const state: SocketState = { id: new URL(req.url ?? '/', 'http://x').searchParams.get('ConnectionId') ?? '', tcp: req.socket };
    sockets.set(ws, state);
    ws.on('close', (code) => {
      closes.push({ connectionId: state.id, code, midRequest: state.active !== undefined, at: performance.now() });
      sockets.delete(ws);
      for (const w of [...closeWaiters]) w();
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1007, 'Unexpected binary message');
      const msg = parseTextMessage(String(data));
      const path = msg?.headers.get('Path');
      if (!msg || !path) return ws.close(1007, 'Malformed message');
      if (path === 'speech.config') {
        try {
          state.format = String(JSON.parse(msg.body).context.synthesis.audio.outputFormat);
        } catch {
          ws.close(1007, 'Invalid speech.config');
        }
        return;
      }
      if (path !== 'ssml') return ws.close(1007, `Unknown path ${path}`);
      if (state.format === undefined) return ws.close(1007, 'speech.config must come first');
      if (state.active) return ws.close(1007, 'A request is already in progress');
      const requestId = msg.headers.get('X-RequestId') ?? '';
      if (!/^[0-9a-fA-F]{32}$/.test(requestId)) return ws.close(1007, 'X-RequestId');
      if (msg.headers.get('Content-Type') !== 'application/ssml+xml') return ws.close(1007, 'Content-Type');
      if (!/^\w{3} \w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT[+-]\d{4} \(.+\)Z$/.test(msg.headers.get('X-Timestamp') ?? '')) return ws.close(1007, 'X-Timestamp');
      const m = SSML_RE.exec(msg.body);
      const text = m ? unescapeXml(m[6]!) : undefined;
      if (!m || text === undefined || !/^[+-]\d+Hz$/.test(m[3]!) || !/^[+-]\d+%$/.test(m[4]!) || !/^[+-]\d+%$/.test(m[5]!)) {
        return ws.close(1007, 'SSML is invalid');
      }
      const long = LONG_VOICE_RE.exec(m[2]!);
      const shortVoice = long ? `${long[1]}-${long[2]}` : m[2]!;
      if (!voices.has(shortVoice)) return ws.close(1007, `Unsupported voice ${shortVoice}.`);
      requests.push({
        connectionId: state.id, requestId, outputFormat: state.format, lang: m[1]!, voice: m[2]!, shortVoice,
        pitch: m[3]!, rate: m[4]!, volume: m[5]!, text, at: performance.now(),
      });
      state.active = requestId;
      void answer(ws, state, requestId, text, requestFaults.shift());
    });
  });

  async function answer(ws: WebSocket, state: SocketState, id: string, text: string, fault: EdgeFault | undefined): Promise<void> {
    const open = (): boolean => ws.readyState === ws.OPEN && state.active === id;
    const json = 'application/json; charset=utf-8';
    const sendText = (path: string, body: unknown): void => {
      // Header order varies between messages on the real service.
      const hs: [string, string][] = next() < 0.5 ? [['X-RequestId', id], ['Content-Type', json], ['Path', path]] : [['Path', path], ['X-RequestId', id], ['Content-Type', json]];
      ws.send(textMessage(hs, JSON.stringify(body)));
    };
    if (fault?.kind === 'close' && (fault.afterFrames ?? 0) < 0) return ws.close(fault.code, fault.reason);
    if (fake.firstDelayMs) await sleep(fake.firstDelayMs);
    if (!open()) return;
    sendText('turn.start', { context: { serviceTag: 'fake0123456789' } });
    sendText('response', { context: { serviceTag: 'fake0123456789' }, audio: { type: 'inline', streamId: 'FAKE0000000000000000000000000000' } });
    const audio = fault?.kind === 'no-audio' || !FORMATS.has(state.format ?? '') ? Buffer.alloc(0) : mp3For(text);
    const stopAt = fault && 'afterFrames' in fault ? (fault.afterFrames ?? 2) : Infinity;
    const streamId = 'FAKE0000000000000000000000000000';
    let sent = 0;
    for (let at = 0; at < audio.length; ) {
      if (sent === stopAt) break;
      // Piece sizes ignore MP3 frame boundaries on purpose (the client must concatenate).
      const size = sent === 0 ? 100 + Math.floor(next() * 300) : 500 + Math.floor(next() * 3000);
      if (sent === 0 || next() < 0.3) {
        const offset = Math.round((at / audio.length) * secondsFor(text) * 1e7);
        sendText('audio.metadata', { Metadata: [{ Type: 'WordBoundary', Data: { Offset: offset, Duration: 2_500_000, text: { Text: 'word', Length: 4, BoundaryType: 'WordBoundary' } } }] });
      }
      const hs: [string, string][] = [['X-RequestId', id], ['Content-Type', 'audio/mpeg'], ['X-StreamId', streamId], ['Path', 'audio']];
      ws.send(binaryMessage(next() < 0.5 ? hs : [hs[3]!, hs[0]!, hs[2]!, hs[1]!], audio.subarray(at, at + size)));
      at += size;
      sent++;
      await sleep(fake.frameGapMs);
      if (!open()) return;
    }
    if (fault?.kind === 'close') return ws.close(fault.code, fault.reason);
    if (fault?.kind === 'stall') return; // quiet until the client gives up
    if (fault?.kind === 'disconnect') {
      await sleep(5); // let what was sent leave first, as a crashing server's last writes would
      state.tcp.destroy();
      return;
    }
    ws.send(binaryMessage([['X-RequestId', id], ['Path', 'audio']], new Uint8Array(0)));
    state.active = undefined;
    sendText('turn.end', {});
  }

  return Object.assign(fake, {
    url: `ws://127.0.0.1:${port}${PATH}`,
    rejected,
    requests,
    closes,
    inject(f: EdgeFault, times = 1) {
      for (let i = 0; i < times; i++) (f.kind === 'upgrade' ? upgradeFaults : requestFaults).push(f);
    },
    mp3For,
    dropIdle(code = 1000) {
      for (const [ws, s] of sockets) if (!s.active) ws.close(code, 'Idle timeout');
    },
    waitForClose(since: number, timeoutMs = 2000) {
      const find = (): EdgeClose | undefined => closes.find((c) => c.at >= since);
      return new Promise<EdgeClose>((resolve, reject) => {
        const hit = find();
        if (hit) return resolve(hit);
        const timer = setTimeout(() => {
          closeWaiters.delete(w);
          reject(new Error(`edge fake: no close within ${timeoutMs} ms`));
        }, timeoutMs);
        const w = (): void => {
          const c = find();
          if (!c) return;
          clearTimeout(timer);
          closeWaiters.delete(w);
          resolve(c);
        };
        closeWaiters.add(w);
      });
    },
    async close() {
      for (const ws of sockets.keys()) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  });
}
