// The ASR contract suite against every recogniser: OpenAI-compatible transcription (its HTTP fake,
// which answers with what it can check of the upload) and pocketsphinx on espeak-ng speech.
import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PocketsphinxAsr, parsePocketsphinxConfig } from '../../providers/asr/pocketsphinx/index.js';
import { createOpenAiAsr } from '../../providers/asr/openai/index.js';
import { EspeakTts, parseEspeakConfig } from '../../providers/tts/espeak/index.js';
import { startOpenAiAudioFake } from '../doubles/openai-audio.js';
import { asrConformance, type Utterance } from './asr-conformance.js';
import { childrenOf, concatPcm, needTools, resample, useSpawner } from './helpers.js';

const fx = useSpawner(after, before);
const GRAMMAR = fileURLToPath(new URL('../fixtures/speech/commands.gram', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'xz-asr-conf-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let spoken: Promise<Int16Array> | undefined;
/** espeak-ng saying a command, at 16 kHz (made once per file). */
function command(): Promise<Int16Array> {
  spoken ??= (async () => {
    const tts = new EspeakTts('tts', parseEspeakConfig({}), () => Promise.resolve(fx.client));
    const chunks: Int16Array[] = [];
    for await (const c of tts.synthesize({ text: 'turn on the light', voice: { language: 'en-US' }, signal: new AbortController().signal })) chunks.push(c.pcm);
    return resample(fx.client, concatPcm(chunks), 22_050, 16_000);
  })();
  return spoken;
}

/** A synthetic 1.2 s "utterance" for the fake (it checks the WAV, not the words). */
function tone(): Int16Array {
  const pcm = new Int16Array(19_200);
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * 220 * i) / 16_000));
  return pcm;
}

asrConformance('openai', async () => {
  const fake = await startOpenAiAudioFake({ apiKey: 'sk-test' });
  // The answer proves the upload arrived whole: a WAV of exactly the samples written, at 16 kHz.
  fake.transcript = (t) => `${t.wav.samples} samples at ${t.wav.sampleRate} Hz in ${t.fields.language ?? '?'}`;
  const provider = createOpenAiAsr('openai', { base_url: fake.url, api_key: 'sk-test', model: 'whisper-1', timeout_ms: 400 });
  const u: Utterance = { pcm: tone(), language: 'zh-CN', expect: '19200 samples at 16000 Hz in zh' };
  return {
    provider,
    utterance: async () => u,
    slowNext: () => {
      fake.inject('transcriptions', { kind: 'hang' });
    },
    sawCancel: async (since) => (await fake.waitForDisconnect(since)).at,
    faults: [
      { name: '401', inject: () => fake.inject('transcriptions', { kind: 'status', status: 401 }), code: 'XZ_ERR_VENDOR_AUTH', category: 'auth' },
      { name: '429 + retry-after', inject: () => fake.inject('transcriptions', { kind: 'status', status: 429, retryAfter: '3' }), code: 'XZ_ERR_VENDOR_RATE_LIMIT', category: 'rate-limit' },
      { name: '500', inject: () => fake.inject('transcriptions', { kind: 'status', status: 500 }), code: 'XZ_ERR_VENDOR_UPSTREAM', category: 'upstream' },
      { name: 'no answer (stall)', inject: () => fake.inject('transcriptions', { kind: 'hang' }), code: 'XZ_ERR_VENDOR_TIMEOUT', category: 'timeout' },
      { name: 'disconnect mid-answer', inject: () => fake.inject('transcriptions', { kind: 'disconnect', afterBytes: 5 }), code: 'XZ_ERR_VENDOR_CONNECT', category: 'connectivity' },
    ],
    close: async () => {
      await provider.close?.();
      await fake.close();
    },
  };
});

asrConformance('pocketsphinx', async () => ({
  provider: new PocketsphinxAsr('pocketsphinx', parsePocketsphinxConfig({ grammar: GRAMMAR, tmp_dir: scratch }), () => Promise.resolve(fx.client)),
  ready: (t) => needTools(t, 'espeak-ng', 'sox', 'pocketsphinx_continuous'),
  utterance: async () => ({ pcm: await command(), language: 'en-US', expect: 'turn on the light' }),
  sawCancel: async () => {
    for (;;) {
      if (!childrenOf(fx.spawner.pid!).some((c) => c.comm.startsWith('pocketsphinx'))) return performance.now();
      await new Promise((r) => setTimeout(r, 1));
    }
  },
}));
