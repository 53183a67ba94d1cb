/**
 * Speech recognition: a stream you write 16 kHz PCM into and read partial and final text from.
 * Batch engines (one request per utterance) are wrapped to look like streams: they buffer what
 * is written and answer after `end()`.
 *
 *   const s = asr.open({ language: 'zh', signal });
 *   s.write(pcm); s.write(pcm); s.end();
 *   for await (const ev of s) { ev.kind === 'partial' | 'final' }
 *
 * Abort (the signal) ends the iteration promptly with an XZ_ERR_ABORTED error; vendor failures
 * end it with a coded error whose category says whether another provider could help.
 */
export interface AsrCapabilities {
  /** Partial results arrive while audio is still being written. */
  readonly streaming: boolean;
  /** Sample rate `write` expects; 16000 for every provider here. */
  readonly sampleRate: number;
  /** BCP 47 primary tags it recognises, or 'any'. */
  readonly languages: readonly string[] | 'any';
}

export interface AsrOptions {
  /** BCP 47 tag; undefined lets the engine decide. */
  language?: string | undefined;
  /** Phrases worth favouring (wake words, names, command grammar). */
  hints?: readonly string[] | undefined;
  signal: AbortSignal;
}

export type AsrEvent =
  | { readonly kind: 'partial'; readonly text: string }
  | { readonly kind: 'final'; readonly text: string; readonly language?: string; readonly confidence?: number };

export interface AsrStream extends AsyncIterable<AsrEvent> {
  /** Appends audio (16 kHz mono). The stream may keep the array: do not reuse it. */
  write(pcm: Int16Array): void;
  /** No more audio: the final result follows, then the iteration ends. */
  end(): void;
}

export interface AsrProvider {
  readonly id: string;
  readonly caps: AsrCapabilities;
  open(opts: AsrOptions): AsrStream;
  /** Releases shared resources (connections, helper processes). */
  close?(): Promise<void>;
}
