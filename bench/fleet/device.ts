/**
 * One simulated device's connection: the OTA check, the WebSocket upgrade with the firmware's
 * headers (protocol.md §3.3: Authorization only when there is a token), the hello exchange with
 * the firmware's deadline, the device's MCP server (§8), and the routing of what the server sends
 * to the conversation (`conversation.ts`) and the downlink checks (`downlink.ts`). Everything it
 * observes goes into the shared `Metrics`.
 */
import WebSocket from 'ws';
import type { Dispatcher } from 'undici';
import { timed, type Scheduler } from './scheduler.js';
import type { Metrics } from './metrics.js';
import { helloAudio, parseServerText, KNOWN_SERVER_TYPES, type Problem } from './checks.js';
import { handleMcp, initialToolState, toolCatalog, type DeviceToolState } from './mcp-device.js';
import { authorization, checkVersion } from './ota-client.js';
import { OPUS_RATES } from './opus-packet.js';
import { UPLINK_FRAME_MS, type SpeechSet } from './speech.js';
import { Downlink } from './downlink.js';
import { Conversation } from './conversation.js';

export type ListenMode = 'auto' | 'manual' | 'realtime';

export interface DeviceOptions {
  wsUrl: string | undefined;
  otaUrl: string | undefined;
  token: string | undefined;
  authOff: boolean;
  protocolVersion: 1 | 2 | 3 | undefined;
  listenMode: ListenMode;
  /** Talk (run the conversation loop) or just stay connected. */
  talk: boolean;
  replyTimeoutMs: number;
  helloTimeoutMs: number;
  mcpExtraTools: number;
}

export interface DeviceEnv {
  readonly sched: Scheduler;
  readonly metrics: Metrics;
  readonly opts: DeviceOptions;
  readonly dispatcher: Dispatcher;
  /** Speech framed for a protocol version (undefined when not talking). */
  speech(version: 1 | 2 | 3): SpeechSet | undefined;
  readonly rand: () => number;
}

type Phase = 'new' | 'ota' | 'connecting' | 'hello' | 'ready' | 'closed';
const BINARY = { binary: true } as const;

export class SimDevice {
  phase: Phase = 'new';
  ws: WebSocket | undefined;
  version: 1 | 2 | 3 = 1;
  sessionId = '';
  readonly down: Downlink;
  #stopping = false;
  #helloResolve: (() => void) | undefined;
  #helloSentAt = 0;
  #everConnected = false;
  #tools: DeviceToolState | undefined;
  #listed = false;
  #initialized = false;
  readonly #helloTimer = timed(() => this.#helloTimeout());
  readonly #talk: Conversation;

  constructor(
    readonly index: number,
    readonly mac: string,
    readonly uuid: string,
    readonly env: DeviceEnv,
    decode: boolean,
  ) {
    this.down = new Downlink(this, env.metrics, decode);
    this.#talk = new Conversation(this, env, this.down, index);
  }

  get connected(): boolean {
    return this.phase === 'ready';
  }

  // ConversationLink
  get live(): boolean {
    return this.phase === 'ready' && !this.#stopping;
  }

  sendJson(v: Record<string, unknown>): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(v));
  }

  sendAudio(frame: Buffer): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(frame, BINARY);
    return true;
  }

  /** OTA (when configured), connect, hello. Resolves once the hello is answered or the device gave up. */
  async start(): Promise<void> {
    const { opts, metrics } = this.env;
    metrics.started++;
    let url = opts.wsUrl;
    let token = opts.token;
    let version = opts.protocolVersion;
    if (opts.otaUrl) {
      this.phase = 'ota';
      const t0 = performance.now();
      try {
        const r = await checkVersion(opts.otaUrl, this.mac, this.uuid, this.env.dispatcher);
        for (const p of r.problems) metrics.violation(this.mac, p);
        if (r.error) return this.#fail('ota', r.error);
        metrics.otaOk++;
        metrics.h.otaMs.record(performance.now() - t0);
        url ??= r.wsUrl;
        token ??= r.token;
        version ??= r.version;
      } catch (e) {
        return this.#fail('ota', `OTA request failed: ${(e as Error).message}`);
      }
    }
    if (this.#stopping) return;
    if (!url) return this.#fail('config', 'no WebSocket URL (give --url, or --ota whose reply has websocket.url)');
    this.version = version ?? 1;
    const auth = opts.authOff ? undefined : authorization(token);
    const headers: Record<string, string> = {
      ...(auth ? { Authorization: auth } : {}),
      'Client-Id': this.uuid,
      'Device-Id': this.mac,
      'Protocol-Version': String(this.version),
    };
    this.phase = 'connecting';
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: 10_000, maxPayload: 1 << 20, followRedirects: false });
      } catch (e) {
        this.#fail('connect', (e as Error).message);
        return resolve();
      }
      this.ws = ws;
      ws.on('unexpected-response', (_req, res) => {
        this.#fail('upgrade-refused', `upgrade refused with HTTP ${res.statusCode}`);
        res.resume();
        ws.terminate();
        resolve();
      });
      ws.on('error', (e: NodeJS.ErrnoException) => {
        if (this.phase === 'connecting') this.#fail('connect', `${e.code ?? ''} ${e.message}`.trim());
        else if (!this.#stopping) metrics.error('socket', e.message);
        resolve();
      });
      ws.on('open', () => {
        metrics.h.connectMs.record(performance.now() - t0);
        this.phase = 'hello';
        this.sendJson({
          type: 'hello',
          version: this.version,
          features: { mcp: true },
          transport: 'websocket',
          audio_params: { format: 'opus', sample_rate: 16000, channels: 1, frame_duration: UPLINK_FRAME_MS },
        });
        this.env.sched.after(this.#helloTimer, opts.helloTimeoutMs);
        this.#helloResolve = resolve;
        this.#helloSentAt = performance.now();
      });
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) this.down.frame(data, performance.now());
        else this.#onText(data.toString('utf8'), performance.now());
      });
      ws.on('close', (code: number) => {
        const was = this.phase;
        this.phase = 'closed';
        this.#halt();
        if (was === 'ready') metrics.connectedDelta(-1);
        if (!this.#stopping && this.#everConnected) {
          metrics.closedByServer++;
          metrics.closed(code);
        }
        resolve();
      });
    });
  }

  /** Drops the connection the way a device does: no close frame, no goodbye (§3.6). */
  stop(): void {
    this.#stopping = true;
    this.#halt();
    this.ws?.terminate();
  }

  violation(p: Problem): void {
    this.env.metrics.violation(this.mac, p);
  }

  #fail(kind: string, detail: string): void {
    this.env.metrics.error(kind, detail);
    this.phase = 'closed';
    this.#halt();
  }

  #halt(): void {
    this.env.sched.cancel(this.#helloTimer);
    this.#talk.halt();
  }

  #helloTimeout(): void {
    if (this.phase !== 'hello') return;
    this.violation({ kind: 'hello-timeout', detail: `no server hello within ${this.env.opts.helloTimeoutMs} ms` });
    this.#helloResolve?.();
    this.stop();
  }

  #onText(text: string, now: number): void {
    const parsed = parseServerText(text);
    for (const p of parsed.problems) this.violation(p);
    if (!parsed.ok) return;
    const { msg, type } = parsed;
    this.down.activity(now);
    switch (type) {
      case 'hello':
        return this.#onHello(msg, parsed.problems, now);
      case 'mcp':
        return this.#onMcp(msg['payload']);
      case 'stt':
        return this.#talk.stt(now);
      case 'tts':
        if (msg['state'] === 'start') this.#talk.ttsStart(now);
        else if (msg['state'] === 'stop') this.#talk.ttsStop(now);
        return;
      default:
        if (!KNOWN_SERVER_TYPES.has(type)) this.env.metrics.unknownType(type);
    }
  }

  #onHello(msg: Record<string, unknown>, problems: Problem[], now: number): void {
    if (this.phase !== 'hello') return; // a repeated hello changes nothing we model
    // A hello without a string transport crashes current firmware; another transport is ignored
    // and the device times out (§4.2). Either way this device cannot go on.
    if (problems.some((p) => p.kind === 'hello-missing-transport' || p.kind === 'hello-wrong-transport')) {
      this.#helloResolve?.();
      this.stop();
      return;
    }
    if (typeof msg['session_id'] === 'string') this.sessionId = msg['session_id'];
    const audio = helloAudio(msg);
    if (!OPUS_RATES.has(audio.sampleRate)) {
      this.violation({ kind: 'hello-bad-audio-params', detail: `sample_rate ${audio.sampleRate} cannot be decoded by Opus` });
      audio.sampleRate = 24000;
    }
    this.down.configure(audio.sampleRate, audio.frameMs);
    const { metrics } = this.env;
    this.env.sched.cancel(this.#helloTimer);
    this.phase = 'ready';
    this.#everConnected = true;
    metrics.helloOk++;
    metrics.framings.set(this.version, (metrics.framings.get(this.version) ?? 0) + 1);
    metrics.connectedDelta(1);
    metrics.h.helloMs.record(now - this.#helloSentAt);
    this.#helloResolve?.();
    this.#talk.begin(now, this.env.speech(this.version));
  }

  #onMcp(payload: unknown): void {
    const { metrics, opts } = this.env;
    this.#tools ??= initialToolState();
    const out = handleMcp(payload, this.#tools, toolCatalog(opts.mcpExtraTools));
    if (out.kind === 'ignored') {
      metrics.mcpIgnored++;
      this.violation({ kind: 'mcp-not-answerable', detail: `the firmware drops this MCP request silently: ${out.why}` });
      return;
    }
    if (out.kind === 'notification') return;
    this.sendJson({ session_id: this.sessionId, type: 'mcp', payload: out.payload });
    const result = out.payload['result'] as Record<string, unknown> | undefined;
    if (out.method === 'initialize' && !this.#initialized) {
      this.#initialized = true;
      metrics.mcpInitialized++;
    } else if (out.method === 'tools/list' && !this.#listed && (out.payload['error'] !== undefined || result?.['nextCursor'] === undefined)) {
      this.#listed = true;
      metrics.mcpListed++;
    } else if (out.method === 'tools/call') metrics.mcpCalls++;
  }
}
