/**
 * A reply through the think actor versus the raw model stream: the fake OpenAI server streams N
 * tokens forming sentences; one row reads them with the adapter on this thread, the other asks
 * a think actor in a worker (pooled provider, sentence splitting, one message per sentence back
 * to a main-thread stand-in for the session) and waits for `session.reply-done`. Per token, so
 * the difference of the means is what the actor path adds per token.
 */
import { defineActor } from '../runtime/actor.js';
import { ActorSystem } from '../runtime/system.js';
import { startPools } from '../actors/pools/pools.js';
import { createOpenAiLlm } from '../providers/llm/openai/index.js';
import { startFakeOpenAI } from '../test/doubles/fake-openai.js';
import { interleavedSamples, perUnitRow, type BenchOptions, type BenchReport } from './run.js';

const N = 600;
const DIRECT = 'adapter on the main thread';

export async function run(opts: BenchOptions): Promise<BenchReport> {
  // Tokens of 3–6 characters with a sentence end every 12 tokens, as spoken replies have.
  const pieces = Array.from({ length: N }, (_, i) => (i % 12 === 11 ? ' done.' : i % 2 ? ' word' : ' say'));
  const fake = await startFakeOpenAI({ reply: { text: pieces, chunk: 'whole' } });
  const llmCfg = { type: 'openai', base_url: fake.url, model: 'bench', api_key: 'k' };
  const direct = createOpenAiLlm('direct', llmCfg);
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const system = new ActorSystem();
  system.addPool({
    name: 'think',
    size: 1,
    modules: [new URL(`../actors/think/module${ext}`, import.meta.url)],
    data: { llm: { b: llmCfg }, chain: ['b'], vllm: {}, vllmChain: [], hedgeMs: 0 },
  });
  await system.start();
  await startPools(system);
  let done: (() => void) | undefined;
  let sentences = 0;
  await system.spawn(
    'session/bench',
    defineActor<null, void, { t: string }>({
      mailbox: { capacity: 4096, overflow: 'fail' },
      start: () => null,
      receive(_s, m) {
        if (m.t === 'session.reply-sentence') sentences++;
        else if (m.t === 'session.reply-done') done?.();
      },
    }),
    undefined,
  );
  await system.spawn('think/bench', 'think', { session: 'bench', sessionAddr: 'session/bench' }, { pool: 'think', session: 'bench' });
  const signal = new AbortController().signal;
  const messages = [{ role: 'user' as const, content: 'talk' }];

  const tasks: { name: string; fn: () => Promise<void> }[] = [
    {
      name: DIRECT,
      fn: async () => {
        let n = 0;
        for await (const d of direct.stream({ messages, signal })) if (d.kind === 'text') n++;
        if (n !== N) throw new Error(`adapter yielded ${n} texts, want ${N}`);
      },
    },
    {
      name: 'think actor (worker → sentences → main)',
      fn: () =>
        new Promise<void>((resolve) => {
          done = resolve;
          system.send('think/bench', { t: 'think.respond', messages }, { session: 'bench' });
        }),
    },
  ];
  let samples: Map<string, number[]>;
  try {
    samples = await interleavedSamples(tasks, opts, 3);
  } finally {
    await direct.close?.();
    await system.shutdown();
    await fake.close();
  }
  const rows = tasks.map((t) => perUnitRow(t.name, samples.get(t.name)!, N));
  const base = rows[0]!;
  const actor = rows[1]!;
  actor.ratio = actor.meanUs / base.meanUs;
  actor.vs = DIRECT;
  return {
    title: `Think actor: a ${N}-token reply, µs per token`,
    rows,
    notes: [
      `the actor path adds ${(actor.meanUs - base.meanUs).toFixed(2)} µs per token (${(((actor.meanUs - base.meanUs) * N) / 1000).toFixed(2)} ms per reply): worker hop, pool permit, splitting, ${Math.round(sentences / Math.max(1, samples.get(tasks[1]!.name)!.length))} sentence messages per reply`,
    ],
  };
}
