/**
 * Turns a language model's text deltas into speakable segments, as early as sounds natural:
 *
 *   deltas ──▶ buffer ──▶ cut at a boundary ──▶ clean (markdown, emoji) ──▶ segment
 *
 * - The first segment may end at a pause mark (，,、；;：:) once it is a few words long, or after a
 *   short run with no punctuation at all, so the first audio does not wait for a whole sentence.
 * - Later segments end at sentence punctuation (。！？!?；… and line breaks), or at a pause mark
 *   once they grow long. An ASCII '.' ends a sentence only before whitespace or at the end, so
 *   "3.14" and "v2.4" stay whole.
 * - What is spoken never contains markdown markup or emoji; the first emoji of the reply becomes
 *   the device's `llm` emotion.
 *
 * For a TTS that takes text in pieces, `pushPieces` cuts finer: at every pause mark (or a space in
 * a long unpunctuated run), each piece marked with whether it ends its sentence. The vendor hears
 * a sentence as it is written and the device shows it as one subtitle.
 */

const SENTENCE_END = /[。！？!?；;…\n]/;
const PAUSE = /[，,、：:]/;
const ABBREVIATION = /(?:^|[\s(])(?:Mr|Mrs|Ms|Dr|St|vs|etc|e\.g|i\.e|No)\.$/i;

export interface SplitOptions {
  /** First segment: shortest length (characters) that may end at a pause mark. */
  firstMinChars?: number;
  /** First segment: length after which a space is a good enough place to cut. */
  firstMaxChars?: number;
  /** Later segments: length after which a pause mark ends the segment. */
  maxChars?: number;
}

/** A piece of a sentence for a text-streaming TTS; `end` closes the sentence. */
export interface Piece {
  readonly text: string;
  readonly end: boolean;
}

export class SentenceSplitter {
  #buf = '';
  #emitted = 0;
  /** Visible length of the sentence the pieces so far belong to. */
  #sentenceLen = 0;
  /** A piece went out whose sentence has not ended yet. */
  #open = false;
  #emotion: string | undefined;
  readonly #firstMin: number;
  readonly #firstMax: number;
  readonly #max: number;

  constructor(opts: SplitOptions = {}) {
    this.#firstMin = opts.firstMinChars ?? 6;
    this.#firstMax = opts.firstMaxChars ?? 40;
    this.#max = opts.maxChars ?? 120;
  }

  /** The first emoji seen, as a device emotion name (undefined until one appears). */
  get emotion(): string | undefined {
    return this.#emotion;
  }

  /** Adds model text; returns the segments it completed (already cleaned, never empty). */
  push(text: string): string[] {
    if (this.#emotion === undefined) this.#emotion = firstEmotion(text);
    this.#buf += text;
    const out: string[] = [];
    for (;;) {
      const cut = this.#findCut(false);
      if (cut < 0) break;
      this.#take(cut, out);
    }
    return out;
  }

  /** Adds model text; returns the sentence pieces it completed (cleaned, never empty). */
  pushPieces(text: string): Piece[] {
    if (this.#emotion === undefined) this.#emotion = firstEmotion(text);
    this.#buf += text;
    const out: Piece[] = [];
    for (;;) {
      const cut = this.#findCut(false, true);
      if (cut < 0) break;
      this.#takePiece(cut, out);
    }
    return out;
  }

  /** The model is done: the rest, the last piece ending its sentence. */
  flushPieces(): Piece[] {
    const out: Piece[] = [];
    for (;;) {
      const cut = this.#findCut(true, true);
      if (cut < 0) break;
      this.#takePiece(cut, out);
    }
    if (this.#buf.length > 0) this.#takePiece(this.#buf.length, out);
    const last = out[out.length - 1];
    if (last && !last.end) out[out.length - 1] = { text: last.text, end: true };
    else if (!last && this.#open) out.push({ text: '', end: true });
    this.#open = false;
    return out;
  }

  #takePiece(cut: number, out: Piece[]): void {
    const raw = this.#buf.slice(0, cut);
    this.#buf = this.#buf.slice(cut);
    const clean = speakable(raw);
    const trimmed = raw.trimEnd();
    const last = trimmed[trimmed.length - 1] ?? '';
    // A long sentence with only pause marks still ends somewhere: one subtitle stays readable.
    this.#sentenceLen += visibleLength(clean);
    const end = SENTENCE_END.test(last) || (last === '.' && !ABBREVIATION.test(trimmed.slice(-6))) || this.#sentenceLen >= this.#max;
    if (end) this.#sentenceLen = 0;
    if (clean) {
      out.push({ text: clean, end });
      this.#emitted++;
      this.#open = !end;
    } else if (end && this.#open) {
      // Only the closing mark was left (the text went out in an earlier piece): close it, empty.
      out.push({ text: '', end: true });
      this.#open = false;
    }
  }

  /** The model is done: whatever is left becomes the last segment (if it has anything speakable). */
  flush(): string[] {
    const out: string[] = [];
    for (;;) {
      const cut = this.#findCut(true);
      if (cut < 0) break;
      this.#take(cut, out);
    }
    if (this.#buf.length > 0) this.#take(this.#buf.length, out);
    return out;
  }

  #take(cut: number, out: string[]): void {
    const raw = this.#buf.slice(0, cut);
    this.#buf = this.#buf.slice(cut);
    const clean = speakable(raw);
    if (clean) {
      out.push(clean);
      this.#emitted++;
    }
  }

  /** Index just past the boundary that ends the next segment, or -1 to wait for more text. */
  #findCut(final: boolean, pieces = false): number {
    const b = this.#buf;
    // Pieces cut like a reply's first segment, all the way through.
    const first = pieces || this.#emitted === 0;
    let lastPause = -1;
    let lastSpace = -1;
    for (let i = 0; i < b.length; i++) {
      const c = b[i]!;
      if (c === '.') {
        const next = b[i + 1];
        if (next === undefined) {
          if (final) return i + 1;
          break; // wait: "3." may become "3.14"
        }
        if (/\s/.test(next) && !ABBREVIATION.test(b.slice(Math.max(0, i - 5), i + 1))) return i + 1;
        continue;
      }
      if (SENTENCE_END.test(c)) {
        // Keep runs like "?!" or "……" together.
        let j = i + 1;
        while (j < b.length && SENTENCE_END.test(b[j]!)) j++;
        return j;
      }
      if (PAUSE.test(c)) {
        lastPause = i + 1;
        if (first && visibleLength(b.slice(0, i)) >= this.#firstMin) return i + 1;
        if (!first && visibleLength(b.slice(0, i)) >= this.#max) return i + 1;
      } else if (c === ' ') {
        lastSpace = i + 1;
      }
    }
    if (first && visibleLength(b) >= this.#firstMax && lastSpace > 0) return lastSpace;
    if (!first && visibleLength(b) >= this.#max * 1.5) return lastPause > 0 ? lastPause : lastSpace > 0 ? lastSpace : -1;
    return -1;
  }
}

function visibleLength(s: string): number {
  return s.replace(/\s+/g, ' ').trim().length;
}

const EMOJI = /\p{Extended_Pictographic}(\uFE0F|\u200D\p{Extended_Pictographic}|[\u{1F3FB}-\u{1F3FF}])*/gu;
const MARKDOWN: [RegExp, string][] = [
  [/!\[([^\]]*)\]\([^)]*\)/g, '$1'], // images → alt text
  [/\[([^\]]+)\]\([^)]*\)/g, '$1'], // links → their text
  [/```[\s\S]*?```/g, ' '], // code blocks are not spoken
  [/`([^`]*)`/g, '$1'],
  [/(\*\*|__|~~)(.*?)\1/g, '$2'],
  [/(^|\s)[*_]([^*_\s][^*_]*)[*_](?=\s|$|[.,!?])/g, '$1$2'],
  [/^\s{0,3}#{1,6}\s+/gm, ''], // headings
  [/^\s*(?:[-*+]|\d+[.)])\s+/gm, ''], // list markers
  [/^\s*>\s?/gm, ''], // quotes
  [/\|/g, ' '], // table pipes
  [/[*#_~]{2,}/g, ''],
];

/** What a TTS engine should say for a piece of model text: no markup, no emoji, tidy spaces. */
export function speakable(raw: string): string {
  let s = raw;
  for (const [re, to] of MARKDOWN) s = s.replace(re, to);
  s = s.replace(EMOJI, '').replace(/[\u{1F1E6}-\u{1F1FF}]/gu, '');
  // Markup removed before a closing mark leaves "friend .": the mark rejoins its word.
  return s.replace(/\s+/g, ' ').replace(/ ([,.!?;:，。！？；：])/g, '$1').trim().replace(/^[，,、；;：:。.!！?？]+/, '').trim();
}

/** Device emotion names (protocol.md §6.2) for the emoji models use most. */
const EMOTIONS: Record<string, string> = {
  '😊': 'happy', '🙂': 'happy', '😀': 'happy', '😃': 'happy', '😄': 'happy', '😁': 'happy', '🥰': 'loving',
  '😂': 'laughing', '🤣': 'laughing', '😆': 'funny', '😹': 'funny', '😢': 'sad', '😔': 'sad', '☹️': 'sad',
  '😞': 'sad', '😭': 'crying', '😠': 'angry', '😡': 'angry', '😍': 'loving', '❤️': 'loving', '😳': 'embarrassed',
  '😮': 'surprised', '😯': 'surprised', '😲': 'shocked', '😱': 'shocked', '🤔': 'thinking', '😉': 'winking',
  '😎': 'cool', '😌': 'relaxed', '😋': 'delicious', '😘': 'kissy', '😏': 'confident', '😴': 'sleepy',
  '🤪': 'silly', '😜': 'silly', '😕': 'confused', '😐': 'neutral', '😶': 'neutral',
};

/** The emotion of the first emoji in a text, if any ('happy' for an emoji we have no name for). */
export function firstEmotion(text: string): string | undefined {
  EMOJI.lastIndex = 0;
  const m = EMOJI.exec(text);
  EMOJI.lastIndex = 0;
  if (!m) return undefined;
  const e = m[0];
  return EMOTIONS[e] ?? EMOTIONS[e.replace(/\uFE0F/g, '')] ?? EMOTIONS[`${e.replace(/\uFE0F/g, '')}\uFE0F`] ?? 'happy';
}

/** Emoji of an emotion name, for the `llm` message's (ignored but customary) `text`. */
export function emojiFor(emotion: string): string {
  for (const [e, name] of Object.entries(EMOTIONS)) if (name === emotion) return e;
  return '🙂';
}

/** Pieces of a sentence as one text: a space between Latin words, none in CJK. */
export function joinPieces(pieces: readonly string[]): string {
  let out = '';
  for (const p of pieces) {
    if (out === '' || p === '') out += p;
    else out += /[\x21-\x7e]$/.test(out) && /^[\x21-\x7e]/.test(p) ? ` ${p}` : p;
  }
  return out;
}
