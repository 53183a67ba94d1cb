// The listen actor's ASR hand-off as the server wires it: the worker's default recogniser comes
// from the pool data (the pipeline's asr chain, its instances, the spawner's address). First with
// a fixture registry, then with the real registry, spawner and pocketsphinx on espeak speech.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Spawner } from '../../runtime/spawner.js';
import { startListen } from '../fixtures/listen/harness.js';
import { sileroModel } from '../fixtures/listen/model.js';
import { checksum, REGISTRY } from '../fixtures/listen/asr-registry.js';
import { concat, silence, speak, speechTools } from '../fixtures/listen/speech.js';

const opts = { timeout: 60_000 };
const GRAMMAR = fileURLToPath(new URL('../fixtures/speech/commands.gram', import.meta.url));

test('sessions use the worker ASR named by the pool data unless their init says otherwise', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  const h = await startListen(t, { asr: { fx: { type: 'fixture' }, unused: { type: 'fixture', fail: true } }, chain: ['missing', 'fx'], asrRegistry: REGISTRY });
  const pcm = concat(silence(400), speak('Set a timer for five minutes.', 'en-us'), silence(900));
  const byDefault = await h.add('d1', { asr: undefined });
  const none = await h.add('d2', { asr: null });
  await Promise.all([byDefault.feed(pcm, 960), none.feed(pcm, 960)]);
  const tr = await byDefault.waitFor('session.transcript');
  const started = byDefault.events.find((e) => e.t === 'session.speech-started')!;
  const from = (started.atMs - 300) * 16;
  const audio = pcm.subarray(from, from + tr.audioMs * 16);
  assert.equal(tr.text, `${audio.length} samples sum ${checksum(audio)}`);
  const u = await none.waitFor('session.utterance');
  assert.equal(u.audioMs, tr.audioMs, 'the same utterance, not transcribed');
  assert.equal(none.events.some((e) => e.t === 'session.transcript'), false);
});

test('pocketsphinx through the spawner transcribes the utterance the VAD cut', opts, async (t) => {
  if (!sileroModel(t) || !speechTools(t)) return;
  if (spawnSync('pocketsphinx_continuous', ['-h'], { stdio: 'ignore' }).error) {
    if (process.env.CI === 'true') throw new Error('CI: needs pocketsphinx (apt-get install pocketsphinx pocketsphinx-en-us)');
    t.skip('needs pocketsphinx');
    return;
  }
  const spawner = await Spawner.start();
  t.after(() => spawner.close());
  const h = await startListen(t, { asr: { local: { type: 'pocketsphinx', grammar: GRAMMAR } }, chain: ['local'], spawner: spawner.address });
  const s = await h.add('ps', { asr: undefined });
  // Two commands in one stream, a second of silence apart: two utterances, two transcripts.
  const pcm = concat(silence(500), speak('turn on the light', 'en-us'), silence(1000), speak('what time is it', 'en-us'), silence(1000));
  await s.feed(pcm, 960);
  const first = await s.waitFor('session.transcript', (e) => e.utterance === 1, 20_000);
  const second = await s.waitFor('session.transcript', (e) => e.utterance === 2, 20_000);
  assert.equal(first.text, 'turn on the light');
  assert.equal(second.text, 'what time is it');
  assert.ok(first.asrMs >= 0 && first.asrMs < 10_000, `asrMs ${first.asrMs}`);
});
