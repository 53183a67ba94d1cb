/**
 * Speech synthesis: text in, PCM chunks at the provider's declared rate out. Providers that
 * stream audio yield chunks as they arrive, so the first audio does not wait for the whole
 * sentence. Where a vendor accepts text in pieces, `open` takes sentence fragments as the
 * language model produces them.
 *
 * Abort ends the iteration promptly with XZ_ERR_ABORTED (a conformance test measures it).
 */
import type { PcmChunk } from './audio.js';

export interface TtsCapabilities {
  /** Rate of the PCM it yields. */
  readonly sampleRate: number;
  /** Yields audio before synthesis of the text has finished. */
  readonly streamingAudio: boolean;
  /** Has `open` (text fed in pieces). */
  readonly streamingText: boolean;
}

export interface Voice {
  /** Vendor voice name; undefined = the provider's default (per language where it can). */
  name?: string | undefined;
  /** BCP 47 tag of the text, when known. */
  language?: string | undefined;
  /** Speed factor, 1 = normal. */
  rate?: number | undefined;
  /** Pitch offset in semitones, 0 = normal. */
  pitch?: number | undefined;
}

export interface TtsRequest {
  text: string;
  voice: Voice;
  signal: AbortSignal;
}

export interface TtsSession extends AsyncIterable<PcmChunk> {
  pushText(text: string): void;
  /** No more text: remaining audio follows, then the iteration ends. */
  end(): void;
}

export interface TtsProvider {
  readonly id: string;
  readonly caps: TtsCapabilities;
  synthesize(req: TtsRequest): AsyncIterable<PcmChunk>;
  open?(voice: Voice, signal: AbortSignal): TtsSession;
  close?(): Promise<void>;
}
