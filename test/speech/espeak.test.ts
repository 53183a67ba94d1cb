// espeak-ng through the spawner: plausible English and Mandarin audio at the declared rate,
// streamed as it is produced, voices and prosody mapped from the Voice contract, prompt abort.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PcmChunk } from '../../providers/contracts/audio.js';
import { EspeakTts, espeakArgs, parseEspeakConfig, pickVoice } from '../../providers/tts/espeak/index.js';
import { T, childrenOf, concatPcm, median, needTools, rms, useSpawner } from './helpers.js';

const fx = useSpawner(after, before);
const tts = (cfg: Record<string, unknown> = {}): EspeakTts => new EspeakTts('local', parseEspeakConfig(cfg), () => Promise.resolve(fx.client));

async function collect(it: AsyncIterable<PcmChunk>): Promise<{ chunks: PcmChunk[]; firstMs: number; totalMs: number }> {
  const t0 = performance.now();
  let firstMs = NaN;
  const chunks: PcmChunk[] = [];
  for await (const c of it) {
    if (chunks.length === 0) firstMs = performance.now() - t0;
    chunks.push(c);
  }
  return { chunks, firstMs, totalMs: performance.now() - t0 };
}

test('voices and prosody map from the Voice contract', T, () => {
  const cfg = parseEspeakConfig({});
  assert.equal(pickVoice(cfg, { language: 'zh-CN' }), 'cmn');
  assert.equal(pickVoice(cfg, { language: 'zh' }), 'cmn');
  assert.equal(pickVoice(cfg, { language: 'en-GB' }), 'en-us');
  assert.equal(pickVoice(cfg, { language: 'fr' }), 'en-us');
  assert.equal(pickVoice(cfg, {}), 'en-us');
  assert.equal(pickVoice(cfg, { name: 'en-gb', language: 'zh' }), 'en-gb');
  assert.equal(pickVoice(parseEspeakConfig({ voices: { fr: 'fr' } }), { language: 'fr-FR' }), 'fr');
  assert.equal(pickVoice(parseEspeakConfig({ voice: 'de' }), { language: 'zh' }), 'de');
  assert.deepEqual(espeakArgs(cfg, {}), ['--stdout', '--stdin', '-v', 'en-us', '-s', '175', '-p', '50']);
  assert.deepEqual(espeakArgs(cfg, { rate: 1.5, pitch: 3 }).slice(4), ['-s', '263', '-p', '63']);
  assert.deepEqual(espeakArgs(cfg, { rate: 10, pitch: -40 }).slice(4), ['-s', '450', '-p', '0'], 'clamped');
  assert.throws(() => espeakArgs(cfg, { name: '--help' }), { code: 'XZ_ERR_TTS_BAD_VOICE' });
  assert.throws(() => parseEspeakConfig({ wpm: 'fast' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  assert.throws(() => parseEspeakConfig({ voices: { en: '-x' } }), { code: 'XZ_ERR_CONFIG_INVALID' });
});

test('"hello world" becomes 0.5–3 s of audible PCM at the declared 22050 Hz, streamed', T, async (t) => {
  if (!needTools(t, 'espeak-ng')) return;
  const p = tts();
  assert.deepEqual(p.caps, { sampleRate: 22_050, streamingAudio: true, streamingText: false });
  const { chunks, firstMs, totalMs } = await collect(p.synthesize({ text: 'hello world', voice: { language: 'en' }, signal: new AbortController().signal }));
  const pcm = concatPcm(chunks.map((c) => c.pcm));
  const seconds = pcm.length / 22_050;
  t.diagnostic(`hello world: ${seconds.toFixed(2)} s of audio in ${chunks.length} chunks; first chunk ${firstMs.toFixed(1)} ms, all ${totalMs.toFixed(1)} ms`);
  assert.ok(chunks.every((c) => c.sampleRate === 22_050));
  assert.ok(seconds >= 0.5 && seconds <= 3, `${seconds} s`);
  assert.ok(rms(pcm) > 300, `audible (rms ${rms(pcm).toFixed(0)})`);
  assert.ok(chunks.every((c) => c.pcm.byteOffset === 0 && c.pcm.buffer.byteLength === c.pcm.byteLength), 'each chunk owns its buffer');

  // a 20-word sentence, a few times, for the synthesis cost
  const sentence = 'The quick brown fox jumps over the lazy dog while the small cat watches from the warm and sunny kitchen window today.';
  const times: number[] = [];
  for (let i = 0; i < 5; i++) times.push((await collect(p.synthesize({ text: sentence, voice: {}, signal: new AbortController().signal }))).totalMs);
  t.diagnostic(`20-word sentence: median ${median(times).toFixed(1)} ms end to end through the spawner`);
});

test('the Mandarin voice speaks Chinese text', T, async (t) => {
  if (!needTools(t, 'espeak-ng')) return;
  const { chunks } = await collect(tts().synthesize({ text: '你好，今天天气很好。', voice: { language: 'zh-CN' }, signal: new AbortController().signal }));
  const pcm = concatPcm(chunks.map((c) => c.pcm));
  const seconds = pcm.length / 22_050;
  assert.ok(seconds >= 0.8 && seconds <= 6, `${seconds} s`);
  assert.ok(rms(pcm) > 300);
  // rate 2 speaks the same text in clearly less time
  const fast = await collect(tts().synthesize({ text: '你好，今天天气很好。', voice: { language: 'zh-CN', rate: 2 }, signal: new AbortController().signal }));
  const fastSeconds = concatPcm(fast.chunks.map((c) => c.pcm)).length / 22_050;
  assert.ok(fastSeconds < seconds * 0.75, `${fastSeconds} s at rate 2 vs ${seconds} s`);
});

test('abort mid-synthesis ends the stream and the process within 50 ms', T, async (t) => {
  if (!needTools(t, 'espeak-ng')) return;
  const long = 'This sentence is long enough to keep the synthesiser busy for a while. '.repeat(400);
  const ac = new AbortController();
  const it = tts().synthesize({ text: long, voice: {}, signal: ac.signal })[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  const helper = fx.spawner.pid!;
  assert.ok(childrenOf(helper).some((c) => c.comm === 'espeak-ng'), 'still synthesising');
  const t0 = performance.now();
  ac.abort();
  // drain what had arrived; the stream must fail with the abort
  let err: unknown;
  try {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      /* buffered chunk */
    }
  } catch (e) {
    err = e;
  }
  const streamMs = performance.now() - t0;
  assert.equal((err as { code?: string }).code, 'XZ_ERR_ABORTED');
  while (childrenOf(helper).some((c) => c.comm === 'espeak-ng') && performance.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 1));
  const goneMs = performance.now() - t0;
  t.diagnostic(`abort → stream failed ${streamMs.toFixed(1)} ms, espeak-ng gone ${goneMs.toFixed(1)} ms`);
  assert.ok(streamMs < 50, `stream ${streamMs} ms`);
  assert.ok(goneMs < 50, `process ${goneMs} ms`);
});

test('a reader that stops early ends the process; an unknown voice is a coded error; empty text is silence', T, async (t) => {
  if (!needTools(t, 'espeak-ng')) return;
  const long = 'Another long passage to synthesise. '.repeat(400);
  for await (const c of tts().synthesize({ text: long, voice: {}, signal: new AbortController().signal })) {
    assert.ok(c.pcm.length > 0);
    break;
  }
  const t0 = performance.now();
  while (childrenOf(fx.spawner.pid!).some((c) => c.comm === 'espeak-ng') && performance.now() - t0 < 1000) await new Promise((r) => setTimeout(r, 1));
  assert.ok(performance.now() - t0 < 200, 'espeak-ng ended after the reader left');

  await assert.rejects(collect(tts().synthesize({ text: 'hi', voice: { name: 'xyzvoice' }, signal: new AbortController().signal })), {
    code: 'XZ_ERR_TTS_BAD_VOICE',
  });
  assert.equal((await collect(tts().synthesize({ text: '   ', voice: {}, signal: new AbortController().signal }))).chunks.length, 0);
  await assert.rejects(collect(tts().synthesize({ text: 'hi', voice: {}, signal: AbortSignal.abort() })), { code: 'XZ_ERR_ABORTED' });
});
