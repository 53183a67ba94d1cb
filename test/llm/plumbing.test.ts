// The shared HTTP streaming plumbing on its own: the SSE parser against the rules of vendors.md §9
// (and against every way a network can cut its input), the NDJSON splitter, status → error
// mapping with retry-after, vendor-safe tool names, and the registry knowing every vendor type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NdjsonSplitter, SseParser, type SseEvent } from '../../providers/http/sse.js';
import { retryAfterMs, statusError } from '../../providers/http/status.js';
import { ToolNames } from '../../providers/llm/openai/tool-names.js';
import { createLlm, llmTypes } from '../../providers/llm/registry.js';
import { rng } from '../doubles/chunker.js';
import { T } from './conformance.js';

const enc = (s: string) => Buffer.from(s, 'utf8');

function parse(pieces: readonly Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const b of pieces) out.push(...p.push(b));
  out.push(...p.end());
  return out;
}

test('sse: fields, comments, multi-line data, event names, one optional space', T, () => {
  const s = [
    ': keep-alive', '', // a comment alone dispatches nothing
    'data: {"a":1}', '',
    'event:conversation.message.delta', 'data:{"b":2}', '',
    'data: line one', 'data:line two', 'data:  two spaces keep one', '',
    'event: ping', '', // Dify: an event without data
    'id: 7', 'retry: 100', 'data', '', // a field without a colon has an empty value
    'data: [DONE]', '',
  ].join('\n') + '\n';
  assert.deepEqual(parse([enc(s)]), [
    { event: undefined, data: '{"a":1}' },
    { event: 'conversation.message.delta', data: '{"b":2}' },
    { event: undefined, data: 'line one\nline two\n two spaces keep one' },
    { event: 'ping', data: '' },
    { event: undefined, data: '' },
    { event: undefined, data: '[DONE]' },
  ]);
});

test('sse: LF, CRLF and lone CR line ends mean the same', T, () => {
  const body = ['event:x', 'data: 你好', '', 'data: b', ''];
  const want = parse([enc(body.join('\n') + '\n')]);
  assert.deepEqual(parse([enc(body.join('\r\n') + '\r\n')]), want);
  assert.deepEqual(parse([enc(body.join('\r') + '\r')]), want);
});

test('sse: a final event without its blank line is still delivered', T, () => {
  assert.deepEqual(parse([enc('data: a\n\ndata: tail')]), [{ event: undefined, data: 'a' }, { event: undefined, data: 'tail' }]);
});

test('sse: every split point and random splits (mid-line, mid-CRLF, mid-character) give the same events', T, () => {
  const text = 'event:conversation.message.delta\r\ndata:{"content":"从前有座山🙂"}\r\n\r\n: ping\r\n\r\ndata: {"x":"é"}\n\ndata: a\rdata: b\r\r';
  const bytes = enc(text);
  const want = parse([bytes]);
  assert.equal(want.length, 3);
  for (let i = 1; i < bytes.length; i++) assert.deepEqual(parse([bytes.subarray(0, i), bytes.subarray(i)]), want, `split at ${i}`);
  const next = rng(99);
  for (let round = 0; round < 300; round++) {
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + Math.floor(next() * 6);
      pieces.push(bytes.subarray(at, at + n));
      at += n;
    }
    assert.deepEqual(parse(pieces), want);
  }
});

test('ndjson: lines split anywhere, blank lines and CRLF tolerated, last line without LF kept', T, () => {
  const bytes = enc('{"a":"杭州"}\n\n{"b":2}\r\n{"c":3}');
  for (let i = 1; i < bytes.length; i++) {
    const s = new NdjsonSplitter();
    const lines = [...s.push(bytes.subarray(0, i)), ...s.push(bytes.subarray(i)), ...s.end()];
    assert.deepEqual(lines.map((l) => JSON.parse(l)), [{ a: '杭州' }, { b: 2 }, { c: 3 }], `split at ${i}`);
  }
});

test('status: retry-after in seconds, in ms and as a date; categories by status and vendor code', T, () => {
  assert.equal(retryAfterMs({ 'retry-after': '2' }), 2000);
  assert.equal(retryAfterMs({ 'retry-after-ms': '1500.5', 'retry-after': '9' }), 1501);
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterMs({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }, now), 3000);
  assert.equal(retryAfterMs({ 'retry-after': 'soon' }), undefined);
  const e = (status: number, vendorCode?: string) => statusError({ vendor: 'v', status, headers: {}, body: '', vendorCode });
  assert.equal(e(401).category, 'auth');
  assert.equal(e(403).category, 'forbidden');
  assert.equal(e(403).retryable, false);
  assert.equal(e(429).code, 'XZ_ERR_VENDOR_RATE_LIMIT');
  assert.equal(e(429, 'insufficient_quota').code, 'XZ_ERR_VENDOR_QUOTA');
  assert.equal(e(400).category, 'invalid-request');
  assert.equal(e(404).retryable, false);
  assert.equal(e(408).retryable, true);
  assert.equal(e(502).category, 'upstream');
  assert.equal(e(502).retryable, true);
});

test('tool names: sanitised for the vendor, unique, at most 64 characters, mapped back', T, () => {
  const long = `mcp.${'x'.repeat(80)}`;
  const names = new ToolNames(['self.audio_speaker.set_volume', 'self_audio_speaker_set_volume', 'get_weather', long, '天气']);
  const out = ['self.audio_speaker.set_volume', 'self_audio_speaker_set_volume', 'get_weather', long, '天气'].map((n) => names.out(n));
  for (const n of out) assert.match(n, /^[a-zA-Z0-9_-]{1,64}$/);
  assert.equal(new Set(out).size, out.length);
  assert.equal(out[2], 'get_weather', 'valid names pass unchanged');
  for (const [i, n] of out.entries()) assert.equal(names.back(n), ['self.audio_speaker.set_volume', 'self_audio_speaker_set_volume', 'get_weather', long, '天气'][i]);
  assert.equal(names.back('invented_by_model'), 'invented_by_model');
});

test('registry: every vendor type is known and builds a provider from its config slice', T, async () => {
  for (const type of ['openai', 'ollama', 'coze', 'dify']) assert.ok(llmTypes.includes(type), type);
  const cfgs = {
    openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', model: 'm', api_key: 'k' },
    ollama: { type: 'ollama', model: 'm' },
    coze: { type: 'coze', bot_id: 'b', api_key: 'k' },
    dify: { type: 'dify', api_key: 'k' },
  };
  for (const [id, cfg] of Object.entries(cfgs)) {
    const p = await createLlm(id, cfg);
    assert.equal(p.id, id);
    await p.close?.();
  }
  await assert.rejects(createLlm('x', { type: 'coze', api_key: 'k' }), /bot_id/);
});
