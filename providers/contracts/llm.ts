/**
 * Language models: messages and tool definitions in, a stream of deltas out (text, tool calls,
 * usage, end). One contract serves every vendor; fallback, retry, pooling and hedging are
 * adapters implementing it too.
 *
 * Abort (the signal) must end the iteration promptly and close the vendor connection; vendor
 * failures end it with a coded error whose category says whether another provider could help.
 */

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ToolCall {
  /** Vendor-issued id, echoed back on the tool result. */
  readonly id: string;
  readonly name: string;
  /** Arguments as the model wrote them (JSON text, possibly invalid). */
  readonly argsJson: string;
}

export interface ChatMessage {
  readonly role: Role;
  readonly content: string;
  /** On assistant messages that called tools. */
  readonly toolCalls?: readonly ToolCall[];
  /** On tool messages: the call this answers. */
  readonly toolCallId?: string;
  /** On user messages, for models that see images (vision): base64 data. */
  readonly images?: readonly { readonly mimeType: string; readonly base64: string }[];
}

export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: Record<string, unknown>;
}

export interface LlmRequest {
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly ToolDefinition[];
  readonly temperature?: number;
  readonly maxTokens?: number;
  /** Stable per-device user id, for vendors that keep conversations (Coze, Dify). */
  readonly user?: string;
  readonly signal: AbortSignal;
}

export type LlmDelta =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'tool-call'; readonly call: ToolCall }
  | { readonly kind: 'usage'; readonly inputTokens: number; readonly outputTokens: number }
  | { readonly kind: 'end'; readonly reason: 'stop' | 'length' | 'tool-calls' | 'filtered' | 'other' };

export interface LlmCapabilities {
  readonly tools: boolean;
  readonly vision: boolean;
  readonly maxContextTokens: number;
}

export interface LlmProvider {
  readonly id: string;
  readonly caps: LlmCapabilities;
  stream(req: LlmRequest): AsyncIterable<LlmDelta>;
  close?(): Promise<void>;
}
