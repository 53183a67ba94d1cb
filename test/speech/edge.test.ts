// Edge TTS against its WebSocket fake: the Sec-MS-GEC token and framing details, one handshake
// for many sentences and turns, voices per language, clock-skew correction, reconnects, the pool
// under concurrency, long texts split per request, and MP3 decoding inside a worker thread.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { PcmChunk } from '../../providers/contracts/audio.js';
import { secMsGec } from '../../providers/tts/edge/drm.js';
import { EdgeTts, parseEdgeConfig, pickVoice, prosodyFor } from '../../providers/tts/edge/index.js';
import { cleanText, jsDate, longVoiceName, parseBinary, parseText, splitText, ssml } from '../../providers/tts/edge/protocol.js';
import { FRAME_SECONDS, expectedGec, secondsFor, startEdgeFake, type EdgeFake } from '../doubles/edge-tts.js';
import { inWorker } from './helpers.js';
import { TC } from './tts-conformance.js';

let fake: EdgeFake;
before(async () => {
  fake = await startEdgeFake();
});
after(() => fake.close());

const providers: EdgeTts[] = [];
after(async () => {
  for (const p of providers) await p.close();
});
function edge(cfg: Record<string, unknown> = {}): EdgeTts {
  const p = new EdgeTts('edge', parseEdgeConfig({ url: fake.url, ...cfg }));
  providers.push(p);
  return p;
}

async function say(p: EdgeTts, text: string, language = 'zh-CN', name?: string): Promise<{ samples: number; chunks: PcmChunk[]; firstMs: number; totalMs: number }> {
  const t0 = performance.now();
  const chunks: PcmChunk[] = [];
  let firstMs = NaN;
  for await (const c of p.synthesize({ text, voice: { language, name }, signal: new AbortController().signal })) {
    if (chunks.length === 0) firstMs = performance.now() - t0;
    chunks.push(c);
  }
  return { samples: chunks.reduce((n, c) => n + c.pcm.length, 0), chunks, firstMs, totalMs: performance.now() - t0 };
}

const framesFor = (text: string): number => Math.ceil(secondsFor(text) / FRAME_SECONDS) * 576;

test('Sec-MS-GEC: the worked example of vendors.md, and the fake agrees with the client', TC, () => {
  const want = '42301B335578FEFDAE2637DED1ABD614505D432559EC08032B82048483726AFF';
  assert.equal(secMsGec(1_700_000_000_000), want);
  assert.equal(secMsGec(1_700_000_000_000 - 200_000), want, 'same 5-minute window (rounded down)');
  assert.notEqual(secMsGec(1_700_000_000_000 + 100_000), want, 'the next window');
  assert.equal(expectedGec(1_700_000_000_000), want);
});

test('framing: headers from bytes [2, 2+H), the header-only last frame, escaping, voices, dates', TC, () => {
  const head = 'X-RequestId:5b6f0d6a1c2e4f3a8b9c0d1e2f3a4b5c\r\nContent-Type:audio/mpeg\r\nPath:audio\r\n';
  const frame = Buffer.concat([Buffer.from([0, head.length]), Buffer.from(head, 'latin1'), Buffer.from([0xff, 0xf3, 0x64, 0xc4])]);
  const m = parseBinary(frame)!;
  assert.equal(m.headers.get('path'), 'audio');
  assert.equal(m.headers.get('x-requestid'), '5b6f0d6a1c2e4f3a8b9c0d1e2f3a4b5c');
  assert.deepEqual([...(m.body as Uint8Array)], [0xff, 0xf3, 0x64, 0xc4]);
  const last = 'X-RequestId:5b6f0d6a1c2e4f3a8b9c0d1e2f3a4b5c\r\nPath:audio\r\n';
  assert.equal((parseBinary(Buffer.concat([Buffer.from([0, last.length]), Buffer.from(last)]))!.body as Uint8Array).length, 0);
  assert.equal(parseBinary(Buffer.from([0, 200, 1, 2])), undefined, 'header length past the end');
  const t = parseText('Path:turn.end\r\nX-RequestId:ab\r\n\r\n{}')!;
  assert.equal(t.headers.get('path'), 'turn.end');
  assert.equal(t.body, '{}');

  assert.equal(longVoiceName('zh-CN-XiaoxiaoNeural'), 'Microsoft Server Speech Text to Speech Voice (zh-CN, XiaoxiaoNeural)');
  assert.equal(cleanText('a\x0bb\x00c\nd'), 'a b c\nd');
  assert.match(ssml('en-US-AvaNeural', { rate: '+0%', pitch: '+0Hz', volume: '+0%' }, `Tom & "Jerry" <3 'x'`), />Tom &amp; &quot;Jerry&quot; &lt;3 &apos;x&apos;<\/prosody>/);
  assert.equal(jsDate(Date.UTC(2024, 10, 14, 10, 0, 0)), 'Thu Nov 14 2024 10:00:00 GMT+0000 (Coordinated Universal Time)');

  const pieces = splitText(`${'word '.repeat(1000)}&&&& ${'字'.repeat(1500)}`, 4096);
  assert.ok(pieces.length >= 3);
  for (const p of pieces) assert.ok(Buffer.byteLength(p.replace(/&/g, '&amp;')) <= 4096);
  assert.equal(pieces.join('').replace(/\s+/g, ''), `${'word'.repeat(1000)}&&&&${'字'.repeat(1500)}`, 'nothing lost');

  const cfg = parseEdgeConfig({ rate: '+10%' });
  assert.equal(pickVoice(cfg, { language: 'zh-CN' }), 'zh-CN-XiaoxiaoNeural');
  assert.equal(pickVoice(cfg, { language: 'en-GB' }), 'en-US-AvaNeural');
  assert.equal(pickVoice(cfg, {}), 'zh-CN-XiaoxiaoNeural');
  assert.equal(pickVoice(cfg, { name: 'en-GB-SoniaNeural', language: 'zh' }), 'en-GB-SoniaNeural');
  assert.equal(pickVoice(parseEdgeConfig({ voice: 'zh-CN-YunxiNeural' }), { language: 'en' }), 'zh-CN-YunxiNeural');
  assert.throws(() => pickVoice(cfg, { name: "x'><evil/>" }), { code: 'XZ_ERR_TTS_BAD_VOICE' });
  assert.deepEqual(prosodyFor(cfg, { rate: 1.5, pitch: 12 }), { rate: '+60%', pitch: '+200Hz', volume: '+0%' });
  assert.deepEqual(prosodyFor(cfg, { rate: 0.5, pitch: -12 }), { rate: '-40%', pitch: '-100Hz', volume: '+0%' });
  assert.throws(() => parseEdgeConfig({ output_format: 'raw-24khz-16bit-mono-pcm' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  assert.throws(() => parseEdgeConfig({ pitch: '+3st' }), { code: 'XZ_ERR_CONFIG_INVALID' });
  assert.throws(() => parseEdgeConfig({ url: 'http://x' }), { code: 'XZ_ERR_CONFIG_INVALID' });
});

test('one handshake serves 5 sentences over 2 turns; voices follow the language; audio is whole', TC, async (t) => {
  const p = edge();
  const before = fake.handshakes;
  const from = fake.requests.length;
  const sentences = ['你好，我是小智。', '今天天气很好。', 'Nice to meet you.', '我们出去走走吧。', 'See you later!'];
  for (const [i, s] of sentences.entries()) {
    const r = await say(p, s, /[a-z]/i.test(s) ? 'en-US' : 'zh-CN');
    assert.equal(r.samples, framesFor(s), `${s}: every MP3 frame decoded`);
    if (i === 2) await new Promise((r) => setTimeout(r, 50)); // a pause between turns
  }
  const reqs = fake.requests.slice(from);
  t.diagnostic(`5 sentences: ${fake.handshakes - before} handshake(s), ${new Set(reqs.map((r) => r.connectionId)).size} connection(s), ${reqs.length} requests`);
  assert.equal(fake.handshakes - before, 1);
  assert.equal(p.stats().handshakes, 1);
  assert.equal(new Set(reqs.map((r) => r.requestId)).size, 5, 'a fresh X-RequestId per request');
  assert.deepEqual(reqs.map((r) => r.shortVoice), ['zh-CN-XiaoxiaoNeural', 'zh-CN-XiaoxiaoNeural', 'en-US-AvaNeural', 'zh-CN-XiaoxiaoNeural', 'en-US-AvaNeural']);
  assert.equal(reqs[0]!.voice, 'Microsoft Server Speech Text to Speech Voice (zh-CN, XiaoxiaoNeural)');
  assert.ok(reqs.every((r) => r.outputFormat === 'audio-24khz-48kbitrate-mono-mp3'));
  assert.deepEqual(reqs.map((r) => r.text), sentences);
});

test('first audio does not wait for the end of the sentence', TC, async (t) => {
  const p = edge();
  await say(p, '热身。'); // the socket and the decoder are ready
  fake.frameGapMs = 15;
  try {
    const r = await say(p, '这是一个比较长的句子，用来检查第一段音频是不是在整句合成完之前就到了。');
    t.diagnostic(`first PCM after ${r.firstMs.toFixed(1)} ms of ${r.totalMs.toFixed(1)} ms (${r.chunks.length} chunks)`);
    assert.ok(r.chunks.length > 3);
    assert.ok(r.firstMs < r.totalMs / 3, `first ${r.firstMs} ms, all ${r.totalMs} ms`);
  } finally {
    fake.frameGapMs = 0;
  }
});

test('a 10-minute clock skew: 403 with Date, corrected, retried once; later handshakes use it', TC, async () => {
  fake.clockOffsetMs = 10 * 60_000;
  try {
    const p = edge({ connections: 2 });
    const rejected = fake.rejected.length;
    const before = fake.handshakes;
    await say(p, '时钟不准。');
    assert.equal(fake.rejected.length - rejected, 1);
    assert.match(fake.rejected.at(-1)!.why, /Sec-MS-GEC expired/);
    await Promise.all([say(p, '第二句。'), say(p, '第三句。')]); // a second socket, with the learnt skew
    assert.equal(fake.handshakes - before, 2);
    assert.equal(fake.rejected.length - rejected, 1, 'no second 403');
  } finally {
    fake.clockOffsetMs = 0;
  }
});

test('the fake itself refuses a wrong token with 403 and a Date header', TC, async () => {
  const u = new URL(fake.url);
  u.search = new URLSearchParams({ TrustedClientToken: '6A5AA1D4EAFF4E9FB37E23D68491D6F4', ConnectionId: 'a'.repeat(32), 'Sec-MS-GEC': 'F'.repeat(64), 'Sec-MS-GEC-Version': '1-143.0.3650.75' }).toString();
  const ws = new WebSocket(u);
  const res = await new Promise<{ status?: number; date?: string }>((resolve) => {
    ws.on('unexpected-response', (_req, r) => resolve({ status: r.statusCode, date: r.headers.date }));
    ws.on('error', () => {});
  });
  ws.terminate();
  assert.equal(res.status, 403);
  assert.ok(res.date && !Number.isNaN(Date.parse(res.date)));
});

test('reconnects after the server closes an idle socket, and retries a request a dying socket dropped', TC, async () => {
  const p = edge();
  await say(p, '第一句。');
  const before = fake.handshakes;
  fake.dropIdle();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await say(p, '第二句。')).samples, framesFor('第二句。'));
  assert.equal(fake.handshakes - before, 1, 'a new socket');
  // The server drops the socket the moment the request arrives, before answering: a fresh socket takes it.
  fake.inject({ kind: 'close', code: 1001, reason: 'Going away', afterFrames: -1 });
  assert.equal((await say(p, '第三句。')).samples, framesFor('第三句。'));
  assert.equal(fake.handshakes - before, 2);
});

test('an unknown voice is a coded invalid-request error, and the provider carries on', TC, async () => {
  const p = edge();
  await assert.rejects(say(p, 'hello', 'en', 'fr-FR-DeniseNeural'), (e: { code: string; category: string; message: string }) => {
    assert.equal(e.code, 'XZ_ERR_TTS_BAD_VOICE');
    assert.equal(e.category, 'invalid-request');
    assert.match(e.message, /Unsupported voice fr-FR-DeniseNeural/);
    return true;
  });
  assert.ok((await say(p, 'hello again', 'en')).samples > 0);
});

test('concurrent syntheses get a socket each up to `connections`, then queue', TC, async () => {
  const p = edge({ connections: 2 });
  const before = fake.handshakes;
  const texts = ['一二三。', '四五六七。', '八九十。', '十一十二。', '十三。'];
  const results = await Promise.all(texts.map((x) => say(p, x)));
  for (const [i, r] of results.entries()) assert.equal(r.samples, framesFor(texts[i]!));
  assert.equal(fake.handshakes - before, 2);
  assert.ok(p.stats().open <= 2);
});

test('a text over 4096 bytes goes as several requests on the same socket, audio in order', TC, async () => {
  const p = edge();
  const long = '这是一段很长的文字。'.repeat(150); // 4 500 bytes of UTF-8
  const from = fake.requests.length;
  const r = await say(p, long);
  const reqs = fake.requests.slice(from);
  assert.ok(reqs.length >= 2, `${reqs.length} requests`);
  assert.equal(new Set(reqs.map((x) => x.connectionId)).size, 1);
  assert.equal(reqs.map((x) => x.text).join(''), long);
  assert.equal(r.samples, reqs.reduce((n, x) => n + framesFor(x.text), 0));
});

test('in a worker thread: built from config by the registry, MP3 decoded to PCM there', TC, async () => {
  const r = await inWorker<{ samples: number; rate: number; main: boolean; handshakes: number }>(
    `
    const { isMainThread } = await import('node:worker_threads');
    const { createTts } = await load('providers/registry.ts');
    const tts = await createTts('edge', { type: 'edge', url: workerData.url });
    let samples = 0;
    for (const text of workerData.texts)
      for await (const c of tts.synthesize({ text, voice: { language: 'zh' }, signal: new AbortController().signal })) samples += c.pcm.length;
    const handshakes = tts.stats().handshakes;
    await tts.close();
    return { samples, rate: tts.caps.sampleRate, main: isMainThread, handshakes };
    `,
    { url: fake.url, texts: ['工作线程里的第一句。', '第二句。'] },
  );
  assert.equal(r.main, false);
  assert.equal(r.rate, 24_000);
  assert.equal(r.samples, framesFor('工作线程里的第一句。') + framesFor('第二句。'));
  assert.equal(r.handshakes, 1);
});

test('close() closes the sockets (a synthesis in flight fails at once); the server sees it', TC, async () => {
  const p = edge();
  await say(p, '再见。');
  fake.frameGapMs = 10;
  try {
    const busy = say(p, '这句话还没说完的时候提供者就关闭了。'.repeat(5));
    await new Promise((r) => setTimeout(r, 30));
    const t0 = performance.now();
    await p.close();
    await assert.rejects(busy, (e: { category: string }) => e.category === 'connectivity');
    assert.ok(performance.now() - t0 < 50, 'the waiting request fails promptly');
    // One socket: the busy request took the idle one; the server saw it close mid-request.
    assert.equal((await fake.waitForClose(t0)).midRequest, true);
  } finally {
    fake.frameGapMs = 0;
  }
  await assert.rejects(say(p, '还在吗？'), { code: 'XZ_ERR_SHUTTING_DOWN' });
});

test('a 429 at the upgrade carries Retry-After as details.retryAfterMs', TC, async () => {
  const p = edge();
  fake.inject({ kind: 'upgrade', status: 429, retryAfter: 3 });
  await assert.rejects(say(p, '太快了。'), (e: { code: string; details: { retryAfterMs?: number; status?: number } }) => {
    assert.equal(e.code, 'XZ_ERR_VENDOR_RATE_LIMIT');
    assert.equal(e.details.status, 429);
    assert.equal(e.details.retryAfterMs, 3000);
    return true;
  });
});
