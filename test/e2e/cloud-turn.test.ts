// A full turn on cloud speech vendors through the front door, each a local fake speaking the
// vendor's exact protocol: device speech → Doubao streaming ASR (binary WebSocket frames, gzip)
// → OpenAI-compatible model (SSE) → Edge TTS (WebSocket, MP3 decoded in the speak worker) →
// Opus paced to the device, which decodes the answer. Edge's socket is reused across sentences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startVolcAsrFake } from '../doubles/volc-asr.js';
import { startEdgeFake } from '../doubles/edge-tts.js';
import { startFakeOpenAI } from '../doubles/llm-vendors.js';
import { TestDevice, deviceHeaders, streamRealtime } from '../helpers/device.js';
import { startTestServer } from '../helpers/server.js';
import { cleanupSpeech, decoderFor, opusFrames, silenceFrames, speechPcm, speechToolsAvailable } from '../helpers/speech.js';

const T = { timeout: 90_000 };
const skip = !speechToolsAvailable() && 'espeak-ng/sox missing (run native/setup.sh)';

test('Doubao ASR + OpenAI-compatible model + Edge TTS: a spoken question gets a spoken answer', { ...T, skip }, async (t) => {
  const asr = await startVolcAsrFake({ text: ['what time', ' is it'] });
  const edge = await startEdgeFake();
  const llm = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(async () => {
    await Promise.all([asr.close(), edge.close(), llm.close()]);
    cleanupSpeech();
  });
  llm.script({ text: 'It is ten past nine. Have a good morning!' });
  const server = await startTestServer(t, {
    auth: { mode: 'off' },
    providers: {
      asr: { doubao: { type: 'volc', url: asr.url, appid: asr.appId, access_token: asr.accessKey } },
      llm: { gpt: { type: 'openai', base_url: llm.url, model: 'm', api_key: 'sk-test' } },
      tts: { edge: { type: 'edge', url: edge.url } },
    },
    pipeline: { asr: ['doubao'], llm: ['gpt'], tts: ['edge'] },
    dialogue: { hotwords: ['小智', 'Espressif'] },
  });
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello({ features: {} });
  const rate = (hello['audio_params'] as { sample_rate: number }).sample_rate;
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
  void streamRealtime(dev, [...silenceFrames(3), ...opusFrames(speechPcm('what time is it')), ...silenceFrames(60)]);
  // dialogue.hotwords reach the recognizer as Doubao's hotword corpus.
  const corpus = ((await asr.closed(0, 40_000)).request?.['request'] as { corpus?: { context: string } } | undefined)?.corpus;
  assert.deepEqual(JSON.parse(corpus?.context ?? '{}'), { hotwords: [{ word: '小智' }, { word: 'Espressif' }] });
  await dev.next((r) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop', 40_000);
  const json = dev.received.filter((r) => r.kind === 'json').map((r) => (r as { value: Record<string, unknown> }).value);
  assert.equal(json.find((m) => m['type'] === 'stt')?.['text'], 'what time is it');
  assert.deepEqual(json.filter((m) => m['state'] === 'sentence_start').map((m) => m['text']), ['It is ten past nine.', 'Have a good morning!']);
  const dec = decoderFor(rate);
  const frames = dev.received.filter((r) => r.kind === 'binary');
  let samples = 0;
  for (const f of frames) samples += dec.decode((f as { data: Buffer }).data).length;
  assert.ok(samples / rate > 0.3, `${(samples / rate).toFixed(2)} s of answer audio decoded`);
  assert.equal(edge.handshakes, 1, 'one Edge connection for both sentences');
  assert.equal(edge.requests.length, 2);
  dev.close();
});

test('the ASR chain fails over through the pool: the first recognizer errors, the second answers', { ...T, skip }, async (t) => {
  const { startOpenAiAudioFake } = await import('../doubles/openai-audio.js');
  const bad = await startOpenAiAudioFake({ apiKey: 'sk-a' });
  const good = await startOpenAiAudioFake({ apiKey: 'sk-b' });
  t.after(() => Promise.all([bad.close(), good.close()]));
  bad.inject('transcriptions', { kind: 'status', status: 500 }, 10);
  good.transcript = 'turn off the light';
  const server = await startTestServer(t, {
    auth: { mode: 'off' },
    providers: {
      asr: {
        a: { type: 'openai', base_url: bad.url, api_key: 'sk-a', model: 'whisper-1' },
        b: { type: 'openai', base_url: good.url, api_key: 'sk-b', model: 'whisper-1' },
      },
    },
    pipeline: { asr: ['a', 'b'] },
  });
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello({ features: {} });
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
  void streamRealtime(dev, [...silenceFrames(3), ...opusFrames(speechPcm('turn off the light')), ...silenceFrames(40)]);
  const stt = await dev.next((r) => r.kind === 'json' && r.value['type'] === 'stt', 30_000);
  assert.equal((stt as { value: Record<string, unknown> }).value['text'], 'turn off the light');
  assert.equal(bad.transcriptions.length, 1, 'the first recognizer was tried');
  assert.equal(good.transcriptions.length, 1, 'and the second answered');
  dev.close();
});

test('a TTS that takes streamed text hears each sentence in pieces as the model writes it; audio starts before the sentence is done', { ...T }, async (t) => {
  const { startVolcTtsFake } = await import('../doubles/volc-tts.js');
  const tts = await startVolcTtsFake({ sampleRate: 24_000 });
  const llm = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => Promise.all([tts.close(), llm.close()]));
  // One long first sentence written slowly: 12 deltas, 150 ms apart.
  const words = 'Well, first of all, thank you for asking, and here is a longer answer for you. Bye!'.split(/(?<= )/);
  llm.script({ text: words, eventGapMs: 150 });
  const server = await startTestServer(t, {
    auth: { mode: 'off' },
    providers: {
      llm: { gpt: { type: 'openai', base_url: llm.url, model: 'm', api_key: 'sk-test' } },
      tts: { doubao: { type: 'volc', url: tts.url, appid: tts.appId, access_token: tts.accessKey, voice: 'zh_female_test_bigtts' } },
    },
    pipeline: { llm: ['gpt'], tts: ['doubao'] },
  });
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  t.after(() => dev.close());
  const hello = await dev.hello({ features: {} });
  const asked = performance.now();
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'detect', text: 'how are you' });
  const first = await dev.next((r) => r.kind === 'binary', 20_000);
  await dev.next((r) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop', 30_000);
  // The first sentence is complete only after ~16 deltas × 150 ms; its audio began well before.
  const sentenceDoneMs = words.findIndex((w) => w.includes('.')) * 150;
  assert.ok(first.at - asked < sentenceDoneMs - 600, `first audio ${(first.at - asked).toFixed(0)} ms after the question; the sentence was written by ${sentenceDoneMs} ms`);
  // One vendor session per sentence, fed piece by piece.
  assert.equal(tts.sessions.length, 2);
  assert.deepEqual(tts.sessions[0]!.texts, ['Well, first of all,', 'thank you for asking,', 'and here is a longer answer for you.']);
  assert.deepEqual(tts.sessions[1]!.texts, ['Bye!']);
  assert.equal(tts.handshakes, 1, 'one connection for both sentences');
  // The device shows whole sentences, each once.
  const subtitles = dev.received.filter((r) => r.kind === 'json' && r.value['state'] === 'sentence_start').map((r) => (r as { value: Record<string, unknown> }).value['text']);
  assert.deepEqual(subtitles, ['Well, first of all, thank you for asking, and here is a longer answer for you.', 'Bye!']);
});
