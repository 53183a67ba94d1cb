// Provider factories by type: vendors load on demand from a plain config slice plus the
// spawner's address, which is exactly what a worker thread receives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { asrTypes, createAsr, createTts, ttsTypes } from '../../providers/registry.js';
import { T, inWorker, needTools, useSpawner } from './helpers.js';

const fx = useSpawner(after, before);

test('types resolve to providers; unknown types and missing deps fail with codes', T, async () => {
  assert.deepEqual([...ttsTypes].sort(), ['edge', 'espeak', 'openai', 'sherpa', 'volc']);
  assert.deepEqual([...asrTypes].sort(), ['openai', 'pocketsphinx', 'sherpa', 'volc']);
  const tts = await createTts('local', { type: 'espeak', wpm: 160 }, { spawner: fx.spawner.address });
  assert.equal(tts.id, 'local');
  assert.equal(tts.caps.sampleRate, 22_050);
  const asr = await createAsr('local', { type: 'pocketsphinx' }, { spawner: () => Promise.resolve(fx.client) });
  assert.equal(asr.caps.streaming, false);

  await assert.rejects(createTts('x', { type: 'nope' }), (e: { code: string; message: string; details: { known: string[] } }) => {
    assert.equal(e.code, 'XZ_ERR_PROVIDER_UNKNOWN_TYPE');
    assert.match(e.message, /providers\.tts\.x: unknown type "nope"; known: espeak, edge, openai, volc, sherpa/);
    assert.deepEqual([...e.details.known].sort(), ['edge', 'espeak', 'openai', 'sherpa', 'volc']);
    return true;
  });
  await assert.rejects(createAsr('x', { type: 'toString' }), { code: 'XZ_ERR_PROVIDER_UNKNOWN_TYPE' });
  await assert.rejects(createTts('local', { type: 'espeak' }), { code: 'XZ_ERR_PROVIDER_DEPENDENCY' });
  await assert.rejects(createTts('local', { type: 'espeak', wpm: 5 }, { spawner: fx.spawner.address }), (e: { code: string; message: string }) => {
    assert.equal(e.code, 'XZ_ERR_CONFIG_INVALID');
    assert.match(e.message, /providers\.tts\.local\.wpm/);
    return true;
  });
});

test('a worker thread builds a provider from a config slice and the spawner address, and speaks', T, async (t) => {
  if (!needTools(t, 'espeak-ng')) return;
  const r = await inWorker<{ samples: number; rate: number }>(
    `
    const { createTts } = await load('providers/registry.ts');
    const tts = await createTts('local', workerData.cfg, { spawner: workerData.address });
    let samples = 0;
    for await (const c of tts.synthesize({ text: 'hello from a worker', voice: {}, signal: new AbortController().signal })) samples += c.pcm.length;
    return { samples, rate: tts.caps.sampleRate };
    `,
    { cfg: { type: 'espeak' }, address: fx.spawner.address },
  );
  assert.equal(r.rate, 22_050);
  assert.ok(r.samples / r.rate > 0.5, `${r.samples} samples`);
});
