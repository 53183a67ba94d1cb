/**
 * What every AsrProvider must do, as one suite run against each vendor (its fake) and the local
 * engines: 16 kHz declared, audio written in 60 ms frames as the listen actor writes it, partials
 * (if any) before exactly one final which ends the stream, write-after-end refused, prompt abort
 * of a recognition in flight (the iteration ends within 50 ms and the vendor side sees it), and
 * failures that surface as coded errors of the right category.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { AsrEvent, AsrProvider } from '../../providers/contracts/asr.js';

export const AC = { timeout: 30_000 };

export interface AsrFault {
  readonly name: string;
  inject(): void;
  readonly code: string;
  readonly category: string;
}

export interface Utterance {
  /** 16 kHz mono speech. */
  readonly pcm: Int16Array;
  readonly language?: string;
  /** What the final text must be (exact or a pattern); undefined accepts any text. */
  readonly expect?: string | RegExp;
}

export interface AsrSubject {
  readonly provider: AsrProvider;
  utterance(): Promise<Utterance>;
  /** Makes the next recognition slow enough to abort it in flight (fakes); local engines are slow already. */
  slowNext?(): void;
  /** Resolves with the time (performance.now()) the vendor side saw the request given up. */
  sawCancel?(since: number): Promise<number>;
  readonly faults?: readonly AsrFault[];
  ready?(t: TestContext): boolean;
  close?(): Promise<void>;
}

const FRAME = 960; // 60 ms at 16 kHz

async function recognise(p: AsrProvider, u: Utterance, signal = new AbortController().signal): Promise<AsrEvent[]> {
  const s = p.open({ language: u.language, signal });
  for (let at = 0; at < u.pcm.length; at += FRAME) s.write(u.pcm.slice(at, at + FRAME));
  s.end();
  const events: AsrEvent[] = [];
  for await (const ev of s) events.push(ev);
  return events;
}

export function asrConformance(name: string, setup: () => Promise<AsrSubject>): void {
  let subject: Promise<AsrSubject> | undefined;
  const get = (): Promise<AsrSubject> => (subject ??= setup());
  after(async () => {
    if (subject) await (await subject).close?.();
  });
  const each = (title: string, body: (s: AsrSubject, t: TestContext) => Promise<void>): void => {
    test(`${name} conformance: ${title}`, AC, async (t) => {
      const s = await get();
      if (s.ready && !s.ready(t)) return;
      await body(s, t);
    });
  };

  each('16 kHz in, partials then exactly one final, which ends the stream', async (s, t) => {
    assert.equal(s.provider.caps.sampleRate, 16_000);
    const u = await s.utterance();
    const t0 = performance.now();
    const events = await recognise(s.provider, u);
    const last = events.at(-1);
    t.diagnostic(`${name}: ${(u.pcm.length / 16_000).toFixed(2)} s → ${JSON.stringify(last)} in ${(performance.now() - t0).toFixed(0)} ms`);
    assert.ok(last && last.kind === 'final', 'the last event is the final');
    assert.equal(events.filter((e) => e.kind === 'final').length, 1, 'exactly one final');
    if (!s.provider.caps.streaming) assert.equal(events.length, 1, 'a batch engine answers once');
    if (typeof u.expect === 'string') assert.equal(last.text, u.expect);
    else if (u.expect) assert.match(last.text, u.expect);
  });

  each('write after end() is refused; end() twice is harmless; a pre-aborted stream fails at once', async (s) => {
    const st = s.provider.open({ signal: new AbortController().signal });
    st.end();
    st.end();
    assert.throws(() => st.write(new Int16Array(FRAME)), { code: 'XZ_ERR_ASR_MISUSE' });
    for await (const ev of st) assert.equal(ev.kind, 'final'); // drain: no audio, no words (or nothing)
    const u = await s.utterance();
    await assert.rejects(recognise(s.provider, u, AbortSignal.abort()), { code: 'XZ_ERR_ABORTED' });
  });

  each('abort in flight ends the iteration within 50 ms and the vendor sees it', async (s, t) => {
    const u = await s.utterance();
    s.slowNext?.();
    const ac = new AbortController();
    const st = s.provider.open({ language: u.language, signal: ac.signal });
    for (let at = 0; at < u.pcm.length; at += FRAME) st.write(u.pcm.slice(at, at + FRAME));
    st.end();
    const done = (async () => {
      for await (const ev of st) void ev;
    })();
    await new Promise((r) => setTimeout(r, 60)); // the recognition is under way by now
    const t0 = performance.now();
    ac.abort();
    await assert.rejects(done, { code: 'XZ_ERR_ABORTED' });
    const endedMs = performance.now() - t0;
    const seenMs = s.sawCancel ? (await s.sawCancel(t0)) - t0 : NaN;
    t.diagnostic(`${name}: abort → iteration ended ${endedMs.toFixed(1)} ms, vendor saw it ${seenMs.toFixed(1)} ms`);
    assert.ok(endedMs < 50, `iteration ended after ${endedMs} ms`);
    if (s.sawCancel) assert.ok(seenMs < 200, `vendor saw the cancel after ${seenMs} ms`);
    assert.equal((await recognise(s.provider, u)).at(-1)?.kind, 'final', 'usable after an abort');
  });

  each('injected failures surface as coded errors of the right category', async (s, t) => {
    if (!s.faults?.length) return t.skip('no injectable failures (local engine)');
    const u = await s.utterance();
    for (const f of s.faults) {
      f.inject();
      await assert.rejects(recognise(s.provider, u), (e: { code?: string; category?: string }) => {
        assert.equal(e.code, f.code, `${f.name}: code`);
        assert.equal(e.category, f.category, `${f.name}: category`);
        return true;
      });
      t.diagnostic(`${name}: ${f.name} → ${f.code} (${f.category})`);
      assert.equal((await recognise(s.provider, u)).at(-1)?.kind, 'final', `${f.name}: works again after`);
    }
  });
}
