/**
 * Messages of the think actor (one per session, in the `think` worker pool): it streams a reply
 * from the language model and hands the session speakable sentences as soon as each is complete.
 */
import type { ChatMessage } from '../../providers/contracts/llm.js';
import type { WireError } from '../../runtime/errors.js';

export type ThinkIn =
  /** Answer the conversation so far; the reply belongs to the envelope's turn. */
  { t: 'think.respond'; messages: ChatMessage[] };

/** Sent to the session actor. */
export type ThinkOut =
  /** The next speakable segment, cleaned of markdown and emoji; `emotion` on the first one that has it. */
  | { t: 'session.reply-sentence'; text: string; index: number; emotion?: string }
  /** The reply is complete (or failed): `text` is everything the model said. */
  | { t: 'session.reply-done'; text: string; sentences: number; emotion?: string; firstTextMs?: number; error?: WireError };

export interface ThinkInit {
  session: string;
  sessionAddr: string;
}

/** What every think worker boots with: the configured model instances and the chain to use. */
export interface ThinkBoot {
  llm: Record<string, { type: string; [k: string]: unknown }>;
  chain: string[];
}
