// The TTS contract suite against every synthesiser: Edge (its WebSocket fake), OpenAI-compatible
// speech (its HTTP fake) and espeak-ng (through the spawner). The fakes know the exact samples they
// send, so order and framing are checked to the sample; Edge's are decoded from the MP3 it sent.
import { after, before } from 'node:test';
import { MPEGDecoder } from 'mpg123-decoder';
import { EspeakTts, parseEspeakConfig } from '../../providers/tts/espeak/index.js';
import { EdgeTts, parseEdgeConfig } from '../../providers/tts/edge/index.js';
import { createOpenAiTts } from '../../providers/tts/openai/index.js';
import { startEdgeFake } from '../doubles/edge-tts.js';
import { startOpenAiAudioFake } from '../doubles/openai-audio.js';
import { childrenOf, needTools, useSpawner } from './helpers.js';
import { ttsConformance } from './tts-conformance.js';

const LONG = 'This passage is long enough to keep any synthesiser streaming for many seconds. '.repeat(20);

/** What a fresh mpg123 makes of the bytes the fake sent: the samples the provider must yield. */
async function decodeMp3(mp3: Uint8Array): Promise<Int16Array> {
  const d = new MPEGDecoder();
  await d.ready;
  const r = d.decode(mp3);
  d.free();
  const f = r.channelData[0]!;
  const out = new Int16Array(r.samplesDecoded);
  for (let i = 0; i < out.length; i++) out[i] = f[i]! >= 1 ? 32767 : f[i]! <= -1 ? -32768 : Math.round(f[i]! * 32767);
  return out;
}

ttsConformance('edge', async () => {
  const fake = await startEdgeFake({ frameGapMs: 2 });
  const provider = new EdgeTts('edge', parseEdgeConfig({ url: fake.url, stall_ms: 300, connections: 4 }));
  // Handshake failures need a handshake: the server drops the idle sockets first.
  const upgradeFault = (status: number): void => {
    fake.dropIdle();
    fake.inject({ kind: 'upgrade', status, retryAfter: 1 });
  };
  return {
    provider,
    voice: { language: 'en-US' },
    longText: LONG,
    expected: (text) => decodeMp3(fake.mp3For(text)),
    sawCancel: async (since) => (await fake.waitForClose(since)).at,
    faults: [
      { name: 'handshake 401', inject: () => upgradeFault(401), code: 'XZ_ERR_VENDOR_AUTH', category: 'auth' },
      { name: 'handshake 429', inject: () => upgradeFault(429), code: 'XZ_ERR_VENDOR_RATE_LIMIT', category: 'rate-limit' },
      { name: 'close 1013 (throttled)', inject: () => fake.inject({ kind: 'close', code: 1013, reason: 'Too many requests', afterFrames: 1 }), code: 'XZ_ERR_VENDOR_RATE_LIMIT', category: 'rate-limit' },
      { name: 'close 1007 SSML is invalid', inject: () => fake.inject({ kind: 'close', code: 1007, reason: 'SSML is invalid', afterFrames: 0 }), code: 'XZ_ERR_VENDOR_BAD_REQUEST', category: 'invalid-request' },
      { name: 'turn.end without audio', inject: () => fake.inject({ kind: 'no-audio' }), code: 'XZ_ERR_VENDOR_UPSTREAM', category: 'upstream' },
      { name: 'stall mid-stream', inject: () => fake.inject({ kind: 'stall', afterFrames: 2 }), code: 'XZ_ERR_VENDOR_STALL', category: 'timeout' },
      { name: 'disconnect mid-stream', inject: () => fake.inject({ kind: 'disconnect', afterFrames: 2 }), code: 'XZ_ERR_VENDOR_TRUNCATED', category: 'connectivity' },
    ],
    close: async () => {
      await provider.close();
      await fake.close();
    },
  };
});

ttsConformance('openai', async () => {
  const fake = await startOpenAiAudioFake({ apiKey: 'sk-test', chunkGapMs: 1 });
  const provider = createOpenAiTts('openai', { base_url: fake.url, api_key: 'sk-test', model: 'tts-1', voice: 'alloy', stall_ms: 300 });
  return {
    provider,
    longText: LONG,
    expected: async (text) => fake.pcmFor(text),
    sawCancel: async (since) => (await fake.waitForDisconnect(since)).at,
    faults: [
      { name: '401', inject: () => fake.inject('speech', { kind: 'status', status: 401 }), code: 'XZ_ERR_VENDOR_AUTH', category: 'auth' },
      { name: '429 + retry-after', inject: () => fake.inject('speech', { kind: 'status', status: 429, retryAfter: '2' }), code: 'XZ_ERR_VENDOR_RATE_LIMIT', category: 'rate-limit' },
      { name: '500', inject: () => fake.inject('speech', { kind: 'status', status: 500 }), code: 'XZ_ERR_VENDOR_UPSTREAM', category: 'upstream' },
      { name: '200 with a JSON error body', inject: () => fake.inject('speech', { kind: 'json-200' }), code: 'XZ_ERR_VENDOR_BAD_RESPONSE', category: 'upstream' },
      { name: 'stall mid-body', inject: () => fake.inject('speech', { kind: 'stall', afterBytes: 9001 }), code: 'XZ_ERR_VENDOR_STALL', category: 'timeout' },
      { name: 'disconnect mid-body', inject: () => fake.inject('speech', { kind: 'disconnect', afterBytes: 9001 }), code: 'XZ_ERR_VENDOR_CONNECT', category: 'connectivity' },
    ],
    close: async () => {
      await provider.close?.();
      await fake.close();
    },
  };
});

const fx = useSpawner(after, before);
ttsConformance('espeak', async () => ({
  provider: new EspeakTts('espeak', parseEspeakConfig({}), () => Promise.resolve(fx.client)),
  longText: LONG.repeat(5),
  ready: (t) => needTools(t, 'espeak-ng'),
  sawCancel: async () => {
    // The vendor here is a process: cancelled means it is gone.
    for (;;) {
      if (!childrenOf(fx.spawner.pid!).some((c) => c.comm === 'espeak-ng')) return performance.now();
      await new Promise((r) => setTimeout(r, 1));
    }
  },
}));
