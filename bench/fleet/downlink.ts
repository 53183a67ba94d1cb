/**
 * The receiving half of a simulated device: the firmware's rules for downlink audio (protocol.md
 * §6.2, §7.1, §7.2) applied to every binary frame, the playback buffer model, and the turn's
 * latency bookkeeping. Audio is accepted only while speaking; a frame longer than the announced
 * frame_duration fails the device's decoder; on devices picked for it, every frame is really
 * decoded at the hello's rate to prove it is valid Opus.
 */
import OpusModule from '@discordjs/opus';
import type { Metrics } from './metrics.js';
import type { Problem } from './checks.js';
import { downlinkPayload, opusPacketMs } from './opus-packet.js';
import { PlaybackBuffer } from './playback.js';
import { TurnTimeline, type TurnOutcome } from './turn.js';

const { OpusEncoder } = OpusModule;

/** The device's conversation state as far as downlink audio cares. */
export type DeviceState = 'idle' | 'listening' | 'speaking' | 'draining';

export interface DownlinkOwner {
  readonly version: 1 | 2 | 3;
  violation(p: Problem): void;
}

export class Downlink {
  state: DeviceState = 'idle';
  readonly turn = new TurnTimeline();
  readonly playback = new PlaybackBuffer();
  /** The open turn was started by the server, not by the user speaking. */
  unsolicited = false;
  /** Last time anything arrived from the server (stall detection). */
  lastActivity = 0;
  #lastTts: 'none' | 'start' | 'stop' = 'none';
  #sampleRate = 24000;
  #frameMs = 60;
  #decoder: InstanceType<typeof OpusEncoder> | undefined;

  constructor(
    private readonly owner: DownlinkOwner,
    private readonly metrics: Metrics,
    private readonly decode: boolean,
  ) {}

  /** Parameters from the server hello (the device recreates its decoder with them). */
  configure(sampleRate: number, frameMs: number): void {
    this.#sampleRate = sampleRate;
    this.#frameMs = frameMs;
    this.playback.frameMs = frameMs;
    if (this.decode) this.#decoder = new OpusEncoder(sampleRate, 1);
  }

  activity(now: number): void {
    this.lastActivity = now;
  }

  newTurn(unsolicited = false): void {
    this.turn.reset(this.#frameMs);
    this.playback.startTurn();
    this.unsolicited = unsolicited;
  }

  /** tts start: entering speaking resets the decoder and discards queued audio (§6.2). */
  enterSpeaking(): void {
    this.state = 'speaking';
    this.#lastTts = 'start';
    this.playback.startTurn();
  }

  /** tts stop: audio arriving from now on is dropped by the device (§7.2). */
  leaveSpeaking(next: DeviceState): void {
    this.state = next;
    this.#lastTts = 'stop';
  }

  finishTurn(outcome: TurnOutcome): void {
    this.metrics.turn(this.turn.result(outcome), this.playback.turn);
  }

  frame(data: Buffer, now: number): void {
    this.lastActivity = now;
    if (this.state !== 'speaking') {
      this.owner.violation(
        this.#lastTts === 'stop'
          ? { kind: 'audio-after-tts-stop', detail: 'binary audio after tts stop (the device drops it)' }
          : { kind: 'audio-before-tts-start', detail: `binary audio while ${this.state} (the device accepts audio only after tts start)` },
      );
      this.metrics.downlink(data.length, NaN);
      return;
    }
    const p = downlinkPayload(this.owner.version, data);
    if (!p.ok) {
      this.owner.violation({ kind: 'bad-frame-header', detail: p.why });
      return;
    }
    const ms = opusPacketMs(p.opus);
    if (Number.isNaN(ms)) {
      this.owner.violation({ kind: 'undecodable-audio', detail: `malformed Opus packet of ${p.opus.length} bytes` });
      return;
    }
    if (ms > this.#frameMs + 1e-6) {
      this.owner.violation({ kind: 'frame-too-long', detail: `${ms} ms Opus packet, hello announced frame_duration ${this.#frameMs}` });
      return;
    }
    if (this.#decoder && p.opus.length > 0) {
      try {
        const pcm = this.#decoder.decode(Buffer.from(p.opus.buffer, p.opus.byteOffset, p.opus.byteLength));
        this.metrics.decoded++;
        if (pcm.length / 2 > (this.#sampleRate * this.#frameMs) / 1000) {
          this.owner.violation({ kind: 'frame-too-long', detail: `decoded to ${pcm.length / 2} samples, more than ${this.#frameMs} ms at ${this.#sampleRate} Hz` });
        }
      } catch (e) {
        this.owner.violation({ kind: 'undecodable-audio', detail: `Opus decode at ${this.#sampleRate} Hz failed: ${(e as Error).message}` });
        return;
      }
    }
    this.playback.arrive(now);
    this.metrics.downlink(data.length, this.turn.audioAt(now));
  }
}
