/**
 * A fake Volcengine v3 bidirectional TTS (vendors.md §7.3): a real WebSocket server on
 * 127.0.0.1:0 speaking the event framing, for tests.
 *
 *   const fake = await startVolcTtsFake({ sampleRate: 24000 });
 *   // provider config: { type: 'volc', url: fake.url, appid: fake.appId, access_token: fake.accessKey }
 *   fake.handshakes             // WebSocket upgrades: connection reuse shows here
 *   fake.sessions[0].texts      // TaskRequest texts received
 *   fake.faults.stallAfterChunks = 3;   // inject failures (see VolcTtsFaults)
 *
 * Behaviour: checks the upgrade headers; enforces the state machine (StartConnection first;
 * one session at a time; TaskRequest only for the started session; unique session ids) with
 * SessionFailed or an error frame; validates StartSession (namespace, pcm, `sample_rate` equal to
 * the expected rate, `additions` a JSON string). Each TaskRequest text becomes TTSSentenceStart,
 * a 440 Hz sine of `msPerChar` per character in TTSResponse frames of arbitrary (odd) sizes, and
 * TTSSentenceEnd; FinishSession → SessionFinished once the audio is out; CancelSession stops the
 * audio and answers SessionCanceled; FinishConnection → ConnectionFinished and close.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { WebSocket } from 'ws';
import { checkV3, startVolcServer, type UpgradeRefusal } from './volc-server.js';
import { errorFrame, jsonOf, parseClientFrame, serverFrame, sine, splitArbitrary, WireViolation, type WireFrame } from './volc-wire.js';

export interface VolcTtsFakeOptions {
  appId?: string;
  accessKey?: string;
  resourceId?: string;
  apiKey?: string;
  /** The rate StartSession must ask for. */
  sampleRate?: number;
  msPerChar?: number;
  chunkBytes?: [min: number, max: number];
  /** Pause between audio frames (0 = as fast as the socket takes them, yielding between frames). */
  chunkDelayMs?: number;
  /** Where TTSSentenceStart puts the text (§7.3.4: UNCERTAIN which the service uses). */
  sentenceStartShape?: 'res_params' | 'top';
  gzipJson?: boolean;
}

export interface VolcTtsFaults {
  rejectUpgrade?: UpgradeRefusal | null;
  /** Answer StartConnection with ConnectionFailed and this payload. */
  connectionFailed?: { status_code: number; message: string } | null;
  /** Answer this event with an error frame (then close). */
  errorFrame?: { on: 'StartSession' | 'TaskRequest'; code: number; message: string } | null;
  sessionFailedAfterChunks?: { chunks: number; status_code: number; message: string } | null;
  /** Send nothing more for the session after this many audio frames. */
  stallAfterChunks?: number | null;
  /** Drop the TCP connection after this many audio frames. */
  disconnectAfterChunks?: number | null;
  /** Send a text frame with this message instead of SessionStarted. */
  textFrameError?: string | null;
  /** Audio frames of a cancelled session still sent, late, right after the next SessionStarted. */
  staleFramesAfterCancel?: number;
  /** Do not answer CancelSession. */
  ignoreCancel?: boolean;
  /** Close the socket when StartSession arrives on a connection that already carried one
   *  (what a client sees when an idle connection died unnoticed). */
  closeOnReuse?: boolean;
}

export interface TtsSessionRecord {
  id: string;
  connection: number;
  start: Record<string, unknown>;
  texts: string[];
  sampleRate: number;
  audioFrames: number;
  audioBytes: number;
  finishReceived: boolean;
  cancelReceived: boolean;
  /** 'finished' | 'canceled' | 'failed' | 'open' */
  outcome: string;
  firstTextAt: number | null;
  firstAudioAt: number | null;
  cancelAt: number | null;
}

export interface TtsConnectionRecord {
  headers: IncomingHttpHeaders;
  connectId: string;
  events: number[];
  violations: string[];
  closedAt: number | null;
}

export interface VolcTtsFake {
  readonly url: string;
  readonly appId: string;
  readonly accessKey: string;
  readonly resourceId: string;
  readonly handshakes: number;
  readonly attempts: number;
  readonly connections: TtsConnectionRecord[];
  readonly sessions: TtsSessionRecord[];
  readonly openSockets: number;
  faults: VolcTtsFaults;
  /** Closes every open connection from the server side (an idle timeout, a redeploy). */
  dropAll(): void;
  close(): Promise<void>;
}

const OK = 20_000_000;
const BAD = 45_000_001;
const EV = { StartConnection: 1, FinishConnection: 2, StartSession: 100, CancelSession: 101, FinishSession: 102, TaskRequest: 200 } as const;

export async function startVolcTtsFake(options: VolcTtsFakeOptions = {}): Promise<VolcTtsFake> {
  const appId = options.appId ?? '123456789';
  const accessKey = options.accessKey ?? 'fake-access-token';
  const resourceId = options.resourceId ?? 'seed-tts-1.0';
  const wantRate = options.sampleRate ?? 24_000;
  const connections: TtsConnectionRecord[] = [];
  const sessions: TtsSessionRecord[] = [];
  const usedIds = new Set<string>();
  const fake = { faults: {} as VolcTtsFaults };
  const server = await startVolcServer(
    (_p, headers) =>
      fake.faults.rejectUpgrade ?? checkV3(headers, { appId, accessKey, resourceId, apiKey: options.apiKey, appIdHeaders: ['X-Api-App-Key', 'X-Api-App-Id'] }),
    (ws, headers) => serve(ws, headers),
  );

  function serve(ws: WebSocket, headers: IncomingHttpHeaders): void {
    const conn: TtsConnectionRecord = { headers, connectId: `conn-${connections.length + 1}`, events: [], violations: [], closedAt: null };
    const connIndex = connections.length;
    connections.push(conn);
    let started = false;
    let dead = false;
    let stale: { id: string; frames: number } | null = null; // owed by a cancelled session
    let active: { rec: TtsSessionRecord; queue: string[]; pumping: boolean; phase: number; stopped: boolean; seed: number } | null = null;
    const json = (event: number, payload: object, ids: { sessionId?: string; connectId?: string }): Buffer =>
      serverFrame({ type: 0b1001, event, ...ids, gzip: options.gzipJson ?? false, payload });
    const send = (b: Buffer | string): void => {
      if (!dead && ws.readyState === ws.OPEN) ws.send(b, { binary: typeof b !== 'string' });
    };
    const die = (b: Buffer | string, code = 1000): void => {
      send(b);
      dead = true;
      if (active) active.stopped = true;
      ws.close(code);
    };
    ws.on('close', () => {
      conn.closedAt = performance.now();
      dead = true;
      if (active) active.stopped = true;
    });

    const sessionFailed = (id: string, message: string, status = BAD): void => send(json(153, { status_code: status, message }, { sessionId: id }));
    const end = (outcome: 'finished' | 'canceled' | 'failed'): void => {
      if (!active) return;
      active.rec.outcome = outcome;
      active.stopped = true;
      active = null;
    };

    async function pump(): Promise<void> {
      const s = active;
      if (!s || s.pumping) return;
      s.pumping = true;
      const rate = s.rec.sampleRate;
      while (!s.stopped && s.queue.length > 0) {
        const text = s.queue.shift()!;
        const sentence = options.sentenceStartShape === 'top' ? { text } : { res_params: { text } };
        send(json(350, sentence, { sessionId: s.rec.id }));
        const audio = sine(rate, Math.max(1, [...text].length) * (options.msPerChar ?? 40), s.phase);
        s.phase = audio.phase;
        const [min, max] = options.chunkBytes ?? [701, 2999];
        for (const piece of splitArbitrary(audio.pcm, min, max, s.seed++)) {
          await new Promise((r) => (options.chunkDelayMs ? setTimeout(r, options.chunkDelayMs) : setImmediate(r)));
          if (s.stopped || dead) return;
          const f = fake.faults;
          if (f.disconnectAfterChunks != null && s.rec.audioFrames >= f.disconnectAfterChunks) {
            dead = true;
            ws.terminate();
            return;
          }
          if (f.stallAfterChunks != null && s.rec.audioFrames >= f.stallAfterChunks) return; // silence, forever
          if (f.sessionFailedAfterChunks && s.rec.audioFrames >= f.sessionFailedAfterChunks.chunks) {
            sessionFailed(s.rec.id, f.sessionFailedAfterChunks.message, f.sessionFailedAfterChunks.status_code);
            end('failed');
            return;
          }
          s.rec.audioFrames++;
          s.rec.audioBytes += piece.length;
          s.rec.firstAudioAt ??= performance.now();
          send(serverFrame({ type: 0b1011, event: 352, sessionId: s.rec.id, serialization: 0, payload: Buffer.from(piece) }));
        }
        send(json(351, { res_params: { text } }, { sessionId: s.rec.id }));
      }
      s.pumping = false;
      if (!s.stopped && s.rec.finishReceived && s.queue.length === 0) {
        send(json(152, { status_code: OK, message: 'ok', usage: { text_words: s.rec.texts.join('').length } }, { sessionId: s.rec.id }));
        end('finished');
      }
    }

    function staleAudio(id: string, n: number): void {
      const { pcm } = sine(wantRate, 20);
      for (let i = 0; i < n; i++) send(serverFrame({ type: 0b1011, event: 352, sessionId: id, serialization: 0, payload: pcm }));
    }

    function onStartSession(f: WireFrame): void {
      const id = f.sessionId ?? '';
      const body = jsonOf(f);
      if (fake.faults.errorFrame?.on === 'StartSession') return die(errorFrame(fake.faults.errorFrame.code, fake.faults.errorFrame.message));
      if (fake.faults.closeOnReuse && sessions.some((x) => x.connection === connIndex)) {
        dead = true;
        ws.terminate();
        return;
      }
      if (active) return sessionFailed(id, 'a session is already active on this connection');
      if (id === '' || usedIds.has(id)) return sessionFailed(id, 'session id missing or reused');
      usedIds.add(id);
      const p = (body.req_params ?? {}) as Record<string, unknown>;
      const a = (p.audio_params ?? {}) as Record<string, unknown>;
      const problems: string[] = [];
      if (body.namespace !== 'BidirectionalTTS') problems.push(`namespace ${String(body.namespace)}`);
      if (body.event !== 100) problems.push('event field must be 100');
      if (typeof p.speaker !== 'string' || p.speaker === '') problems.push('req_params.speaker missing');
      if (a.format !== 'pcm') problems.push(`audio_params.format ${String(a.format)} (the fake serves pcm)`);
      if (a.sample_rate !== wantRate) problems.push(`audio_params.sample_rate ${String(a.sample_rate)}, expected ${wantRate}`);
      if (p.additions !== undefined) {
        if (typeof p.additions !== 'string') problems.push('additions must be a JSON string');
        else
          try {
            JSON.parse(p.additions);
          } catch {
            problems.push('additions is not JSON');
          }
      }
      const rec: TtsSessionRecord = {
        id, connection: connIndex, start: body, texts: [], sampleRate: Number(a.sample_rate), audioFrames: 0, audioBytes: 0,
        finishReceived: false, cancelReceived: false, outcome: 'open', firstTextAt: null, firstAudioAt: null, cancelAt: null,
      };
      sessions.push(rec);
      if (problems.length > 0) {
        conn.violations.push(...problems);
        rec.outcome = 'failed';
        return sessionFailed(id, problems.join('; '));
      }
      if (fake.faults.textFrameError) return die(fake.faults.textFrameError, 1011);
      active = { rec, queue: [], pumping: false, phase: 0, stopped: false, seed: sessions.length * 7919 };
      send(json(150, {}, { sessionId: id }));
      if (stale) staleAudio(stale.id, stale.frames);
      stale = null;
    }

    function onSessionEvent(f: WireFrame): void {
      const id = f.sessionId ?? '';
      const s = active;
      if (!s || s.rec.id !== id) return sessionFailed(id, `event ${f.event} for a session that is not active`);
      if (f.event === EV.TaskRequest) {
        if (fake.faults.errorFrame?.on === 'TaskRequest') return die(errorFrame(fake.faults.errorFrame.code, fake.faults.errorFrame.message));
        if (s.rec.finishReceived) return sessionFailed(id, 'TaskRequest after FinishSession');
        const text = ((jsonOf(f).req_params ?? {}) as Record<string, unknown>).text;
        if (typeof text !== 'string') return sessionFailed(id, 'req_params.text missing');
        s.rec.texts.push(text);
        s.rec.firstTextAt ??= performance.now();
        s.queue.push(text);
        void pump();
      } else if (f.event === EV.FinishSession) {
        s.rec.finishReceived = true;
        void pump();
      } else if (f.event === EV.CancelSession) {
        s.rec.cancelReceived = true;
        s.rec.cancelAt = performance.now();
        if (fake.faults.ignoreCancel) return;
        end('canceled');
        send(json(151, { status_code: OK, message: 'canceled' }, { sessionId: id }));
        if (fake.faults.staleFramesAfterCancel) stale = { id, frames: fake.faults.staleFramesAfterCancel };
      }
    }

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (dead) return;
      try {
        if (!isBinary) throw new WireViolation('text frame from the client');
        const f = parseClientFrame(data);
        if (f.type !== 0b0001 || f.event === undefined) throw new WireViolation(`expected a full client request with an event, got type ${f.type} flags ${f.flags}`);
        if (f.serialization !== 1) throw new WireViolation('event payloads are JSON');
        conn.events.push(f.event);
        if (f.event === EV.StartConnection) {
          if (started) throw new WireViolation('StartConnection twice');
          started = true;
          if (fake.faults.connectionFailed) return die(json(51, fake.faults.connectionFailed, { connectId: conn.connectId }));
          return send(json(50, {}, { connectId: conn.connectId }));
        }
        if (!started) throw new WireViolation(`event ${f.event} before StartConnection`);
        if (f.event === EV.FinishConnection) return die(json(52, {}, { connectId: conn.connectId }));
        if (f.event === EV.StartSession) return onStartSession(f);
        if (f.event === EV.TaskRequest || f.event === EV.FinishSession || f.event === EV.CancelSession) return onSessionEvent(f);
        throw new WireViolation(`unknown client event ${f.event}`);
      } catch (e) {
        if (!(e instanceof WireViolation)) throw e;
        conn.violations.push(e.message);
        die(errorFrame(BAD, e.message));
      }
    });
  }

  return {
    url: `ws://127.0.0.1:${server.port}/api/v3/tts/bidirection`,
    appId,
    accessKey,
    resourceId,
    get handshakes() {
      return server.handshakes;
    },
    get attempts() {
      return server.attempts;
    },
    get openSockets() {
      return server.sockets.size;
    },
    connections,
    sessions,
    get faults() {
      return fake.faults;
    },
    set faults(v: VolcTtsFaults) {
      fake.faults = v;
    },
    dropAll() {
      for (const ws of server.sockets) ws.close(1001);
    },
    close: () => server.close(),
  };
}
