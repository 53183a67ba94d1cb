// OpenAI-compatible transcription against its HTTP fake: the multipart upload (fields, filename,
// a WAV holding exactly the samples written at 16 kHz), language and hints, the length cap, no
// request for no audio, a 200 that is not the expected JSON, and the registry entry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AsrEvent, AsrProvider } from '../../providers/contracts/asr.js';
import { multipart, wavFile } from '../../providers/asr/openai/multipart.js';
import { createAsr } from '../../providers/registry.js';
import { parseMultipart, startOpenAiAudioFake, type OpenAiAudioFake } from '../doubles/openai-audio.js';
import { AC } from './asr-conformance.js';

let fake: OpenAiAudioFake;
let asr: AsrProvider;
before(async () => {
  fake = await startOpenAiAudioFake({ apiKey: 'sk-test' });
  asr = await createAsr('cloud', { type: 'openai', base_url: fake.url, api_key: 'sk-test', model: 'gpt-4o-mini-transcribe', prompt: '小智', max_seconds: 2 });
});
after(async () => {
  await asr.close?.();
  await fake.close();
});

async function recognise(p: AsrProvider, pcm: Int16Array, language?: string, hints?: string[]): Promise<AsrEvent[]> {
  const s = p.open({ language, hints, signal: new AbortController().signal });
  for (let at = 0; at < pcm.length; at += 960) s.write(pcm.slice(at, at + 960));
  s.end();
  const out: AsrEvent[] = [];
  for await (const ev of s) out.push(ev);
  return out;
}

const noise = (n: number): Int16Array => Int16Array.from({ length: n }, (_, i) => ((i * 7919) % 20_001) - 10_000);

test('the upload: a multipart form with model, language, prompt and a WAV of exactly the samples', AC, async () => {
  fake.transcript = '今天天气怎么样';
  const pcm = noise(16_000 + 123);
  const events = await recognise(asr, pcm, 'zh-CN', ['天气', '音乐']);
  assert.deepEqual(events, [{ kind: 'final', text: '今天天气怎么样', language: 'zh' }]);
  const rec = fake.transcriptions.at(-1)!;
  assert.deepEqual(rec.fields, { model: 'gpt-4o-mini-transcribe', response_format: 'json', language: 'zh', prompt: '小智, 天气, 音乐' });
  assert.equal(rec.filename, 'utterance.wav');
  assert.equal(rec.fileType, 'audio/wav');
  assert.deepEqual(rec.wav, { sampleRate: 16_000, channels: 1, bits: 16, samples: pcm.length });
  assert.deepEqual(rec.pcm, pcm);
  assert.equal(rec.headers.authorization, 'Bearer sk-test');
  assert.match(rec.headers['content-type'] ?? '', /^multipart\/form-data; boundary=/);
});

test('audio beyond max_seconds is dropped; no audio sends nothing; no language sends none', AC, async () => {
  fake.transcript = 'ok';
  await recognise(asr, noise(16_000 * 3));
  const rec = fake.transcriptions.at(-1)!;
  assert.equal(rec.wav.samples, 32_000, 'capped at 2 s');
  assert.equal(rec.fields.language, undefined);
  const n = fake.transcriptions.length;
  assert.deepEqual(await recognise(asr, new Int16Array(0)), [{ kind: 'final', text: '' }]);
  assert.equal(fake.transcriptions.length, n, 'no request for no audio');
});

test('a 200 whose JSON has no text is a bad response (upstream)', AC, async () => {
  fake.transcript = () => undefined as unknown as string; // {"usage":…} without "text"
  try {
    await assert.rejects(recognise(asr, noise(1600)), { code: 'XZ_ERR_VENDOR_BAD_RESPONSE', category: 'upstream' });
  } finally {
    fake.transcript = 'ok';
  }
});

test('our multipart and WAV parse back with an independent parser', AC, () => {
  const pcm = Int16Array.of(1, -2, 3);
  const wav = wavFile([pcm.subarray(0, 1), pcm.subarray(1)], 3, 16_000);
  assert.equal(wav.length, 50);
  const form = multipart([['model', 'whisper-1']], { name: 'file', filename: 'a "b".wav', type: 'audio/wav', data: wav });
  const parts = parseMultipart(form.body, form.contentType)!;
  assert.equal(parts.length, 2);
  assert.equal(parts[0]!.data.toString(), 'whisper-1');
  assert.match(parts[1]!.headers.get('content-disposition')!, /filename="a _b_.wav"/);
  assert.deepEqual(parts[1]!.data, wav);
});
