/**
 * Server-sent events, client side (vendors.md §9, after the WHATWG algorithm as openai-node runs
 * it): lines end with LF, CRLF or a lone CR; a blank line dispatches; `:` starts a comment; one
 * space after the field colon is dropped; several `data:` lines join with LF; `id` and `retry`
 * mean nothing to these APIs. Network chunks may end anywhere — mid-line, between the CR and LF
 * of one terminator, or inside a multi-byte UTF-8 character — so bytes are decoded by a streaming
 * TextDecoder (which holds back a split character) and lines are cut from the decoded text.
 */

export interface SseEvent {
  /** The `event:` field, or undefined (the spec's default type "message"). */
  readonly event: string | undefined;
  /** The joined `data:` lines; '' for an event with no data (Dify's `event: ping`). */
  readonly data: string;
}

export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  #rest = '';
  /** The previous chunk ended in CR: a LF starting this one belongs to that terminator. */
  #afterCr = false;
  #event: string | undefined;
  #data: string[] = [];
  #hasData = false;

  /** Feeds bytes; returns the events they completed, in order. */
  push(bytes: Uint8Array): SseEvent[] {
    return this.#lines(this.#decoder.decode(bytes, { stream: true }), false);
  }

  /** Ends the stream: a last event without its blank line is still delivered (openai-node does too). */
  end(): SseEvent[] {
    const out = this.#lines(this.#decoder.decode(), true);
    const last = this.#dispatch();
    if (last) out.push(last);
    return out;
  }

  #lines(text: string, final: boolean): SseEvent[] {
    const out: SseEvent[] = [];
    let s = this.#rest + text;
    let i = 0;
    if (this.#afterCr && s.charCodeAt(0) === 10) i = 1;
    this.#afterCr = false;
    // Positions of the next CR and LF are cached: rescanning for an absent CR on every line of a
    // LF-only stream would make a big chunk quadratic.
    let cr = s.indexOf('\r', i);
    let lf = s.indexOf('\n', i);
    while (cr !== -1 || lf !== -1) {
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      this.#line(s.slice(i, end), out);
      if (end === cr) {
        if (end + 1 === s.length) {
          // A CR ending the chunk: its LF may arrive next.
          this.#afterCr = true;
          i = end + 1;
          break;
        }
        i = s.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      } else i = end + 1;
      if (cr !== -1 && cr < i) cr = s.indexOf('\r', i);
      if (lf !== -1 && lf < i) lf = s.indexOf('\n', i);
    }
    s = s.slice(i);
    if (final && s !== '') {
      this.#line(s, out);
      s = '';
    }
    this.#rest = s;
    return out;
  }

  #line(line: string, out: SseEvent[]): void {
    if (line === '') {
      const ev = this.#dispatch();
      if (ev) out.push(ev);
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') {
      this.#data.push(value);
      this.#hasData = true;
    } else if (field === 'event') this.#event = value;
  }

  #dispatch(): SseEvent | undefined {
    if (!this.#hasData && this.#event === undefined) return undefined;
    const ev: SseEvent = { event: this.#event, data: this.#data.length === 1 ? this.#data[0]! : this.#data.join('\n') };
    this.#event = undefined;
    this.#data = [];
    this.#hasData = false;
    return ev;
  }
}

/**
 * Newline-delimited JSON (Ollama): one object per LF-terminated line, lines split anywhere across
 * chunks. Returns raw lines; blank lines are skipped and a CR before the LF is dropped.
 */
export class NdjsonSplitter {
  readonly #decoder = new TextDecoder('utf-8');
  #rest = '';

  push(bytes: Uint8Array): string[] {
    return this.#split(this.#rest + this.#decoder.decode(bytes, { stream: true }), false);
  }

  end(): string[] {
    return this.#split(this.#rest + this.#decoder.decode(), true);
  }

  #split(s: string, final: boolean): string[] {
    const out: string[] = [];
    let i = 0;
    for (let lf = s.indexOf('\n'); lf !== -1; lf = s.indexOf('\n', i)) {
      pushLine(out, s.slice(i, lf));
      i = lf + 1;
    }
    this.#rest = s.slice(i);
    if (final) {
      pushLine(out, this.#rest);
      this.#rest = '';
    }
    return out;
  }
}

function pushLine(out: string[], line: string): void {
  const l = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (l.trim() !== '') out.push(l);
}
