/**
 * A tiny xiaozhi server for the fleet simulator's tests, speaking the real wire protocol on
 * 127.0.0.1:0 with a `ws` server: hello, an MCP handshake (initialize, paged tools/list), and a
 * reply to every utterance: energy VAD on the decoded uplink Opus, then stt, tts start, a start
 * gap, a 24 kHz Opus tone paced like the reference server (a burst of `lead` frames, then one per
 * frame duration on a monotonic schedule), and tts stop once the tail has played. Every knob that
 * makes it misbehave exists so a test can prove the simulator notices.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import OpusModule from '@discordjs/opus';

const { OpusEncoder } = OpusModule;

export interface FakeBehaviour {
  /** Replaces the server hello (e.g. drop `transport`). */
  hello?(sessionId: string): Record<string, unknown>;
  /** Ask the device's MCP server for initialize and every tools/list page. */
  mcp?: boolean;
  /** Reply to utterances (default true). */
  reply?: boolean;
  /** Frames sent at once before pacing (default 5, like the Python reference server). */
  lead?: number;
  /** Pause between tts start and the first frame, ms (default 40). */
  startGapMs?: number;
  /** Reply length in frames (default 30 ≈ 1.8 s, keeps tests short). */
  replyFrames?: number;
  /** Send the whole reply at once (overflows the device's 40-packet buffer). */
  dumpAll?: boolean;
  /** Pace frames this much slower than real time, ms per frame (makes underruns). */
  slowByMs?: number;
  /** Encode 120 ms packets while announcing 60 ms. */
  longFrames?: boolean;
  /** Send one audio frame before tts start. */
  audioBeforeStart?: boolean;
  /** Send tts stop right after the last frame instead of after playout. */
  earlyStop?: boolean;
  /** Send a message of an unknown type after the hello. */
  unknownType?: boolean;
}

export interface FakeServer {
  url: string;
  port: number;
  /** Uplink frames received, over all connections. */
  framesIn(): number;
  listenMessages(): Record<string, unknown>[];
  mcpReplies(): Record<string, unknown>[];
  close(): Promise<void>;
}

const RATE = 24000;
let tone60: Buffer[] | undefined;
let tone120: Buffer[] | undefined;

/** A 440 Hz tone as Opus frames of `ms` at 24 kHz (encoded once per length). */
function tone(ms: 60 | 120, count: number): Buffer[] {
  const cached = ms === 60 ? tone60 : tone120;
  if (cached && cached.length >= count) return cached.slice(0, count);
  const enc = new OpusEncoder(RATE, 1);
  const n = (RATE * ms) / 1000;
  const frames: Buffer[] = [];
  for (let f = 0; f < count; f++) {
    const pcm = Buffer.alloc(n * 2);
    for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * (f * n + i)) / RATE)), i * 2);
    frames.push(enc.encode(pcm));
  }
  if (ms === 60) tone60 = frames;
  else tone120 = frames;
  return frames;
}

export async function startFakeXiaozhi(b: FakeBehaviour = {}): Promise<FakeServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  let framesIn = 0;
  const listens: Record<string, unknown>[] = [];
  const mcpReplies: Record<string, unknown>[] = [];
  let sessions = 0;

  wss.on('connection', (ws: WebSocket) => {
    const sid = `fake-${++sessions}`;
    const dec = new OpusEncoder(16000, 1);
    let voicedMs = 0;
    let quietMs = 0;
    let replying = false;
    let mcpId = 0;
    const timers = new Set<NodeJS.Timeout>();
    const later = (ms: number, f: () => void) => {
      const t = setTimeout(() => {
        timers.delete(t);
        if (ws.readyState === ws.OPEN) f();
      }, ms);
      timers.add(t);
    };
    ws.on('close', () => timers.forEach(clearTimeout));
    const json = (v: Record<string, unknown>) => ws.send(JSON.stringify(v));

    const reply = () => {
      replying = true;
      json({ session_id: sid, type: 'stt', text: 'what is the weather like' });
      json({ session_id: sid, type: 'tts', state: 'start' });
      json({ session_id: sid, type: 'tts', state: 'sentence_start', text: 'It is sunny.' });
      const frames = tone(b.longFrames ? 120 : 60, b.replyFrames ?? 30);
      const lead = b.dumpAll ? frames.length : (b.lead ?? 5);
      const step = 60 + (b.slowByMs ?? 0);
      const t0 = performance.now() + (b.startGapMs ?? 40);
      let i = 0;
      const pump = () => {
        // Monotonic schedule: frame k is due at t0 + (k − lead) × step.
        while (i < frames.length && performance.now() >= t0 + (i - lead) * step) ws.send(frames[i++]!);
        if (i < frames.length) return later(Math.max(1, t0 + (i - lead) * step - performance.now()), pump);
        const playedOut = t0 + Math.max(0, frames.length - lead) * step + lead * 60;
        later(b.earlyStop ? 0 : Math.max(0, playedOut - performance.now()) + 2 * 60, () => {
          json({ session_id: sid, type: 'tts', state: 'stop' });
          replying = false;
        });
      };
      later(b.startGapMs ?? 40, pump);
    };

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        framesIn++;
        if (replying || b.reply === false) return;
        let pcm: Buffer;
        try {
          pcm = data.length > 2 ? dec.decode(data) : Buffer.alloc(0);
        } catch {
          pcm = Buffer.alloc(0);
        }
        let sum = 0;
        for (let i = 0; i < pcm.length; i += 2) sum += (pcm.readInt16LE(i) / 32768) ** 2;
        const voiced = pcm.length > 0 && 10 * Math.log10(sum / (pcm.length / 2)) > -45;
        if (voiced) {
          voicedMs += 60;
          quietMs = 0;
        } else if (voicedMs >= 250) {
          quietMs += 60;
          if (quietMs >= 400) {
            voicedMs = quietMs = 0;
            reply();
          }
        }
        return;
      }
      const msg = JSON.parse(data.toString()) as Record<string, unknown>;
      if (msg['type'] === 'hello') {
        json(b.hello ? b.hello(sid) : { type: 'hello', transport: 'websocket', session_id: sid, audio_params: { format: 'opus', sample_rate: RATE, channels: 1, frame_duration: 60 } });
        if (b.unknownType) json({ session_id: sid, type: 'weather_push', text: 'sunny' });
        if (b.mcp) json({ type: 'mcp', payload: { jsonrpc: '2.0', id: ++mcpId, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'fake', version: '0' } } } });
        if (b.audioBeforeStart) ws.send(tone(60, 1)[0]!);
      } else if (msg['type'] === 'listen') {
        listens.push(msg);
        if (msg['state'] === 'stop' && !replying && voicedMs >= 250) {
          voicedMs = quietMs = 0;
          reply();
        }
      } else if (msg['type'] === 'mcp') {
        const p = msg['payload'] as Record<string, any>;
        mcpReplies.push(p);
        if (p['result']?.['serverInfo']) json({ type: 'mcp', payload: { jsonrpc: '2.0', id: ++mcpId, method: 'tools/list', params: { cursor: '', withUserTools: false } } });
        else if (typeof p['result']?.['nextCursor'] === 'string') {
          json({ type: 'mcp', payload: { jsonrpc: '2.0', id: ++mcpId, method: 'tools/list', params: { cursor: p['result']['nextCursor'] } } });
        }
      }
    });
  });

  return {
    url: `ws://127.0.0.1:${port}/xiaozhi/v1/`,
    port,
    framesIn: () => framesIn,
    listenMessages: () => listens,
    mcpReplies: () => mcpReplies,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}
