/**
 * A fake Volcengine "bigmodel" streaming ASR (vendors.md §6): a real WebSocket server on
 * 127.0.0.1:0 speaking the binary framing, for tests.
 *
 *   const fake = await startVolcAsrFake({ text: ['你好，', '我是小智。'] });
 *   // provider config: { type: 'volc', url: fake.url, appid: fake.appId, access_token: fake.accessKey }
 *   fake.sessions[0].audio      // the PCM it received, gunzipped and concatenated
 *   fake.faults.stallAfterPackets = 2;   // inject failures (see VolcAsrFaults)
 *   await fake.close();
 *
 * Behaviour: checks the upgrade headers (401/403 + body on mismatch); the first message must be
 * a gzip or plain JSON full client request with a valid audio block (else error frame 45000001
 * and close); accepts both numbering styles and checks the sequence; each audio packet reveals
 * `charsPerPacket` more characters of the scripted text as `definite:false` partials (only on
 * change in `async` mode), a sentence turns definite once passed; the packet flagged last gets
 * the final response (flags 0b0011, whole text definite) and the server closes. Responses are
 * compressed as the client's request was, unless `responseCompression` says otherwise.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { WebSocket } from 'ws';
import { checkV3, startVolcServer, type UpgradeRefusal } from './volc-server.js';
import { errorFrame, jsonOf, parseClientFrame, serverFrame, WireViolation, type WireFrame } from './volc-wire.js';

export interface VolcAsrFakeOptions {
  appId?: string;
  accessKey?: string;
  resourceId?: string;
  /** Sentences the "recognizer" hears; a function picks per session (by index). */
  text?: string | readonly string[] | ((session: number) => string | readonly string[]);
  charsPerPacket?: number;
  /** Answer only when the text changed (the bigmodel_async endpoint). */
  async?: boolean;
  responseCompression?: 'mirror' | 'gzip' | 'none';
  /** Sign of the final response's sequence (the vendor example shows positive, demos negative). */
  finalSequence?: 'negative' | 'positive';
}

export interface VolcAsrFaults {
  rejectUpgrade?: UpgradeRefusal | null;
  /** Error frame (code + {"error"}) after this many audio packets, then close. */
  errorAfterPackets?: { packets: number; code: number; message: string } | null;
  /** Stop answering after this many packets (no final ever comes). */
  stallAfterPackets?: number | null;
  /** Drop the TCP connection (no close frame) after this many packets. */
  disconnectAfterPackets?: number | null;
  /** A WebSocket text frame with an error string after this many packets. */
  textErrorAfterPackets?: { packets: number; message: string } | null;
  /** On the last packet, close the socket normally without sending the final. */
  closeBeforeFinal?: boolean;
  /** Error 45000081 when no packet arrives for this long. */
  idleTimeoutMs?: number | null;
}

export interface AsrSessionRecord {
  headers: IncomingHttpHeaders;
  path: string;
  request: Record<string, unknown> | null;
  /** All audio received, gunzipped, in order. */
  audio: Buffer;
  packets: number;
  /** Per client frame: type, flags, sequence, compression, wire payload size. */
  frames: { type: number; flags: number; sequence?: number; compression: number; size: number }[];
  lastReceived: boolean;
  responses: Record<string, unknown>[];
  violations: string[];
  /** performance.now() when the client's close (or drop) reached the server. */
  closedAt: number | null;
  closeCode: number | null;
}

export interface VolcAsrFake {
  readonly url: string;
  readonly port: number;
  readonly appId: string;
  readonly accessKey: string;
  readonly resourceId: string;
  /** WebSocket upgrades completed. */
  readonly handshakes: number;
  /** Upgrade requests, refused ones included. */
  readonly attempts: number;
  readonly sessions: AsrSessionRecord[];
  readonly options: VolcAsrFakeOptions;
  faults: VolcAsrFaults;
  /** Resolves when session `i` exists and its socket has closed. */
  closed(i: number, timeoutMs?: number): Promise<AsrSessionRecord>;
  close(): Promise<void>;
}

export async function startVolcAsrFake(options: VolcAsrFakeOptions = {}): Promise<VolcAsrFake> {
  const appId = options.appId ?? '123456789';
  const accessKey = options.accessKey ?? 'fake-access-token';
  const resourceId = options.resourceId ?? 'volc.bigasr.sauc.duration';
  const sessions: AsrSessionRecord[] = [];
  const fake = { faults: {} as VolcAsrFaults };
  const server = await startVolcServer(
    (_path, headers) => fake.faults.rejectUpgrade ?? checkV3(headers, { appId, accessKey, resourceId, appIdHeaders: ['X-Api-App-Key'] }),
    (ws, headers, path) => serve(ws, headers, path),
  );

  function script(i: number): string[] {
    const t = typeof options.text === 'function' ? options.text(i) : (options.text ?? '你好小智');
    return typeof t === 'string' ? [t] : [...t];
  }

  function serve(ws: WebSocket, headers: IncomingHttpHeaders, path: string): void {
    const index = sessions.length;
    const rec: AsrSessionRecord = { headers, path, request: null, audio: Buffer.alloc(0), packets: 0, frames: [], lastReceived: false, responses: [], violations: [], closedAt: null, closeCode: null };
    sessions.push(rec);
    const sentences = script(index);
    const audio: Buffer[] = [];
    let gzipReplies = false;
    let explicit: boolean | null = null; // numbering style, fixed by the first frame
    let expectSeq = 1;
    let respSeq = 0;
    let lastResult = '';
    let resultType = 'full';
    const sentDefinite = new Set<number>();
    let dead = false;
    let idle: NodeJS.Timeout | undefined;
    const charsPer = options.charsPerPacket ?? 2;

    const send = (b: Buffer | string): void => {
      if (!dead && ws.readyState === ws.OPEN) ws.send(b, { binary: typeof b !== 'string' });
    };
    const fail = (code: number, message: string): void => {
      send(errorFrame(code, message, gzipReplies));
      dead = true;
      clearTimeout(idle);
      ws.close(1000);
    };
    const armIdle = (): void => {
      clearTimeout(idle);
      const ms = fake.faults.idleTimeoutMs;
      if (ms) idle = setTimeout(() => fail(45_000_081, 'timeout waiting next packet'), ms);
    };
    ws.on('close', (code: number) => {
      rec.closedAt = performance.now();
      rec.closeCode = code;
      dead = true;
      clearTimeout(idle);
    });

    // The response for `revealed` characters; `definite` lists the sentences it closes, which
    // single mode must not repeat once sent (see respond).
    const result = (revealed: number, final: boolean): { body: Record<string, unknown>; definite: number[] } => {
      const utterances: Record<string, unknown>[] = [];
      const definiteNow: number[] = [];
      let at = 0;
      let whole = '';
      sentences.forEach((s, i) => {
        const shown = Math.max(0, Math.min(s.length, revealed - at));
        const startMs = i * 1000;
        at += s.length;
        if (shown === 0) return;
        const definite = final || revealed > at; // passed entirely: the sentence ended
        if (definite && resultType === 'single' && sentDefinite.has(i)) return;
        if (definite) definiteNow.push(i);
        whole += s.slice(0, shown);
        utterances.push({ text: s.slice(0, shown), start_time: startMs, end_time: startMs + 800, definite });
      });
      const duration = Math.round(Buffer.concat(audio).length / 32);
      return { body: { audio_info: { duration }, result: { text: whole, utterances } }, definite: definiteNow };
    };

    const respond = ({ body, definite }: { body: Record<string, unknown>; definite: number[] }, last: boolean): void => {
      for (const i of definite) sentDefinite.add(i);
      respSeq++;
      rec.responses.push(body);
      const seq = last && (options.finalSequence ?? 'negative') === 'negative' ? -respSeq : respSeq;
      send(serverFrame({ type: 0b1001, flags: last ? 0b0011 : 0b0001, sequence: seq, gzip: gzipReplies, payload: body }));
    };

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (dead) return;
      let f: WireFrame;
      try {
        if (!isBinary) throw new WireViolation('text frame from the client');
        f = parseClientFrame(data);
        rec.frames.push({ type: f.type, flags: f.flags, ...(f.sequence !== undefined ? { sequence: f.sequence } : {}), compression: f.compression, size: f.wirePayload.length });
        if (f.event !== undefined) throw new WireViolation('event field in an ASR frame');
        // Numbering: one style per connection; explicit sequences count 1, 2, … and the last is negative.
        const hasSeq = (f.flags & 1) === 1;
        if (explicit === null) explicit = hasSeq;
        else if (explicit !== hasSeq) throw new WireViolation('numbering style changed mid-stream');
        const last = (f.flags & 0b10) !== 0;
        if (explicit) {
          const want = last ? -expectSeq : expectSeq;
          if (f.sequence !== want) throw new WireViolation(`sequence ${f.sequence}, expected ${want}`);
        }
        expectSeq++;
        if (!rec.request) return onRequest(f);
        if (f.type !== 0b0010) throw new WireViolation(`message type ${f.type} after the full request`);
        if (rec.lastReceived) throw new WireViolation('audio after the last packet');
        onAudio(f, last);
      } catch (e) {
        if (!(e instanceof WireViolation)) throw e;
        rec.violations.push(e.message);
        fail(45_000_001, e.message);
      }
    });

    function onRequest(f: WireFrame): void {
      if (f.type !== 0b0001) throw new WireViolation(`first message has type ${f.type}, not a full client request`);
      const req = jsonOf(f);
      rec.request = req;
      gzipReplies = options.responseCompression === 'gzip' || ((options.responseCompression ?? 'mirror') === 'mirror' && f.compression === 1);
      const a = (req.audio ?? {}) as Record<string, unknown>;
      const r = (req.request ?? {}) as Record<string, unknown>;
      if (!['pcm', 'wav', 'ogg', 'mp3'].includes(String(a.format))) throw new WireViolation(`audio.format ${String(a.format)}`);
      if (a.rate !== undefined && a.rate !== 16_000) throw new WireViolation(`audio.rate ${String(a.rate)}`);
      if (a.bits !== undefined && a.bits !== 16) throw new WireViolation(`audio.bits ${String(a.bits)}`);
      if (a.channel !== undefined && a.channel !== 1 && a.channel !== 2) throw new WireViolation(`audio.channel ${String(a.channel)}`);
      if (r.model_name !== 'bigmodel') throw new WireViolation('request.model_name must be "bigmodel"');
      resultType = r.result_type === 'single' ? 'single' : 'full';
      armIdle();
    }

    function onAudio(f: WireFrame, last: boolean): void {
      armIdle();
      audio.push(f.payload);
      rec.audio = Buffer.concat(audio);
      if (f.payload.length > 0) rec.packets++;
      const n = rec.packets;
      const faults = fake.faults;
      if (faults.disconnectAfterPackets != null && n >= faults.disconnectAfterPackets) {
        dead = true;
        ws.terminate();
        return;
      }
      if (faults.errorAfterPackets && n >= faults.errorAfterPackets.packets) return fail(faults.errorAfterPackets.code, faults.errorAfterPackets.message);
      if (faults.textErrorAfterPackets && n >= faults.textErrorAfterPackets.packets) {
        send(faults.textErrorAfterPackets.message);
        dead = true;
        ws.close(1011);
        return;
      }
      if (faults.stallAfterPackets != null && n >= faults.stallAfterPackets) {
        clearTimeout(idle);
        return;
      }
      if (last) {
        rec.lastReceived = true;
        clearTimeout(idle);
        if (faults.closeBeforeFinal) {
          dead = true;
          ws.close(1000);
          return;
        }
        const total = sentences.reduce((k, s) => k + s.length, 0);
        respond(result(total, true), true);
        dead = true;
        ws.close(1000);
        return;
      }
      const r = result(n * charsPer, false);
      const shape = JSON.stringify(r.body.result);
      if (options.async && shape === lastResult) return;
      lastResult = shape;
      respond(r, false);
    }
  }

  return {
    url: `ws://127.0.0.1:${server.port}/api/v3/sauc/bigmodel_async`,
    port: server.port,
    appId,
    accessKey,
    resourceId,
    get handshakes() {
      return server.handshakes;
    },
    get attempts() {
      return server.attempts;
    },
    sessions,
    options,
    get faults() {
      return fake.faults;
    },
    set faults(v: VolcAsrFaults) {
      fake.faults = v;
    },
    async closed(i, timeoutMs = 5000) {
      const until = performance.now() + timeoutMs;
      for (;;) {
        const s = sessions[i];
        if (s && s.closedAt !== null) return s;
        if (performance.now() > until) throw new Error(`fake ASR session ${i} did not close within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 2));
      }
    },
    close: () => server.close(),
  };
}
