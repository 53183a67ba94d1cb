/**
 * Folds `chat.completion.chunk` objects into contract deltas. Text passes straight through; tool
 * calls arrive as fragments (vendors.md §1.4) and are emitted whole, once the choice finishes,
 * with their arguments concatenated in order. Compatible vendors deviate: `index` missing, `id` and
 * `name` repeated on every fragment, whole arguments in one fragment or even as an object, no
 * `finish_reason` before `[DONE]`, `finish_reason: "stop"` on a tool call. This accepts all of them.
 */
import type { LlmDelta, ToolCall } from '../../contracts/llm.js';
import type { ToolNames } from './tool-names.js';

interface OpenCall {
  id: string;
  name: string;
  args: string;
}

type EndReason = Extract<LlmDelta, { kind: 'end' }>['reason'];

const FINISH: Record<string, EndReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool-calls',
  function_call: 'tool-calls',
  content_filter: 'filtered',
};

export class ChunkFolder {
  readonly #names: ToolNames;
  readonly #calls: OpenCall[] = [];
  readonly #byIndex = new Map<number, OpenCall>();
  readonly #byId = new Map<string, OpenCall>();
  #finish: string | undefined;
  #usage: { inputTokens: number; outputTokens: number } | undefined;

  constructor(names: ToolNames) {
    this.#names = names;
  }

  /** True once a choice reported how it finished. */
  get finished(): boolean {
    return this.#finish !== undefined;
  }

  /** One parsed chunk in; the text it carries out (tool calls wait for `finish`). */
  text(chunk: Record<string, unknown>): string {
    const usage = chunk.usage as { prompt_tokens?: unknown; completion_tokens?: unknown } | null | undefined;
    if (usage && typeof usage === 'object') {
      this.#usage = { inputTokens: Number(usage.prompt_tokens) || 0, outputTokens: Number(usage.completion_tokens) || 0 };
    }
    const choices = chunk.choices;
    // Empty on the usage chunk and on Azure's first chunk.
    if (!Array.isArray(choices) || choices.length === 0) return '';
    const choice = (choices.find((c: { index?: unknown }) => c?.index === 0 || c?.index === undefined) ?? choices[0]) as {
      delta?: { content?: unknown; tool_calls?: unknown };
      finish_reason?: unknown;
    };
    if (typeof choice?.finish_reason === 'string') this.#finish = choice.finish_reason;
    const delta = choice?.delta;
    if (!delta) return '';
    if (Array.isArray(delta.tool_calls)) for (const f of delta.tool_calls) this.#fragment(f as Fragment);
    return typeof delta.content === 'string' ? delta.content : '';
  }

  #fragment(f: Fragment): void {
    if (!f || typeof f !== 'object') return;
    const index = typeof f.index === 'number' ? f.index : undefined;
    const id = typeof f.id === 'string' && f.id !== '' ? f.id : undefined;
    let call = index !== undefined ? this.#byIndex.get(index) : id !== undefined ? this.#byId.get(id) : this.#calls.at(-1);
    if (!call || (index === undefined && id !== undefined && call.id !== id)) {
      call = { id: id ?? '', name: '', args: '' };
      this.#calls.push(call);
      if (index !== undefined) this.#byIndex.set(index, call);
    }
    if (id !== undefined) {
      if (call.id === '') call.id = id;
      this.#byId.set(id, call);
    }
    const fn = f.function;
    if (fn && typeof fn === 'object') {
      if (typeof fn.name === 'string' && call.name === '') call.name = fn.name;
      if (typeof fn.arguments === 'string') call.args += fn.arguments;
      else if (fn.arguments && typeof fn.arguments === 'object') call.args = JSON.stringify(fn.arguments);
    }
  }

  /** The closing deltas: whole tool calls, usage if reported, then end. */
  finish(): LlmDelta[] {
    const out: LlmDelta[] = [];
    this.#calls.forEach((c, i) => {
      const call: ToolCall = { id: c.id || `call_${i}`, name: this.#names.back(c.name), argsJson: c.args === '' ? '{}' : c.args };
      out.push({ kind: 'tool-call', call });
    });
    if (this.#usage) out.push({ kind: 'usage', ...this.#usage });
    // Any accumulated call means the model wants tools, whatever finish_reason claimed.
    const reason: EndReason = this.#calls.length ? 'tool-calls' : this.#finish === undefined ? 'stop' : (FINISH[this.#finish] ?? 'other');
    out.push({ kind: 'end', reason });
    return out;
  }
}

interface Fragment {
  index?: unknown;
  id?: unknown;
  function?: { name?: unknown; arguments?: unknown };
}
