// OpenAI-compatible speech against its HTTP fake: what goes on the wire (model, voice per language,
// pcm, speed from the request's rate, headers), PCM reassembled across odd chunk boundaries,
// streaming (first audio long before the body ends), config errors, the registry entry.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTts } from '../../providers/registry.js';
import { OpenAiTts, parseOpenAiTtsConfig } from '../../providers/tts/openai/index.js';
import { PcmReframer } from '../../providers/tts/wav.js';
import { HttpClient } from '../../providers/http/client.js';
import { startOpenAiAudioFake, type OpenAiAudioFake } from '../doubles/openai-audio.js';
import { TC } from './tts-conformance.js';

let fake: OpenAiAudioFake;
before(async () => {
  fake = await startOpenAiAudioFake({ apiKey: 'sk-test' });
});
after(() => fake.close());

const open: OpenAiTts[] = [];
after(async () => {
  for (const p of open) await p.close();
});
function tts(cfg: Record<string, unknown> = {}): OpenAiTts {
  const { cfg: c, reader } = parseOpenAiTtsConfig({ base_url: fake.url, api_key: 'sk-test', ...cfg });
  const p = new OpenAiTts('openai', c, new HttpClient('openai', reader.http({ timeoutMs: 5000, stallMs: 5000 })));
  open.push(p);
  return p;
}

async function say(p: OpenAiTts, text: string, voice = {}): Promise<{ pcm: Int16Array; chunks: number; firstMs: number; totalMs: number }> {
  const t0 = performance.now();
  const parts: Int16Array[] = [];
  let firstMs = NaN;
  for await (const c of p.synthesize({ text, voice, signal: new AbortController().signal })) {
    if (parts.length === 0) firstMs = performance.now() - t0;
    assert.equal(c.sampleRate, 24_000);
    parts.push(c.pcm);
  }
  const pcm = new Int16Array(parts.reduce((n, c) => n + c.length, 0));
  parts.reduce((at, c) => (pcm.set(c, at), at + c.length), 0);
  return { pcm, chunks: parts.length, firstMs, totalMs: performance.now() - t0 };
}

test('the request: model, voice by language, pcm, speed from the rate, instructions, headers', TC, async () => {
  const p = tts({ model: 'gpt-4o-mini-tts', voice: 'alloy', voices: { zh: 'nova' }, speed: 1.2, instructions: 'Speak warmly.', headers: { 'x-team': 'xz' } });
  await say(p, '你好，我是小智。', { language: 'zh-CN', rate: 1.5 });
  await say(p, 'Hello.', { language: 'en' });
  await say(p, 'Hi.', { name: 'onyx', rate: 100 });
  const [a, b, c] = fake.speech.slice(-3).map((r) => r);
  assert.deepEqual(a!.json, { model: 'gpt-4o-mini-tts', input: '你好，我是小智。', voice: 'nova', response_format: 'pcm', speed: 1.8, instructions: 'Speak warmly.' });
  assert.equal(b!.json.voice, 'alloy');
  assert.equal(b!.json.speed, 1.2);
  assert.equal(c!.json.voice, 'onyx');
  assert.equal(c!.json.speed, 4, 'clamped to the API range');
  assert.equal(a!.headers.authorization, 'Bearer sk-test');
  assert.equal(a!.headers['x-team'], 'xz');
  assert.match(a!.headers['content-type'] ?? '', /^application\/json/);
});

test('PCM survives chunks that split samples (1, 4095, 3, … bytes), exactly', TC, async () => {
  const r = await say(tts(), 'The quick brown fox jumps over the lazy dog.');
  assert.deepEqual(r.pcm, fake.pcmFor('The quick brown fox jumps over the lazy dog.'));
  const f = new PcmReframer();
  assert.deepEqual([...f.push(Uint8Array.of(1))], []);
  assert.ok(f.dangling);
  assert.deepEqual([...f.push(Uint8Array.of(2, 3, 4, 5))], [0x0201, 0x0403]);
  assert.deepEqual([...f.push(Uint8Array.of(0))], [5]);
  assert.equal(f.dangling, false);
});

test('audio streams: the first chunk arrives long before the body ends', TC, async (t) => {
  const p = tts();
  await say(p, 'warm up');
  fake.chunkGapMs = 10;
  try {
    const r = await say(p, 'A sentence long enough to arrive in many pieces over the wire.');
    t.diagnostic(`first PCM after ${r.firstMs.toFixed(1)} ms of ${r.totalMs.toFixed(1)} ms (${r.chunks} chunks)`);
    assert.ok(r.firstMs < r.totalMs / 4, `first ${r.firstMs} ms, all ${r.totalMs} ms`);
  } finally {
    fake.chunkGapMs = 0;
  }
});

test('config mistakes fail at creation; the registry builds it by type', TC, async () => {
  assert.throws(() => parseOpenAiTtsConfig({ base_url: 'ftp://x' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  assert.throws(() => parseOpenAiTtsConfig({ speed: 9 }), { code: 'XZ_ERR_CONFIG_INVALID' });
  assert.throws(() => parseOpenAiTtsConfig({ headers: { a: 1 } }), { code: 'XZ_ERR_CONFIG_INVALID' });
  const p = await createTts('cloud', { type: 'openai', base_url: fake.url, api_key: 'sk-test' });
  try {
    assert.deepEqual(p.caps, { sampleRate: 24_000, streamingAudio: true, streamingText: false });
    let n = 0;
    for await (const c of p.synthesize({ text: 'registry', voice: {}, signal: new AbortController().signal })) n += c.pcm.length;
    assert.equal(n, fake.pcmFor('registry').length);
  } finally {
    await p.close?.();
  }
});

test('a 429 carries retry-after as details.retryAfterMs for the pool to honour', TC, async () => {
  fake.inject('speech', { kind: 'status', status: 429, retryAfter: '2' });
  await assert.rejects(say(tts(), 'slow down'), (e: { code: string; retryable: boolean; details: { retryAfterMs?: number; vendorCode?: string } }) => {
    assert.equal(e.code, 'XZ_ERR_VENDOR_RATE_LIMIT');
    assert.equal(e.retryable, true);
    assert.equal(e.details.retryAfterMs, 2000);
    assert.equal(e.details.vendorCode, 'rate_limit_exceeded');
    return true;
  });
});
