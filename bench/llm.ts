/**
 * Language model streaming: what the OpenAI adapter costs per token on top of reading the same
 * bytes from the socket. The fake OpenAI server (test/doubles) streams N tokens as fast as it can
 * (the whole SSE body in one write); each row reads one full response per iteration:
 *
 *   raw undici read              request() + drain the body: the floor (includes the fake's own
 *                                rendering and the loopback transfer, in this same process)
 *   + SSE parse                  the same read through SseParser
 *   + SSE parse + JSON.parse     and every event parsed, as any client must
 *   openai adapter               provider.stream(): the above plus delta folding and the async
 *                                generator hand-off of one `text` delta per token
 *
 * Rows are per token (an iteration's time divided by N), so ops/s reads as tokens per second and
 * the mean difference to the first row is the latency the adapter adds per token.
 */
import { Agent, request } from 'undici';
import { createOpenAiLlm } from '../providers/llm/openai/index.js';
import { SseParser } from '../providers/http/sse.js';
import { startFakeOpenAI } from '../test/doubles/fake-openai.js';
import { interleavedSamples, perUnitRow, type BenchOptions, type BenchReport } from './run.js';

const N = 1000;
const ROUNDS = 3;
const RAW = 'raw undici read';

export async function run(opts: BenchOptions): Promise<BenchReport> {
  // Mixed ASCII and Chinese tokens, 2–3 characters each, like a bilingual model's output.
  const pieces = Array.from({ length: N }, (_, i) => (i % 3 === 0 ? '你好' : i % 3 === 1 ? ' ok' : '世界,'));
  const fake = await startFakeOpenAI({ reply: { text: pieces, usage: { input: 20, output: N }, chunk: 'whole' } });
  const provider = createOpenAiLlm('bench', { type: 'openai', base_url: fake.url, model: 'bench', api_key: 'k' });
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const url = `${fake.url}/chat/completions`;
  const body = JSON.stringify({ model: 'bench', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'count' }] });
  const headers = { 'content-type': 'application/json', authorization: 'Bearer k' };
  const signal = new AbortController().signal;
  let bytes = 0;
  let events = 0;
  let created = 0;

  const raw = async (onChunk?: (c: Uint8Array) => void): Promise<void> => {
    const res = await request(url, { method: 'POST', headers, body, dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`fake answered ${res.statusCode}`);
    let n = 0;
    for await (const c of res.body) {
      n += (c as Uint8Array).byteLength;
      onChunk?.(c as Uint8Array);
    }
    bytes = n;
  };
  const tasks: { name: string; fn: () => Promise<void> }[] = [
    { name: RAW, fn: () => raw() },
    {
      name: '+ SSE parse',
      fn: () => {
        const p = new SseParser();
        events = 0;
        return raw((c) => void (events += p.push(c).length));
      },
    },
    {
      name: '+ SSE parse + JSON.parse',
      fn: () => {
        const p = new SseParser();
        return raw((c) => {
          for (const ev of p.push(c)) if (ev.data !== '[DONE]') created = (JSON.parse(ev.data) as { created: number }).created;
        });
      },
    },
    {
      name: 'openai adapter (deltas)',
      fn: async () => {
        let texts = 0;
        for await (const d of provider.stream({ messages: [{ role: 'user', content: 'count' }], signal })) if (d.kind === 'text') texts++;
        if (texts !== N) throw new Error(`adapter yielded ${texts} texts, want ${N}`);
      },
    },
  ];

  let samples: Map<string, number[]>;
  try {
    samples = await interleavedSamples(tasks, opts, ROUNDS);
  } finally {
    await provider.close?.();
    await agent.close();
    await fake.close();
  }
  const rows = tasks.map((t) => perUnitRow(t.name, samples.get(t.name)!, N));
  const base = rows[0]!;
  for (const r of rows.slice(1)) {
    r.ratio = r.meanUs / base.meanUs;
    r.vs = RAW;
  }
  const adapter = rows.at(-1)!;
  return {
    title: `LLM streaming: OpenAI SSE from the fake, µs per token (${N} tokens, ${(bytes / 1024).toFixed(0)} KiB per response)`,
    rows,
    notes: [
      `ops/s = tokens/s on one thread; the fake renders and writes each response in this same process (in every row alike)`,
      `adapter adds ${(adapter.meanUs - base.meanUs).toFixed(2)} µs per token over a raw read (${((adapter.meanUs - base.meanUs) * N / 1000).toFixed(2)} ms per ${N}-token reply)`,
      `${events} SSE events per response (created ${created}); ${ROUNDS} interleaved rounds`,
    ],
  };
}
