/**
 * Our contract's messages and tools → an OpenAI Chat Completions request body. Every
 * OpenAI-compatible vendor takes this shape; vendor quirks (DeepSeek's thinking switch, Qwen's
 * `enable_thinking`, `max_completion_tokens`) come from the instance's `body` option, merged last.
 */
import type { ChatMessage, LlmRequest } from '../../contracts/llm.js';
import { ToolNames } from './tool-names.js';

export interface OpenAiBodyOptions {
  readonly model: string;
  readonly temperature?: number | undefined;
  readonly maxTokens?: number | undefined;
  /** Extra fields merged into the body; they win over ours, except `stream`. */
  readonly extra: Readonly<Record<string, unknown>>;
}

/** Every tool name a request mentions: its definitions and the calls in its history. */
export function toolNamesOf(req: LlmRequest): ToolNames {
  const names: string[] = [];
  for (const t of req.tools ?? []) names.push(t.name);
  for (const m of req.messages) for (const c of m.toolCalls ?? []) names.push(c.name);
  return new ToolNames(names);
}

function message(m: ChatMessage, names: ToolNames): Record<string, unknown> {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
  if (m.role === 'assistant' && m.toolCalls?.length) {
    return {
      role: 'assistant',
      // Some compatible servers reject an empty string beside tool_calls; null is what OpenAI sends.
      content: m.content === '' ? null : m.content,
      tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: names.out(c.name), arguments: c.argsJson } })),
    };
  }
  if (m.images?.length) {
    return {
      role: m.role,
      content: [{ type: 'text', text: m.content }, ...m.images.map((i) => ({ type: 'image_url', image_url: { url: `data:${i.mimeType};base64,${i.base64}` } }))],
    };
  }
  return { role: m.role, content: m.content };
}

export function openAiBody(req: LlmRequest, names: ToolNames, o: OpenAiBodyOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: o.model,
    stream: true,
    stream_options: { include_usage: true },
    messages: req.messages.map((m) => message(m, names)),
  };
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({ type: 'function', function: { name: names.out(t.name), description: t.description, parameters: t.parameters } }));
    body.tool_choice = 'auto';
  }
  const temperature = req.temperature ?? o.temperature;
  if (temperature !== undefined) body.temperature = temperature;
  const maxTokens = req.maxTokens ?? o.maxTokens;
  if (maxTokens !== undefined) body.max_tokens = maxTokens;
  return { ...body, ...o.extra, stream: true };
}
