/**
 * Messages of the codec actor: one per talking session, in the `codec` worker pool. It owns the
 * session's Opus decoder (uplink), Opus encoder and resampler (downlink).
 *
 *   session ── codec.decode ──▶ codec ── listen.pcm ─────▶ listen     (16 kHz mono, per packet)
 *   speak ──── codec.encode ──▶       ── session.frames ─▶ session    (one batch per chunk)
 *   session ── codec.reset / codec.stats
 *
 * `listen.pcm` travels on the lane its `codec.decode` came on (uplink audio survives a
 * barge-in); `session.frames` carry the turn of their `codec.encode`, so frames of an
 * interrupted reply are dropped at the session's mailbox.
 */

/** Spawn argument (structured-clone safe). */
export interface CodecInit {
  session: string;
  /** The session supervisor actor (main thread): receives `session.frames`. */
  sessionAddr: string;
  /** Where decoded uplink PCM goes (the listen actor); null decodes for the counters only. */
  listenAddr: string | null;
  /** config `audio`: the rate and frame length announced to the device in the server hello. */
  downlink: { sampleRate: number; frameMs: number; complexity: number; bitrate?: number };
}

export type CodecIn =
  /**
   * One uplink packet (transferred). Garbage is counted and skipped; a DTX packet (0–3 bytes)
   * becomes silence of its duration, so listen's audio clock keeps real time.
   */
  | { t: 'codec.decode'; opus: Uint8Array; seq: number }
  /**
   * TTS PCM of one sentence (transferred), at any rate: resampled to the downlink rate, cut into
   * exact frames; a partial frame waits for the next chunk of the same sentence, and `last` pads
   * it with silence and flushes. A chunk may be empty (a bare `last`).
   */
  | { t: 'codec.encode'; pcm: Int16Array; sampleRate: number; sentence: number; last: boolean }
  /** New turn or barge-in: drop partial frames and resampler state, reset the encoder. */
  | { t: 'codec.reset' }
  /** Request: answers CodecStats. */
  | { t: 'codec.stats' };

export type CodecOut =
  /** Decoded uplink audio, 16 kHz mono; `seq` is the packet's. */
  | { t: 'listen.pcm'; pcm: Int16Array; seq: number }
  /** Encoded downlink frames of one sentence, each exactly `frameMs` (protocol.md §7.1). */
  | { t: 'session.frames'; frames: Uint8Array[]; sentence: number; last: boolean; durationMs: number };

export interface CodecStats {
  /** Packets decoded into audio (DTX packets included). */
  decoded: number;
  /** Packets that were not Opus, skipped. */
  decodeErrors: number;
  /** DTX packets (0–3 bytes) turned into silence. */
  dtx: number;
  /** Frames encoded. */
  encoded: number;
  /** `session.frames` batches sent. */
  batches: number;
  /** Input samples of unfinished sentences dropped by a reset, a new turn or a new sentence. */
  droppedSamples: number;
  /** Time spent decoding and encoding (including resampling), µs: this session's worker load. */
  decodeUs: number;
  encodeUs: number;
}
