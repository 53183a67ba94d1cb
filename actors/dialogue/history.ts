/**
 * A session's conversation history: what goes between the system prompt and the new user message.
 * Kept under a token budget by dropping the oldest whole turns (a turn = a user message and every
 * assistant and tool message up to the next user message), so an assistant tool-call message is
 * never separated from its tool results — vendors reject a `tool_calls` message whose results
 * are missing, and results without their call. The newest turn always stays, even over budget:
 * the model cannot answer without it.
 *
 * Token counts are estimates (no tokenizer on the hot path): one token per CJK character, one per
 * four other characters, plus a small per-message overhead.
 */
import type { ChatMessage, ToolCall } from '../../providers/contracts/llm.js';

/** Characters a tokenizer gives about one token each: CJK ideographs, kana, hangul, full-width forms. */
const WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]/gu;
/** Role markers and separators every vendor adds per message. */
const MESSAGE_OVERHEAD = 4;

export function estimateTokens(text: string): number {
  if (text === '') return 0;
  const wide = text.match(WIDE)?.length ?? 0;
  let chars = 0;
  for (const _ of text) chars++;
  return wide + Math.ceil((chars - wide) / 4);
}

export function messageTokens(m: ChatMessage): number {
  let n = MESSAGE_OVERHEAD + estimateTokens(m.content);
  for (const c of m.toolCalls ?? []) n += estimateTokens(c.name) + estimateTokens(c.argsJson) + MESSAGE_OVERHEAD;
  return n;
}

/** Splits at each user message; anything before the first user message (a greeting) is a turn too. */
export function splitTurns(msgs: readonly ChatMessage[]): ChatMessage[][] {
  const turns: ChatMessage[][] = [];
  for (const m of msgs) {
    const cur = turns[turns.length - 1];
    if (m.role === 'user' || !cur) turns.push([m]);
    else cur.push(m);
  }
  return turns;
}

/**
 * Drops tool calls that got no result (the reply was interrupted while a tool ran) and results
 * whose call is not there, so what is left is a sequence every vendor accepts.
 */
export function pairToolCalls(msgs: readonly ChatMessage[]): ChatMessage[] {
  const answered = new Set<string>();
  const called = new Set<string>();
  for (const m of msgs) {
    if (m.role === 'tool' && m.toolCallId !== undefined) answered.add(m.toolCallId);
    if (m.role === 'assistant') for (const c of m.toolCalls ?? []) called.add(c.id);
  }
  const out: ChatMessage[] = [];
  for (const m of msgs) {
    if (m.role === 'tool') {
      if (m.toolCallId !== undefined && called.has(m.toolCallId)) out.push(m);
      continue;
    }
    if (m.role === 'assistant' && m.toolCalls?.length) {
      const kept = m.toolCalls.filter((c) => answered.has(c.id));
      if (kept.length === m.toolCalls.length) out.push(m);
      else if (kept.length > 0) out.push({ ...m, toolCalls: kept });
      else if (m.content.trim() !== '') out.push({ role: 'assistant', content: m.content });
      continue;
    }
    out.push(m);
  }
  return out;
}

const ENDS_WIDE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]$/u;
const STARTS_WIDE = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]/u;

/** Sentences as one text: CJK runs join without a space, other scripts with one. */
export function joinSentences(sentences: readonly string[]): string {
  let out = '';
  for (const raw of sentences) {
    const s = raw.trim();
    if (s === '') continue;
    if (out !== '' && !ENDS_WIDE.test(out) && !STARTS_WIDE.test(s)) out += ' ';
    out += s;
  }
  return out;
}

/**
 * One turn as it stands after an interruption: the reply text becomes only the sentences the user
 * heard (the full text would put words in the model's mouth that nobody heard), or disappears when
 * nothing was heard. Tool rounds that completed stay — their effects happened (the volume did
 * change) and dropping them would make the model do it again; tool calls left without a result
 * are removed. Text the model wrote beside its tool calls was spoken (or not) like the rest, so it
 * moves into the heard text instead of staying on the call message.
 */
export function heardOnly(turn: readonly ChatMessage[], spokenSentences: readonly string[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of pairToolCalls(turn)) {
    if (m.role !== 'assistant') out.push(m);
    else if (m.toolCalls?.length) out.push(m.content === '' ? m : { ...m, content: '' });
    // Plain assistant text is replaced below.
  }
  const heard = joinSentences(spokenSentences);
  if (heard !== '') out.push({ role: 'assistant', content: heard });
  return out;
}

export interface HistoryOptions {
  /** Estimated tokens the history may take (the newest turn is kept even above it). */
  readonly budgetTokens: number;
  /** Replaces the built-in estimate (a real tokenizer, or a vendor's count). */
  readonly estimate?: (m: ChatMessage) => number;
}

export class History {
  #msgs: ChatMessage[] = [];
  #costs: number[] = [];
  #budget: number;
  readonly #estimate: (m: ChatMessage) => number;

  constructor(opts: HistoryOptions) {
    this.#budget = Math.max(0, opts.budgetTokens);
    this.#estimate = opts.estimate ?? messageTokens;
  }

  /** A copy: callers put it in a request that lives on while the history changes. */
  get messages(): ChatMessage[] {
    return [...this.#msgs];
  }

  get length(): number {
    return this.#msgs.length;
  }

  get tokens(): number {
    return this.#costs.reduce((a, b) => a + b, 0);
  }

  get budget(): number {
    return this.#budget;
  }

  set budget(tokens: number) {
    this.#budget = Math.max(0, tokens);
    this.trim();
  }

  /** Starts a turn. */
  addUser(text: string): void {
    this.push({ role: 'user', content: text });
  }

  /** One tool round of the model: its calls and their results, kept together. */
  addToolRound(calls: readonly ToolCall[], results: readonly { id: string; text: string }[], content = ''): void {
    if (calls.length === 0) return;
    this.push({ role: 'assistant', content, toolCalls: [...calls] }, ...results.map((r) => ({ role: 'tool' as const, content: r.text, toolCallId: r.id })));
  }

  /** The model's finished reply. */
  addAssistant(text: string): void {
    this.push({ role: 'assistant', content: text });
  }

  /** Appends messages as given (system messages do not belong here and are ignored). */
  push(...msgs: ChatMessage[]): void {
    for (const m of msgs) {
      if (m.role === 'system') continue;
      this.#msgs.push(m);
      this.#costs.push(this.#estimate(m));
    }
    this.trim();
  }

  /** Starts from earlier messages (recent turns from memory); loose tool messages are repaired. */
  seed(msgs: readonly ChatMessage[]): void {
    this.clear();
    this.push(...pairToolCalls(msgs));
  }

  clear(): void {
    this.#msgs = [];
    this.#costs = [];
  }

  /** The reply of the newest turn was interrupted: keep only what the user heard (see heardOnly). */
  interrupted(spokenSentences: readonly string[]): void {
    let start = this.#msgs.length - 1;
    while (start > 0 && this.#msgs[start]?.role !== 'user') start--;
    if (start < 0) start = 0;
    const head = this.#msgs.slice(0, start);
    const turn = heardOnly(this.#msgs.slice(start), spokenSentences);
    this.clear();
    // Rebuilt without trimming in between: the turn is the newest and must stay whole.
    for (const m of [...head, ...turn]) {
      this.#msgs.push(m);
      this.#costs.push(this.#estimate(m));
    }
    this.trim();
  }

  /** The newest turn's user text and final reply, for memory; undefined while it is unanswered. */
  lastExchange(): { user: string; assistant: string } | undefined {
    const turns = splitTurns(this.#msgs);
    const last = turns[turns.length - 1];
    if (!last || last[0]?.role !== 'user') return undefined;
    const reply = [...last].reverse().find((m) => m.role === 'assistant' && !m.toolCalls?.length);
    return reply ? { user: last[0].content, assistant: reply.content } : undefined;
  }

  /** Drops the oldest whole turns while over budget; returns how many messages went. */
  trim(): number {
    let total = this.tokens;
    if (total <= this.#budget) return 0;
    const turns = splitTurns(this.#msgs);
    let drop = 0;
    // Never the newest turn.
    for (let i = 0; i < turns.length - 1 && total > this.#budget; i++) {
      const turn = turns[i]!;
      for (let j = 0; j < turn.length; j++) total -= this.#costs[drop + j] ?? 0;
      drop += turn.length;
    }
    if (drop > 0) {
      this.#msgs.splice(0, drop);
      this.#costs.splice(0, drop);
    }
    return drop;
  }
}
