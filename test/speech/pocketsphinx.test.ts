// pocketsphinx through the spawner, on real speech: espeak-ng says a phrase (22050 Hz), sox
// resamples it to 16 kHz, the ASR stream hears it. With a command grammar most phrases come back
// exactly; free-form English at least hears something. Temp files never outlive a request.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AsrEvent, AsrProvider } from '../../providers/contracts/asr.js';
import { PocketsphinxAsr, parseHypothesis, parsePocketsphinxConfig, pocketsphinxArgs } from '../../providers/asr/pocketsphinx/index.js';
import { EspeakTts, parseEspeakConfig } from '../../providers/tts/espeak/index.js';
import { T, concatPcm, median, needTools, resample, useSpawner } from './helpers.js';

const fx = useSpawner(after, before);
const GRAMMAR = fileURLToPath(new URL('../fixtures/speech/commands.gram', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'xz-asr-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const asr = (cfg: Record<string, unknown> = {}): PocketsphinxAsr =>
  new PocketsphinxAsr('local', parsePocketsphinxConfig({ tmp_dir: scratch, ...cfg }), () => Promise.resolve(fx.client));

/** espeak-ng speech of `text`, at 16 kHz. */
async function speech(text: string): Promise<Int16Array> {
  const tts = new EspeakTts('tts', parseEspeakConfig({}), () => Promise.resolve(fx.client));
  const chunks: Int16Array[] = [];
  for await (const c of tts.synthesize({ text, voice: { language: 'en-US' }, signal: new AbortController().signal })) chunks.push(c.pcm);
  return resample(fx.client, concatPcm(chunks), 22_050, 16_000);
}

/** Writes the utterance in 60 ms frames, as the listen actor would, and returns the events. */
async function recognise(p: AsrProvider, pcm: Int16Array, signal = new AbortController().signal): Promise<AsrEvent[]> {
  const s = p.open({ language: 'en-US', signal });
  for (let at = 0; at < pcm.length; at += 960) s.write(pcm.slice(at, at + 960));
  s.end();
  const events: AsrEvent[] = [];
  for await (const ev of s) events.push(ev);
  return events;
}

test('helpers: command line and hypothesis parsing', T, () => {
  const cfg = parsePocketsphinxConfig({ grammar: '/g.gram', lm: '/ignored.lm' });
  assert.deepEqual(pocketsphinxArgs(cfg, '/tmp/u.raw'), ['-infile', '/tmp/u.raw', '-samprate', '16000', '-jsgf', '/g.gram']);
  assert.deepEqual(pocketsphinxArgs(parsePocketsphinxConfig({ lm: '/x.lm', dict: '/x.dict' }), 'f'), ['-infile', 'f', '-samprate', '16000', '-dict', '/x.dict', '-lm', '/x.lm']);
  assert.equal(parseHypothesis('turn on the light\n'), 'turn on the light');
  assert.equal(parseHypothesis('<s> hello(2) [NOISE] world </s>\nagain\n\n'), 'hello world again');
  assert.equal(parseHypothesis(''), '');
  assert.throws(() => parsePocketsphinxConfig({ pad_ms: -1 }), { code: 'XZ_ERR_CONFIG_INVALID' });
  assert.deepEqual(asr().caps, { streaming: false, sampleRate: 16_000, languages: ['en'] });
});

test('with a JSGF command grammar, espeak speech of the commands is recognised exactly', T, async (t) => {
  if (!needTools(t, 'espeak-ng', 'sox', 'pocketsphinx_continuous')) return;
  const p = asr({ grammar: GRAMMAR });
  const phrases = ['turn on the light', 'what time is it', 'stop the music', 'play some music', 'set a timer'];
  let exact = 0;
  const times: number[] = [];
  for (const phrase of phrases) {
    const pcm = await speech(phrase);
    const t0 = performance.now();
    const events = await recognise(p, pcm);
    times.push(performance.now() - t0);
    assert.equal(events.length, 1);
    const ev = events[0]!;
    assert.equal(ev.kind, 'final');
    t.diagnostic(`"${phrase}" → "${ev.text}"`);
    if (ev.text === phrase) exact++;
  }
  t.diagnostic(`grammar mode: ${exact}/${phrases.length} exact; median ${median(times).toFixed(0)} ms per utterance`);
  assert.ok(exact >= 4, `${exact} of ${phrases.length} exact`);
  assert.deepEqual(readdirSync(scratch), [], 'temp files removed');
});

test('free-form English returns some text for a clear sentence', T, async (t) => {
  if (!needTools(t, 'espeak-ng', 'sox', 'pocketsphinx_continuous')) return;
  const pcm = await speech('I would like to order a pizza');
  const t0 = performance.now();
  const events = await recognise(asr(), pcm);
  t.diagnostic(`free-form: "${events[0]?.kind === 'final' ? events[0].text : ''}" in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.equal(events.length, 1);
  assert.equal(events[0]!.kind, 'final');
  assert.ok(events[0]!.text.length > 0);
  assert.equal((await recognise(asr(), new Int16Array(0)))[0]?.text, '', 'no audio, no words');
  assert.deepEqual(readdirSync(scratch), []);
});

test('abort ends recognition promptly and removes the temp file; other languages are refused', T, async (t) => {
  if (!needTools(t, 'espeak-ng', 'sox', 'pocketsphinx_continuous')) return;
  const pcm = await speech('I would like to order a pizza');
  const ac = new AbortController();
  const s = asr().open({ signal: ac.signal });
  s.write(pcm);
  s.end();
  const done = (async () => {
    for await (const ev of s) void ev;
  })();
  await new Promise((r) => setTimeout(r, 100)); // pocketsphinx is loading its model by now
  const t0 = performance.now();
  ac.abort();
  await assert.rejects(done, { code: 'XZ_ERR_ABORTED' });
  const ms = performance.now() - t0;
  t.diagnostic(`abort → stream failed in ${ms.toFixed(1)} ms`);
  assert.ok(ms < 50, `${ms} ms`);
  for (let i = 0; i < 50 && readdirSync(scratch).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(readdirSync(scratch), []);

  const zh = asr().open({ language: 'zh-CN', signal: new AbortController().signal });
  zh.end();
  await assert.rejects(
    (async () => {
      for await (const ev of zh) void ev;
    })(),
    { code: 'XZ_ERR_ASR_LANGUAGE' },
  );
  const used = asr().open({ signal: new AbortController().signal });
  used.end();
  assert.throws(() => used.write(new Int16Array(10)), { code: 'XZ_ERR_ASR_MISUSE' });
});
