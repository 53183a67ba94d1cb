/**
 * What the assistant remembers about a device's user between sessions: the last few turns
 * verbatim and a short summary the language model writes when a session ends. It lives in the
 * store (namespace `memory`, one record per device), so it survives a server restart and, with a
 * networked store, follows the device to another node.
 *
 *   session start ─ load(deviceId) ─▶ summary into the system prompt, recent turns into history
 *   each turn     ─ saveTurn(deviceId, turn)
 *   session end   ─ summarize(deviceId, complete) ─▶ previous summary + turns since it ─▶ model
 *                                                  ─▶ new summary (a failure keeps the old one)
 *
 * Each turn gets a sequence number and the record remembers up to which one the summary covers,
 * so the next summary is fed only what is new — the recent turns are also kept for the history
 * of the next session, and summarizing them twice would repeat them in the summary.
 */
import type { ChatMessage } from '../../providers/contracts/llm.js';
import { UNCHANGED, type Namespace, type Store } from '../../providers/store/contract.js';

export const MEMORY_NAMESPACE = 'memory';

export interface MemoryTurn {
  readonly user: string;
  readonly assistant: string;
  /** Wall-clock epoch ms. */
  readonly at: number;
  /** Increasing per device; the summary covers every turn up to `summarizedThrough`. */
  readonly seq: number;
}

export interface MemoryRecord {
  readonly summary: string;
  readonly turns: readonly MemoryTurn[];
  readonly lastSeq: number;
  readonly summarizedThrough: number;
  readonly summarizedAt?: number;
}

/** A one-shot, non-streaming model call: messages in, the answer's text out. */
export type Complete = (messages: ChatMessage[], signal?: AbortSignal) => Promise<string>;

export interface MemoryOptions {
  /** Turns kept verbatim. Default 6. */
  readonly recentTurns?: number;
  /** Wall-clock ms for timestamps. */
  readonly now?: () => number;
  /** Longest summary kept, in characters (a model ignoring "≤ 150 words" is cut). Default 1200. */
  readonly maxSummaryChars?: number;
  /** Longest text kept per side of a turn, in characters. Default 1000. */
  readonly maxTurnChars?: number;
}

export interface SummarizeOptions {
  /** The user's language (BCP 47) as a hint; the model is told to follow the conversation anyway. */
  readonly language?: string | null;
  readonly signal?: AbortSignal;
}

export type SummarizeOutcome =
  | { readonly status: 'written'; readonly summary: string }
  | { readonly status: 'nothing-new'; readonly summary: string }
  | { readonly status: 'failed'; readonly summary: string; readonly error: unknown };

const EMPTY: MemoryRecord = { summary: '', turns: [], lastSeq: 0, summarizedThrough: 0 };

export class DeviceMemory {
  readonly #ns: Namespace;
  readonly #recent: number;
  readonly #now: () => number;
  readonly #maxSummary: number;
  readonly #maxTurn: number;

  constructor(store: Store, opts: MemoryOptions = {}) {
    this.#ns = store.ns(MEMORY_NAMESPACE);
    this.#recent = Math.max(0, opts.recentTurns ?? 6);
    this.#now = opts.now ?? Date.now;
    this.#maxSummary = opts.maxSummaryChars ?? 1200;
    this.#maxTurn = opts.maxTurnChars ?? 1000;
  }

  /** What the next session starts from; an empty record for a device never seen. */
  async load(deviceId: string): Promise<MemoryRecord> {
    return (await this.#ns.get<MemoryRecord>(deviceId)) ?? EMPTY;
  }

  /** Records one finished (or interrupted: pass what was heard) exchange. */
  async saveTurn(deviceId: string, turn: { user: string; assistant: string; at?: number }): Promise<void> {
    const user = turn.user.trim().slice(0, this.#maxTurn);
    const assistant = turn.assistant.trim().slice(0, this.#maxTurn);
    if (user === '' && assistant === '') return;
    const at = turn.at ?? this.#now();
    await this.#ns.update<MemoryRecord>(deviceId, (cur) => {
      const r = cur ?? EMPTY;
      const seq = r.lastSeq + 1;
      // Turns not yet summarized stay even beyond the recent window, up to a hard cap, so a
      // summarizer that failed last time still sees them next time.
      const turns = [...r.turns, { user, assistant, at, seq }];
      const cap = Math.max(this.#recent, 50);
      const keep = turns.filter((t, i) => i >= turns.length - this.#recent || (t.seq > r.summarizedThrough && i >= turns.length - cap));
      return { ...r, turns: keep, lastSeq: seq };
    });
  }

  /**
   * Asks the model for a new summary from the previous one and the turns since; stores it.
   * Never throws: a failing, empty or aborted call keeps the old summary.
   */
  async summarize(deviceId: string, complete: Complete, opts: SummarizeOptions = {}): Promise<SummarizeOutcome> {
    const rec = await this.load(deviceId);
    const fresh = rec.turns.filter((t) => t.seq > rec.summarizedThrough);
    if (fresh.length === 0) return { status: 'nothing-new', summary: rec.summary };
    const through = fresh[fresh.length - 1]!.seq;
    let text: string;
    try {
      opts.signal?.throwIfAborted();
      text = cleanSummary(await complete(summaryPrompt(rec.summary, fresh, opts.language ?? null), opts.signal), this.#maxSummary);
      if (text === '') throw new Error('the model returned an empty summary');
    } catch (error) {
      return { status: 'failed', summary: rec.summary, error };
    }
    const at = this.#now();
    try {
      await this.#ns.update<MemoryRecord>(deviceId, (cur) => {
        const r = cur ?? EMPTY;
        // Another session summarized further meanwhile: its summary is newer than ours.
        if (r.summarizedThrough >= through) return UNCHANGED;
        const after = { ...r, summary: text, summarizedThrough: through, summarizedAt: at };
        return { ...after, turns: r.turns.filter((t, i) => i >= r.turns.length - this.#recent || t.seq > through) };
      });
    } catch (error) {
      return { status: 'failed', summary: rec.summary, error };
    }
    return { status: 'written', summary: text };
  }

  async forget(deviceId: string): Promise<void> {
    await this.#ns.del(deviceId);
  }
}

/** Recent turns as history messages for the next session (oldest first). */
export function memoryMessages(rec: MemoryRecord): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const t of rec.turns) {
    if (t.user) out.push({ role: 'user', content: t.user });
    if (t.assistant) out.push({ role: 'assistant', content: t.assistant });
  }
  return out;
}

/**
 * The summarization request. The instructions are in English (models follow them best) and say
 * to write in the user's language, so a Chinese user's summary is in Chinese.
 */
export function summaryPrompt(previous: string, turns: readonly Pick<MemoryTurn, 'user' | 'assistant'>[], language: string | null): ChatMessage[] {
  const system = [
    'You maintain the long-term memory of a voice assistant about one user.',
    'Write a new memory summary from the previous summary and the new conversation below.',
    "Keep facts about the user (name, preferences, people, plans, things they asked to be remembered) and open threads worth following up; drop small talk and anything the new conversation shows is no longer true.",
    `Write it in the user's language${language ? ` (probably ${language})` : ''}, as plain sentences, at most 150 words.`,
    'Answer with the summary only: no heading, no list markers, no quotes.',
  ].join(' ');
  const convo = turns.map((t) => `User: ${t.user}\nAssistant: ${t.assistant}`).join('\n\n');
  const user = `Previous summary:\n${previous.trim() || '(none yet)'}\n\nNew conversation:\n${convo}`;
  return [
    { role: 'system', content: system },
    { role: 'user', content: user },
  ];
}

/** Strips what models wrap answers in (quotes, fences, "Summary:") and caps the length. */
export function cleanSummary(raw: string, maxChars: number): string {
  let s = raw.trim();
  s = s.replace(/^```[a-z]*\n?/i, '').replace(/\n?```$/, '').trim();
  s = s.replace(/^(new\s+)?(memory\s+)?summary\s*[:：]\s*/i, '').replace(/^(新的?)?(记忆)?摘要\s*[:：]\s*/, '').trim();
  if (/^["“「].*["”」]$/s.test(s)) s = s.slice(1, -1).trim();
  if (s.length > maxChars) s = s.slice(0, maxChars).trim();
  return s;
}
