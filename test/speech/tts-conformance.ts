/**
 * What every TtsProvider must do, as one suite run against each vendor (its fake) and the local
 * engines: chunks at the declared rate, audio as long as the text plausibly takes, whole
 * requests in order and unmixed under concurrency, prompt abort (the iteration ends within
 * 50 ms and the vendor side sees the request given up), early exit, and failures that surface
 * as coded errors of the right category.
 *
 *   ttsConformance('edge', async () => ({ provider, longText, expected, sawCancel, faults }));
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { PcmChunk } from '../../providers/contracts/audio.js';
import type { TtsProvider, Voice } from '../../providers/contracts/tts.js';

export const TC = { timeout: 30_000 };

export interface TtsFault {
  readonly name: string;
  /** Arms the failure for the next request (at the fake). */
  inject(): void;
  readonly code: string;
  readonly category: string;
}

export interface TtsSubject {
  readonly provider: TtsProvider;
  readonly voice?: Voice;
  /** Long enough that audio is still streaming when the abort test aborts. */
  readonly longText: string;
  /** The exact samples a fake answers `text` with: checks order and framing to the sample. */
  expected?(text: string): Promise<Int16Array>;
  /** Resolves with the time (performance.now()) the vendor side saw the request given up. */
  sawCancel?(since: number): Promise<number>;
  readonly faults?: readonly TtsFault[];
  /** False skips the suite (a missing system tool outside CI). */
  ready?(t: TestContext): boolean;
  close?(): Promise<void>;
}

const SHORT = 'Hello, this is a short sentence for the test.';
const LONGER = `${SHORT} And here it goes on for a good while longer, so the audio is clearly longer too.`;

interface Run {
  chunks: PcmChunk[];
  pcm: Int16Array;
}

async function run(p: TtsProvider, text: string, voice: Voice = {}, signal = new AbortController().signal): Promise<Run> {
  const chunks: PcmChunk[] = [];
  for await (const c of p.synthesize({ text, voice, signal })) chunks.push(c);
  const pcm = new Int16Array(chunks.reduce((n, c) => n + c.pcm.length, 0));
  let at = 0;
  for (const c of chunks) {
    pcm.set(c.pcm, at);
    at += c.pcm.length;
  }
  return { chunks, pcm };
}

function sameSamples(got: Int16Array, want: Int16Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} samples, want ${want.length}`);
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) assert.fail(`${what}: sample ${i} is ${got[i]}, want ${want[i]}`);
}

export function ttsConformance(name: string, setup: () => Promise<TtsSubject>): void {
  let subject: Promise<TtsSubject> | undefined;
  const get = (): Promise<TtsSubject> => (subject ??= setup());
  after(async () => {
    if (subject) await (await subject).close?.();
  });
  const each = (title: string, body: (s: TtsSubject, t: TestContext) => Promise<void>): void => {
    test(`${name} conformance: ${title}`, TC, async (t) => {
      const s = await get();
      if (s.ready && !s.ready(t)) return;
      await body(s, t);
    });
  };

  each('chunks come at the declared rate, as long as the text plausibly takes', async (s, t) => {
    const rate = s.provider.caps.sampleRate;
    assert.ok(rate >= 8000 && rate <= 48_000, `declared ${rate} Hz`);
    const a = await run(s.provider, SHORT, s.voice);
    const b = await run(s.provider, LONGER, s.voice);
    for (const c of [...a.chunks, ...b.chunks]) {
      assert.equal(c.sampleRate, rate, 'every chunk at the declared rate');
      assert.ok(c.pcm.length > 0, 'no empty chunks');
      assert.ok(c.pcm instanceof Int16Array);
    }
    const secA = a.pcm.length / rate;
    const secB = b.pcm.length / rate;
    t.diagnostic(`${name}: ${SHORT.length} chars → ${secA.toFixed(2)} s in ${a.chunks.length} chunks; ${LONGER.length} chars → ${secB.toFixed(2)} s`);
    // Speech runs ~8–25 characters a second in any engine or voice here.
    assert.ok(secA > SHORT.length / 30 && secA < SHORT.length / 5, `${secA} s for ${SHORT.length} characters`);
    assert.ok(secB > secA * 1.4, `longer text, longer audio (${secB} vs ${secA} s)`);
    if (s.expected) {
      sameSamples(a.pcm, await s.expected(SHORT), 'short sentence');
      sameSamples(b.pcm, await s.expected(LONGER), 'longer sentence');
    }
  });

  each('concurrent requests each get their own audio, whole and in order', async (s) => {
    const texts = ['One two three four five.', 'Six seven eight nine ten eleven twelve thirteen.', 'Fourteen.'];
    const runs = await Promise.all(texts.map((x) => run(s.provider, x, s.voice)));
    for (const [i, r] of runs.entries()) {
      assert.ok(r.pcm.length > 0, texts[i]);
      if (s.expected) sameSamples(r.pcm, await s.expected(texts[i]!), texts[i]!);
    }
    assert.ok(runs[1]!.pcm.length > runs[2]!.pcm.length, 'longer text, longer audio, under concurrency too');
  });

  each('abort ends the iteration within 50 ms and the vendor sees the request given up', async (s, t) => {
    const ac = new AbortController();
    const it = s.provider.synthesize({ text: s.longText, voice: s.voice ?? {}, signal: ac.signal })[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.done, false, 'audio started');
    const t0 = performance.now();
    ac.abort();
    let err: unknown;
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) {
        /* nothing may come after the abort, but a provider may not know yet */
      }
    } catch (e) {
      err = e;
    }
    const endedMs = performance.now() - t0;
    assert.equal((err as { code?: string } | undefined)?.code, 'XZ_ERR_ABORTED', `ended with ${String(err)}`);
    const seenMs = s.sawCancel ? (await s.sawCancel(t0)) - t0 : NaN;
    t.diagnostic(`${name}: abort → iteration ended ${endedMs.toFixed(1)} ms, vendor saw it ${seenMs.toFixed(1)} ms`);
    assert.ok(endedMs < 50, `iteration ended after ${endedMs} ms`);
    if (s.sawCancel) assert.ok(seenMs < 200, `vendor saw the cancel after ${seenMs} ms`);
    // The provider stays usable after an abort.
    assert.ok((await run(s.provider, SHORT, s.voice)).pcm.length > 0);
  });

  each('a pre-aborted signal fails at once; blank text is silence; an early break is clean', async (s) => {
    await assert.rejects(run(s.provider, SHORT, s.voice, AbortSignal.abort()), { code: 'XZ_ERR_ABORTED' });
    assert.equal((await run(s.provider, '  \n ', s.voice)).chunks.length, 0);
    for await (const c of s.provider.synthesize({ text: s.longText, voice: s.voice ?? {}, signal: new AbortController().signal })) {
      assert.ok(c.pcm.length > 0);
      break;
    }
    const again = await run(s.provider, SHORT, s.voice);
    if (s.expected) sameSamples(again.pcm, await s.expected(SHORT), 'after an early break');
    else assert.ok(again.pcm.length > 0);
  });

  each('injected failures surface as coded errors of the right category', async (s, t) => {
    if (!s.faults?.length) return t.skip('no injectable failures (local engine)');
    for (const f of s.faults) {
      f.inject();
      const t0 = performance.now();
      await assert.rejects(run(s.provider, SHORT, s.voice), (e: { code?: string; category?: string }) => {
        assert.equal(e.code, f.code, `${f.name}: code`);
        assert.equal(e.category, f.category, `${f.name}: category`);
        return true;
      });
      t.diagnostic(`${name}: ${f.name} → ${f.code} (${f.category}) in ${(performance.now() - t0).toFixed(0)} ms`);
      // Each failure leaves the provider working.
      assert.ok((await run(s.provider, SHORT, s.voice)).pcm.length > 0, `${f.name}: works again after`);
    }
  });
}
