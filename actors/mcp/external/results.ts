/**
 * A `tools/call` result, or the failure of one, as the text a language model reads. The model
 * takes text only: text items are joined, anything else is summarized in brackets so the model
 * knows something came back (`[image: image/png, 12 KB]`). Failures carry a stable code so logs
 * and tests can tell a timeout from a dead server without parsing the message.
 */
import { McpError, ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { E, XzError, toWire } from '../../../runtime/errors.js';
import { MCP } from '../errors.js';

export interface ExternalToolResult {
  readonly text: string;
  readonly isError: boolean;
  /** Set when the call itself failed (no answer, dead server…), not when the tool reported an error. */
  readonly code?: string;
}

export const DEFAULT_MAX_RESULT_CHARS = 16_000;

/** Builds the result of a call that did not produce a tool answer. */
export function errorResult(code: string, message: string): ExternalToolResult {
  return { text: `error ${code}: ${message}`, isError: true, code };
}

export function resultFromError(err: XzError): ExternalToolResult {
  return errorResult(err.code, err.message);
}

/** The answer of `tools/call` (content items, maybe structured content) as model text. */
export function resultFromCall(r: Record<string, unknown>, maxChars = DEFAULT_MAX_RESULT_CHARS): ExternalToolResult {
  const isError = r['isError'] === true;
  const parts: string[] = [];
  const content = Array.isArray(r['content']) ? (r['content'] as unknown[]) : [];
  for (const item of content) parts.push(describe(item));
  if (parts.length === 0 && r['structuredContent'] !== undefined) parts.push(JSON.stringify(r['structuredContent']));
  // Servers speaking the 2024-10-07 revision answer with `toolResult`.
  if (parts.length === 0 && r['toolResult'] !== undefined) parts.push(typeof r['toolResult'] === 'string' ? r['toolResult'] : JSON.stringify(r['toolResult']));
  let text = parts.filter((p) => p !== '').join('\n');
  if (text.length > maxChars) text = `${text.slice(0, maxChars)}… [truncated, ${text.length} characters in all]`;
  return { text, isError };
}

function describe(item: unknown): string {
  if (typeof item !== 'object' || item === null) return '';
  const it = item as Record<string, unknown>;
  const mime = typeof it['mimeType'] === 'string' ? it['mimeType'] : 'unknown type';
  switch (it['type']) {
    case 'text':
      return typeof it['text'] === 'string' ? it['text'] : '';
    case 'image':
    case 'audio':
      return `[${it['type']}: ${mime}, ${size(it['data'])}]`;
    case 'resource_link':
      return `[resource: ${String(it['name'] ?? '')} ${String(it['uri'] ?? '')}]`.replace(/ +]/, ']');
    case 'resource': {
      const res = (typeof it['resource'] === 'object' && it['resource'] !== null ? it['resource'] : {}) as Record<string, unknown>;
      if (typeof res['text'] === 'string') return res['text'];
      const m = typeof res['mimeType'] === 'string' ? res['mimeType'] : 'unknown type';
      return `[resource: ${String(res['uri'] ?? '')}, ${m}, ${size(res['blob'])}]`;
    }
    default:
      return `[${String(it['type'] ?? 'unknown')} content]`;
  }
}

/** Decoded size of base64 data, for the summary. */
function size(b64: unknown): string {
  if (typeof b64 !== 'string') return 'no data';
  const bytes = Math.floor((b64.length * 3) / 4);
  return bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : `${bytes} bytes`;
}

/**
 * Why a call failed, as a coded error. `transportFailed` says the failure was the channel's, not
 * the tool's (the caller then checks whether the server is still there).
 */
export function classifyCallError(err: unknown, ctx: { server: string; tool: string; timeoutMs: number; signal?: AbortSignal | undefined }): { error: XzError; transportFailed: boolean } {
  const what = `${ctx.server}: ${ctx.tool}`;
  if (ctx.signal?.aborted) return { error: new XzError(E.XZ_ERR_ABORTED, `${what}: call cancelled`), transportFailed: false };
  if (err instanceof XzError) return { error: err, transportFailed: err.code === MCP.XZ_ERR_MCP_CLOSED };
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout) {
      return { error: new XzError(MCP.XZ_ERR_MCP_TIMEOUT, `${what}: no answer within ${ctx.timeoutMs} ms`), transportFailed: false };
    }
    if (err.code === ErrorCode.ConnectionClosed) {
      return { error: new XzError(MCP.XZ_ERR_MCP_CLOSED, `${what}: the server went away during the call`), transportFailed: true };
    }
    // A JSON-RPC error reply (unknown tool, invalid params…): the server is fine, the call was not.
    return { error: new XzError(MCP.XZ_ERR_MCP_TOOL_FAILED, `${what}: ${err.message}`, { details: { rpcCode: err.code } }), transportFailed: false };
  }
  // fetch failures, HTTP status errors of the transports, a write to a dead process.
  const w = toWire(err);
  return { error: new XzError(MCP.XZ_ERR_MCP_CLOSED, `${what}: ${w.message}`, { cause: err }), transportFailed: true };
}
