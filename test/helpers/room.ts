// A device in a room without echo cancellation: what its loudspeaker plays comes back into its
// microphone a little later and quieter, mixed with whatever the user says. The microphone runs
// in real time and sends 60 ms Opus packets, as a device in realtime listening mode does.
import { createRequire } from 'node:module';
import type { TestDevice } from './device.js';
import { decoderFor } from './speech.js';

const require = createRequire(import.meta.url);
const { OpusEncoder } = require('@discordjs/opus') as typeof import('@discordjs/opus');

const RATE = 16000;
const FRAME = 960;

export class Room {
  #pcm = new Int16Array(RATE * 120);
  readonly #t0 = performance.now();
  #bufferEnd = 0;
  readonly #enc = new OpusEncoder(RATE, 1);
  readonly #dec;
  readonly #downRate: number;
  #stopped = false;
  #sent = 0;
  /** Playback restarts after the buffer ran dry: [room ms, gap ms]. */
  readonly gaps: [number, number][] = [];

  constructor(
    private readonly dev: TestDevice,
    downlinkRate: number,
    private readonly echo: { delayMs: number; gain: number },
  ) {
    this.#downRate = downlinkRate;
    this.#dec = decoderFor(downlinkRate);
    dev.ws.on('message', (data, isBinary) => {
      if (isBinary) this.#played(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer));
    });
  }

  /** Now, in ms of room time. */
  now(): number {
    return performance.now() - this.#t0;
  }

  /** The user says something (16 kHz PCM) starting `inMs` from now. */
  say(pcm: Int16Array, inMs = 0): number {
    const at = this.now() + inMs;
    this.#add(pcm, at, 1);
    return at + (pcm.length / RATE) * 1000;
  }

  /** Runs the microphone until `stop()`. */
  async run(): Promise<void> {
    for (let i = 0; !this.#stopped; i++) {
      const wait = (i + 1) * 60 - this.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      if (this.dev.closeCode !== undefined) return;
      const frame = this.#pcm.subarray(i * FRAME, (i + 1) * FRAME);
      this.dev.sendBinary(new Uint8Array(this.#enc.encode(Buffer.from(frame.slice().buffer))));
      this.#sent++;
    }
  }

  stop(): void {
    this.#stopped = true;
  }

  /** A downlink packet arrived: it plays when the device's buffer reaches it, and echoes. */
  #played(packet: Buffer): void {
    const arrival = this.now();
    const start = Math.max(this.#bufferEnd, arrival);
    if (this.#bufferEnd > 0 && arrival > this.#bufferEnd && arrival - this.#bufferEnd < 1000) this.gaps.push([Math.round(arrival), Math.round(arrival - this.#bufferEnd)]);
    this.#bufferEnd = start + 60;
    const pcm = this.#dec.decode(packet);
    const ratio = this.#downRate / RATE;
    const down = new Int16Array(Math.floor(pcm.length / ratio));
    for (let i = 0; i < down.length; i++) down[i] = pcm[Math.floor(i * ratio)]!;
    this.#add(down, start + this.echo.delayMs, this.echo.gain);
  }

  #add(pcm: Int16Array, atMs: number, gain: number): void {
    const off = Math.round((atMs * RATE) / 1000);
    if (off + pcm.length > this.#pcm.length) {
      const bigger = new Int16Array(Math.max(this.#pcm.length * 2, off + pcm.length));
      bigger.set(this.#pcm);
      this.#pcm = bigger;
    }
    for (let i = 0; i < pcm.length; i++) {
      const j = off + i;
      this.#pcm[j] = Math.max(-32768, Math.min(32767, this.#pcm[j]! + pcm[i]! * gain));
    }
  }
}
