/**
 * What a conversation hands the language model and runs for it: the turn's system prompt (role,
 * time, memory, device facts) and the model's tool calls, which run here on the main thread
 * where the device's MCP and the server functions live.
 */
import { toWire } from '../../runtime/errors.js';
import type { ToolCall } from '../../providers/contracts/llm.js';
import type { ToolResult } from '../think/messages.js';
import type { History } from '../dialogue/history.js';
import { renderSystemPrompt } from '../dialogue/prompt.js';
import { toolAllowed, type Role } from '../dialogue/roles.js';
import type { ConversationDeps } from './conversation-types.js';

export function systemPromptFor(d: ConversationDeps, role: Role, memory: string): string {
  const text = renderSystemPrompt({
    assistantName: d.dialogue.settings.assistant_name,
    language: d.dialogue.profile.language ?? role.language,
    timezone: d.dialogue.settings.timezone ?? undefined,
    now: Date.now(),
    roleName: role.name,
    rolePrompt: role.prompt,
    memory,
    device: d.device?.facts(),
  }).text;
  // For the next turn: this one uses what is known now.
  d.device?.refresh();
  return text;
}

/** Runs one tool call; failures come back as an error result for the model, never as a throw. */
export async function runToolCall(d: ConversationDeps, role: Role, history: History, call: ToolCall, signal: AbortSignal): Promise<ToolResult> {
  const started = d.clock.now();
  try {
    // The model may call a tool it was not offered: the role's allow-list holds either way.
    if (!d.tools().definitions((t) => t.definition.name === call.name && toolAllowed(role, t)).length) {
      return { text: `error: tool ${call.name} is not available to this role`, isError: true };
    }
    const r = await d.tools().call(call.name, call.argsJson, { sessionId: d.sessionId, deviceId: d.deviceId, signal });
    d.device?.invalidate();
    d.log.info({ tool: call.name, ms: Math.round(d.clock.now() - started), isError: r.isError }, 'tool call');
    if (!signal.aborted) history.addToolRound([call], [{ id: call.id, text: r.text }]);
    return r;
  } catch (e) {
    const w = toWire(e);
    d.log.warn({ tool: call.name, code: w.code }, `tool call failed: ${w.message}`);
    return { text: `error: ${w.message}`, isError: true };
  }
}
