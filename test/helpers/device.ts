// A test client that speaks the device side of the xiaozhi WebSocket protocol: the upgrade with
// real headers (or the browser-style query string), JSON messages and binary audio frames.
import WebSocket from 'ws';

export interface ConnectOptions {
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** For wss with a self-signed test certificate. */
  insecure?: boolean;
}

/** What the device received, with its arrival time (performance.now()). */
export type Received = ({ kind: 'json'; value: Record<string, unknown> } | { kind: 'binary'; data: Buffer } | { kind: 'text'; text: string }) & { at: number };

export class TestDevice {
  readonly ws: WebSocket;
  readonly received: Received[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<number>;
  #waiters: (() => void)[] = [];

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      const at = performance.now();
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      if (isBinary) this.received.push({ kind: 'binary', data: buf, at });
      else {
        const text = buf.toString('utf8');
        try {
          this.received.push({ kind: 'json', value: JSON.parse(text) as Record<string, unknown>, at });
        } catch {
          this.received.push({ kind: 'text', text, at });
        }
      }
      this.#wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.#wake();
        resolve(code);
      });
    });
  }

  static connect(url: string, opts: ConnectOptions = {}): Promise<TestDevice> {
    const u = new URL(url);
    for (const [k, v] of Object.entries(opts.query ?? {})) u.searchParams.set(k, v);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(u, { headers: opts.headers ?? {}, perMessageDeflate: false, handshakeTimeout: 5000, ...(opts.insecure ? { rejectUnauthorized: false } : {}) });
      const dev = new TestDevice(ws);
      ws.once('open', () => resolve(dev));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    });
  }

  sendJson(v: unknown): void {
    this.ws.send(JSON.stringify(v));
  }

  sendText(s: string): void {
    this.ws.send(s);
  }

  sendBinary(b: Uint8Array): void {
    this.ws.send(b, { binary: true });
  }

  /** Next received item (from `from` on) that matches; rejects after `timeoutMs`. */
  async next(pred: (r: Received) => boolean, timeoutMs = 5000, from = 0): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (let i = from; ; ) {
      for (; i < this.received.length; i++) if (pred(this.received[i]!)) return this.received[i]!;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode} ${this.closeReason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms; received ${JSON.stringify(this.received.map((r) => (r.kind === 'json' ? r.value : r.kind)))}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  }

  async nextJson(type: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
    const r = await this.next((x) => x.kind === 'json' && x.value['type'] === type, timeoutMs);
    return (r as { value: Record<string, unknown> }).value;
  }

  /** Sends a hello and waits for the server's. */
  async hello(extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    this.sendJson({
      type: 'hello',
      version: 1,
      features: { mcp: true },
      transport: 'websocket',
      audio_params: { format: 'opus', sample_rate: 16000, channels: 1, frame_duration: 60 },
      ...extra,
    });
    return this.nextJson('hello');
  }

  close(): void {
    this.ws.close();
  }

  /** Drops the TCP connection without a close frame, as a device does. */
  drop(): void {
    this.ws.terminate();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}

export const DEVICE = { id: 'aa:bb:cc:dd:ee:ff', client: '6f1c2e9a-3b4d-4c5e-9f00-112233445566' };

export function deviceHeaders(token?: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'Device-Id': DEVICE.id,
    'Client-Id': DEVICE.client,
    'Protocol-Version': '1',
    ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}),
    ...extra,
  };
}

/**
 * Sends packets at real time (one per 60 ms on a monotonic schedule, as a device's audio task
 * does). `wrap` applies the connection's binary framing. Resolves when the last one is sent.
 */
export async function streamRealtime(dev: TestDevice, packets: readonly Uint8Array[], wrap: (p: Uint8Array, i: number) => Uint8Array = (p) => p, frameMs = 60, signal?: AbortSignal): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < packets.length; i++) {
    if (signal?.aborted || dev.closeCode !== undefined) return i;
    const due = start + i * frameMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    dev.sendBinary(wrap(packets[i]!, i));
  }
  return packets.length;
}
