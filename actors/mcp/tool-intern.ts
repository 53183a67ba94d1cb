/**
 * One copy of each distinct device tool list for the whole process. Thousands of devices of one
 * board and firmware list the same tools, word for word; holding a parsed copy (plus its
 * model-facing copy) per session cost ~8 KiB per idle device, half the memory budget of a
 * connection. Lists are frozen, so sharing them is safe.
 *
 * Entries are weak: when the last session holding a list ends, the list and its key go.
 */
import type { DeviceTool } from './types.js';
import { toLlmTools, type LlmTools, type LlmToolsOptions } from './tool-names.js';

const EMPTY: readonly DeviceTool[] = Object.freeze([]);
const lists = new Map<string, WeakRef<readonly DeviceTool[]>>();
const gone = new FinalizationRegistry<string>((key) => {
  // A newer list may already sit under the key (re-interned after the old one was dropped).
  if (lists.get(key)?.deref() === undefined) lists.delete(key);
});
const llmViews = new WeakMap<readonly DeviceTool[], Map<string, LlmTools>>();

/** The shared, frozen copy of a list with this exact content (order included). */
export function internTools(tools: readonly DeviceTool[]): readonly DeviceTool[] {
  if (tools.length === 0) return EMPTY;
  const key = JSON.stringify(tools);
  const hit = lists.get(key)?.deref();
  if (hit) return hit;
  const shared = Object.freeze(tools.map((t) => deepFreeze(structuredClone(t))));
  lists.set(key, new WeakRef(shared));
  gone.register(shared, key);
  return shared;
}

/**
 * The model-facing view of an interned list, computed once per list and option set. A list
 * that was not interned gets a fresh view each time (nothing to key it on safely).
 */
export function llmToolsOf(tools: readonly DeviceTool[], opts: LlmToolsOptions = {}): LlmTools {
  if (!Object.isFrozen(tools)) return toLlmTools(tools, opts);
  let views = llmViews.get(tools);
  if (!views) llmViews.set(tools, (views = new Map()));
  const key = JSON.stringify([opts.includeUserOnly ?? false, [...(opts.reserved ?? [])]]);
  let view = views.get(key);
  if (!view) {
    view = toLlmTools(tools, opts);
    // Another option set replaces the oldest: a list is seen with one or two in practice.
    if (views.size >= 8) views.delete(views.keys().next().value!);
    views.set(key, view);
  }
  return view;
}

/** Distinct lists alive now (for /status and tests). */
export function internedToolLists(): number {
  let n = 0;
  for (const r of lists.values()) if (r.deref()) n++;
  return n;
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
