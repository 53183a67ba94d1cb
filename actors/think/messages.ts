/**
 * Messages of the think actor (one per session, in the `think` worker pool): it streams a reply
 * from the language model and hands the session speakable sentences as soon as each is complete.
 */
import type { ChatMessage, ToolCall, ToolDefinition } from '../../providers/contracts/llm.js';
import type { WireError } from '../../runtime/errors.js';

export type ThinkIn =
  /**
   * Answer the conversation so far; the reply belongs to the envelope's turn. With `tools`, the
   * model may call them (the session runs each call) for up to `maxToolRounds` rounds.
   */
  | {
      t: 'think.respond';
      messages: ChatMessage[];
      tools?: ToolDefinition[];
      maxToolRounds?: number;
      /** The TTS takes text as it is written: send sentence pieces to the speak actor directly, in this voice. */
      pieces?: { voice: { name?: string | null; language?: string | null } };
    }
  /** A one-shot completion (no tools, nothing spoken), answered with its text: memory summaries. */
  | { t: 'think.complete'; messages: ChatMessage[] };

/** Asked of the session (a request): run one tool call of the model. */
export type ToolCallRequest = { t: 'session.tool-call'; call: ToolCall };

/** What a tool call produced, as text for the model. */
export interface ToolResult {
  text: string;
  isError: boolean;
}

/** Sent to the session actor. */
export type ThinkOut =
  /** The next speakable segment, cleaned of markdown and emoji; `emotion` on the first one that has it. */
  | { t: 'session.reply-sentence'; text: string; index: number; emotion?: string; /** Already on its way to the speak actor, in pieces. */ spoken?: boolean }
  /** The reply is complete (or failed): `text` is everything the model said. */
  | { t: 'session.reply-done'; text: string; sentences: number; emotion?: string; firstTextMs?: number; toolCalls?: number; error?: WireError };

export interface ThinkInit {
  session: string;
  sessionAddr: string;
  /** The session's speak actor (linked): sentence pieces go there without a hop through main. */
  speakAddr?: string;
}

/** What every think worker boots with: the configured model instances and the chain to use. */
export interface ThinkBoot {
  llm: Record<string, { type: string; [k: string]: unknown }>;
  chain: string[];
  vllm: Record<string, { type: string; [k: string]: unknown }>;
  vllmChain: string[];
  /** Start the next model of the chain if the first has said nothing after this long (0 = off). */
  hedgeMs: number;
}
