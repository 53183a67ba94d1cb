/**
 * One reply, with the tool loop: stream the model; if it asks for tools, have the session run
 * them (device MCP and server functions live with the session, on the main thread), feed the
 * results back and stream again. After `maxRounds` rounds with tools, a last round without tools
 * forces a plain answer, so a model that keeps calling tools still says something.
 *
 *   messages ─▶ stream ─┬─ text ─▶ splitter ─▶ sentences ─▶ session ─▶ speak
 *                       └─ tool calls ─▶ session.tool-call (request) ─▶ results ─▶ stream again
 *
 * With `pieces` (a TTS that takes text as it is written), sentence pieces go straight to the
 * speak actor as they form, and the session gets each whole sentence for its subtitle.
 */
import type { ChatMessage, LlmProvider, ToolCall, ToolDefinition } from '../../providers/contracts/llm.js';
import type { ActorContext } from '../../runtime/actor.js';
import { SentenceSplitter, joinPieces, type Piece } from './sentences.js';
import type { ThinkOut, ToolResult } from './messages.js';
import type { SpeakIn } from '../speak/messages.js';

export interface ReplyOptions {
  llm: LlmProvider;
  messages: ChatMessage[];
  tools: ToolDefinition[];
  maxRounds: number;
  user: string;
  sessionAddr: string;
  turn: number;
  ctx: ActorContext;
  signal: AbortSignal;
  toolTimeoutMs: number;
  /** Stream sentence pieces to this speak actor, in this voice. */
  pieces?: { speakAddr: string; voice: { name?: string | null; language?: string | null } } | undefined;
}

export interface ReplyResult {
  text: string;
  sentences: number;
  emotion: string | undefined;
  firstTextMs: number | undefined;
  toolCalls: number;
  /** Set when the model failed part way: what was already said still counts. */
  error?: unknown;
}

export async function streamReply(o: ReplyOptions): Promise<ReplyResult> {
  const { ctx, signal } = o;
  const started = ctx.clock.now();
  const split = new SentenceSplitter();
  const out = (msg: ThinkOut) => {
    if (!signal.aborted) ctx.send(o.sessionAddr, msg, { turn: o.turn });
  };
  let index = 0;
  let full = '';
  let firstTextMs: number | undefined;
  let emotionSent = false;
  let toolCalls = 0;
  const sentence = (text: string) => {
    const emotion = !emotionSent && split.emotion ? split.emotion : undefined;
    if (emotion) emotionSent = true;
    out({ t: 'session.reply-sentence', text, index: index++, ...(emotion ? { emotion } : {}), ...(o.pieces ? { spoken: true } : {}) });
  };
  const emit = (texts: string[]) => texts.forEach(sentence);
  let open = '';
  const emitPieces = (pieces: Piece[]) => {
    const to = o.pieces!;
    for (const p of pieces) {
      if (signal.aborted) return;
      const say: SpeakIn = { t: 'speak.text', text: p.text, sentence: index, end: p.end, voice: to.voice };
      ctx.send(to.speakAddr, say, { turn: o.turn });
      open = joinPieces([open, p.text]);
      if (p.end) {
        const text = open;
        open = '';
        if (text) sentence(text);
        else index++; // nothing speakable after all: the index is still used up at the speak actor
      }
    }
  };
  const push = (t: string) => (o.pieces ? emitPieces(split.pushPieces(t)) : emit(split.push(t)));
  const messages = [...o.messages];
  let error: unknown;
  try {
    await rounds();
  } catch (e) {
    if (signal.aborted) throw e;
    error = e;
  }
  if (o.pieces) emitPieces(split.flushPieces());
  else emit(split.flush());
  return { text: full, sentences: index, emotion: split.emotion, firstTextMs, toolCalls, ...(error !== undefined ? { error } : {}) };

  async function rounds(): Promise<void> {
    for (let round = 0; ; round++) {
      const offerTools = o.tools.length > 0 && o.llm.caps.tools && round < o.maxRounds;
      const calls: ToolCall[] = [];
      let said = '';
      for await (const d of o.llm.stream({ messages, ...(offerTools ? { tools: o.tools } : {}), user: o.user, signal })) {
        if (d.kind === 'text') {
          firstTextMs ??= ctx.clock.now() - started;
          said += d.text;
          push(d.text);
        } else if (d.kind === 'tool-call') {
          calls.push(d.call);
        }
      }
      full += said;
      if (calls.length === 0) break;
      // Text the model said before calling tools is spoken; its sentence tail waits for what follows.
      messages.push({ role: 'assistant', content: said, toolCalls: calls });
      toolCalls += calls.length;
      const results = await Promise.all(
        calls.map((call) =>
          ctx
            .request<ToolResult>(o.sessionAddr, { t: 'session.tool-call', call }, { turn: o.turn, lane: 'data', timeoutMs: o.toolTimeoutMs, signal })
            .catch((e: { code?: string; message?: string }): ToolResult => ({ text: `error: ${e.message ?? String(e)}`, isError: true })),
        ),
      );
      calls.forEach((call, i) => messages.push({ role: 'tool', toolCallId: call.id, content: results[i]!.text }));
    }
  }
}

