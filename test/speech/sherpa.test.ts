// sherpa-onnx adapters without a model (no package ships one): config checking with config paths,
// missing files caught before anything native runs, the model probe in a child process (a real
// one with sherpa-onnx-node on files that would kill the process, and a fake addon end to end),
// the registry reaching the adapters, the addon in worker threads, and the ASR and TTS contract
// suites over a fake addon that behaves like the real one (chunked streaming decode, async
// offline decode and synthesis). Nothing here proves recognition or synthesis quality.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AsrEvent, AsrProvider } from '../../providers/contracts/asr.js';
import type { TtsProvider } from '../../providers/contracts/tts.js';
import { createAsr, createTts } from '../../providers/registry.js';
import { createSherpaAsr, parseSherpaAsrConfig, resultLanguage } from '../../providers/asr/sherpa/index.js';
import { createSherpaTts, parseSherpaTtsConfig, pickSpeaker, speedFor } from '../../providers/tts/sherpa/index.js';
import { sherpaEntry, toFloat32, toInt16 } from '../../native/sherpa.js';
import { asrConformance } from './asr-conformance.js';
import { ttsConformance } from './tts-conformance.js';
import { T, useSpawner } from './helpers.js';

const fx = useSpawner(after, before);
const client = () => Promise.resolve(fx.client);
const scratch = mkdtempSync(join(tmpdir(), 'xz-sherpa-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A folder holding `names` as files with `content`. */
function modelDir(name: string, names: string[], content = 'x'): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const n of names) writeFileSync(join(dir, n), content);
  return dir;
}

const senseVoice = (dir: string, extra: Record<string, unknown> = {}) => ({
  type: 'sherpa',
  model: { kind: 'offline-sense-voice', dir, files: { model: 'model.int8.onnx', tokens: 'tokens.txt' } },
  ...extra,
});

const codeAndMessage = (code: string, ...patterns: RegExp[]) => (e: { code?: string; message: string }) => {
  assert.equal(e.code, code, e.message);
  for (const p of patterns) assert.match(e.message, p);
  return true;
};

// ---- a fake addon with the real one's shape ------------------------------------------------------

const FAKE = fileURLToPath(new URL('../fixtures/speech/fake-sherpa.cjs', import.meta.url));
interface FakeControl {
  decodeMs: number;
  slowNext: number;
  failNext: boolean;
  inflight: number;
  maxInflight: number;
  loads: number;
  rate: number;
  hotwords: (string | undefined)[];
}
const fake = createRequire(import.meta.url)(FAKE) as { control: FakeControl; speech(text: string, sid: number, speed: number): Float32Array };
const viaFake = { specifier: FAKE };

const onlineDir = modelDir('online', ['encoder.onnx', 'decoder.onnx', 'joiner.onnx', 'tokens.txt']);
const offlineDir = modelDir('offline', ['model.int8.onnx', 'tokens.txt']);
const ttsDir = modelDir('tts', ['model.onnx', 'tokens.txt', 'lexicon.txt', 'lexicon-en.txt', 'date.fst', 'number.fst']);
const crashDir = modelDir('crash', ['model.int8.onnx', 'tokens.txt', 'model.onnx', 'encoder.onnx', 'decoder.onnx', 'joiner.onnx'], 'crash');

const onlineCfg = (dir = onlineDir) => ({
  type: 'sherpa',
  model: { kind: 'online-transducer', dir, files: { encoder: 'encoder.onnx', decoder: 'decoder.onnx', joiner: 'joiner.onnx', tokens: 'tokens.txt' } },
});
const vitsCfg = (dir = ttsDir, extra: Record<string, unknown> = {}) => ({
  type: 'sherpa',
  model: { kind: 'vits', dir, files: { model: 'model.onnx', tokens: 'tokens.txt', lexicon: ['lexicon.txt', 'lexicon-en.txt'] } },
  rule_fsts: ['date.fst', 'number.fst'],
  ...extra,
});

// ---- config --------------------------------------------------------------------------------------

test('ASR config: every problem is reported with its config path', T, () => {
  const path = 'providers.asr.local';
  assert.throws(
    () => parseSherpaAsrConfig({ type: 'sherpa', model: { kind: 'offline-sense-voice', files: { model: 'm.onnx' } }, num_thread: 2, num_threads: 0 }, path),
    codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.asr\.local\.model\.files\.tokens: /, /providers\.asr\.local\.num_thread: unknown key/, /providers\.asr\.local\.num_threads: /),
  );
  assert.throws(
    () => parseSherpaAsrConfig({ model: { kind: 'offline-wav2vec', files: {} } }, path),
    codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.asr\.local\.model\.kind: unknown kind "offline-wav2vec"; expected one of: online-transducer, online-paraformer, .*offline-sense-voice.*offline-whisper/),
  );
  assert.throws(() => parseSherpaAsrConfig({ model: { files: {} } }, path), codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.asr\.local\.model\.kind: required; expected one of/));
  assert.throws(() => parseSherpaAsrConfig({}, path), codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.asr\.local\.model: /));
  // Files of another kind are unknown keys, so a copy-paste slip is caught.
  assert.throws(
    () => parseSherpaAsrConfig({ model: { kind: 'offline-paraformer', files: { model: 'a', tokens: 'b', joiner: 'c' } } }, path),
    codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.asr\.local\.model\.files\.joiner: unknown key/),
  );
  assert.throws(
    () => parseSherpaAsrConfig(senseVoice(offlineDir, { model: { kind: 'offline-sense-voice', dir: offlineDir, files: { model: 'model.int8.onnx', tokens: 'tokens.txt' }, language: 'fr' } }), path),
    codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.asr\.local\.model\.language: /),
  );
});

test('ASR config: defaults, ${VAR} strings, and the addon config it becomes', T, () => {
  const c = parseSherpaAsrConfig(senseVoice(offlineDir, { num_threads: '2', verify_model: 'false', languages: ['ZH', 'en'], pool: { max_concurrency: 2 } }));
  assert.equal(c.online, false);
  assert.deepEqual(c.languages, ['zh', 'en']);
  assert.equal(c.options.verify_model, false);
  assert.deepEqual(c.native, {
    featConfig: { sampleRate: 16_000, featureDim: 80 },
    modelConfig: {
      tokens: join(offlineDir, 'tokens.txt'),
      numThreads: 2,
      provider: 'cpu',
      debug: 0,
      senseVoice: { model: join(offlineDir, 'model.int8.onnx'), language: 'auto', useInverseTextNormalization: 1 },
    },
    decodingMethod: 'greedy_search',
    maxActivePaths: 4,
  });
  const o = parseSherpaAsrConfig(onlineCfg());
  assert.equal(o.online, true);
  assert.equal((o.native as { enableEndpoint: number }).enableEndpoint, 0, 'our VAD, not sherpa, ends utterances');
  assert.deepEqual((o.native.modelConfig as { transducer: unknown }).transducer, {
    encoder: join(onlineDir, 'encoder.onnx'),
    decoder: join(onlineDir, 'decoder.onnx'),
    joiner: join(onlineDir, 'joiner.onnx'),
  });
});

test('missing model files fail with a coded error naming the config path and the file', T, async () => {
  const path = 'providers.asr.zh';
  assert.throws(
    () => parseSherpaAsrConfig(senseVoice(offlineDir, { model: { kind: 'offline-sense-voice', dir: offlineDir, files: { model: 'model.onnx', tokens: 'tokens.txt' } } }), path),
    (e: { code: string; message: string; details: { path: string; file: string } }) => {
      assert.equal(e.code, 'XZ_ERR_SHERPA_MODEL_MISSING');
      assert.equal(e.details.path, 'providers.asr.zh.model.files.model');
      assert.equal(e.details.file, join(offlineDir, 'model.onnx'));
      assert.match(e.message, /providers\.asr\.zh\.model\.files\.model: .*model\.onnx does not exist/);
      return true;
    },
  );
  assert.throws(() => parseSherpaAsrConfig(senseVoice(join(scratch, 'nowhere')), path), codeAndMessage('XZ_ERR_SHERPA_MODEL_MISSING', /providers\.asr\.zh\.model\.dir: .*nowhere does not exist/));
  assert.throws(() => parseSherpaAsrConfig(senseVoice(join(offlineDir, 'tokens.txt')), path), codeAndMessage('XZ_ERR_SHERPA_MODEL_MISSING', /model\.dir: .* is not a folder/));
  const tts = 'providers.tts.melo';
  assert.throws(
    () => parseSherpaTtsConfig(vitsCfg(ttsDir, { model: { kind: 'vits', dir: ttsDir, files: { model: 'model.onnx', tokens: 'tokens.txt', lexicon: ['lexicon.txt', 'lexicon-zh.txt'] } } }), tts),
    codeAndMessage('XZ_ERR_SHERPA_MODEL_MISSING', /providers\.tts\.melo\.model\.files\.lexicon\[1\]: .*lexicon-zh\.txt does not exist/),
  );
  assert.throws(() => parseSherpaTtsConfig(vitsCfg(ttsDir, { rule_fsts: ['date.fst', 'phone.fst'] }), tts), codeAndMessage('XZ_ERR_SHERPA_MODEL_MISSING', /providers\.tts\.melo\.rule_fsts\[1\]: .*phone\.fst does not exist/));
  assert.throws(
    () => parseSherpaTtsConfig({ model: { kind: 'vits', dir: ttsDir, files: { model: 'model.onnx', tokens: 'tokens.txt', data_dir: 'tokens.txt' } } }, tts),
    codeAndMessage('XZ_ERR_SHERPA_MODEL_MISSING', /providers\.tts\.melo\.model\.files\.data_dir: .* is not a folder/),
  );
  // Through the factory too: the files are checked before the addon is even loaded.
  await assert.rejects(
    createSherpaAsr('zh', senseVoice(join(scratch, 'nowhere')), client, path, { specifier: join(scratch, 'no-such-addon.cjs') }),
    { code: 'XZ_ERR_SHERPA_MODEL_MISSING' },
  );
});

test('TTS config: paths in problems; lists comma-joined for the addon; speakers and speed', T, () => {
  const path = 'providers.tts.melo';
  assert.throws(
    () => parseSherpaTtsConfig({ model: { kind: 'piper', files: {} } }, path),
    codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.tts\.melo\.model\.kind: unknown kind "piper"; expected one of: vits, matcha, kokoro/),
  );
  assert.throws(
    () => parseSherpaTtsConfig({ model: { kind: 'kokoro', files: { model: 'm', tokens: 't' } }, speed: 9, speakers: { anna: -1 } }, path),
    codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.tts\.melo\.model\.files\.voices: /, /providers\.tts\.melo\.speed: /, /providers\.tts\.melo\.speakers\.anna: /),
  );
  const c = parseSherpaTtsConfig(vitsCfg(ttsDir, { speakers: { anna: 2 }, speed: '1.25' }), path);
  assert.deepEqual(c.native, {
    model: {
      numThreads: 1,
      provider: 'cpu',
      debug: 0,
      vits: { model: join(ttsDir, 'model.onnx'), tokens: join(ttsDir, 'tokens.txt'), lexicon: `${join(ttsDir, 'lexicon.txt')},${join(ttsDir, 'lexicon-en.txt')}` },
    },
    maxNumSentences: 1,
    ruleFsts: `${join(ttsDir, 'date.fst')},${join(ttsDir, 'number.fst')}`,
  });
  assert.equal(pickSpeaker(c, 3, {}), 0);
  assert.equal(pickSpeaker(c, 3, { name: 'anna' }), 2);
  assert.equal(pickSpeaker(c, 3, { name: '1' }), 1);
  assert.throws(() => pickSpeaker(c, 3, { name: '3' }), { code: 'XZ_ERR_TTS_BAD_VOICE' });
  assert.throws(() => pickSpeaker(c, 3, { name: 'zh-CN-XiaoxiaoNeural' }), codeAndMessage('XZ_ERR_TTS_BAD_VOICE', /one of anna/));
  assert.equal(speedFor(c, {}), 1.25);
  assert.equal(speedFor(c, { rate: 2 }), 2.5);
  assert.equal(speedFor(c, { rate: 100 }), 4);
  assert.equal(speedFor(c, { rate: -1 }), 1.25);
});

test('sample conversions and result languages', T, () => {
  assert.deepEqual([...toFloat32(Int16Array.from([0, 16384, -32768, 32767]))], [0, 0.5, -1, 32767 / 32768]);
  assert.deepEqual([...toInt16(Float32Array.from([0, 0.5, -1, 1, 1.7, -3, NaN]))], [0, 16384, -32767, 32767, 32767, -32768, 0]);
  assert.deepEqual([...toInt16(Float32Array.from([0.1, 0.2, 0.3, 0.4]), 1, 3)], [6553, 9830]);
  assert.equal(resultLanguage('<|zh|>'), 'zh');
  assert.equal(resultLanguage('en'), 'en');
  assert.equal(resultLanguage('<|nospeech|>'), undefined);
  assert.equal(resultLanguage(''), undefined);
  assert.equal(resultLanguage(undefined), undefined);
});

// ---- the registry and the factories --------------------------------------------------------------

test('the registry reaches the adapters; a model needing the probe needs the spawner', T, async () => {
  await assert.rejects(createAsr('local', { type: 'sherpa', model: { kind: 'nope' } }), codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.asr\.local\.model\.kind: unknown kind "nope"/));
  await assert.rejects(
    createTts('voice', { type: 'sherpa', model: { kind: 'vits', files: { model: join(scratch, 'missing.onnx'), tokens: 'tokens.txt' } } }),
    codeAndMessage('XZ_ERR_SHERPA_MODEL_MISSING', /providers\.tts\.voice\.model\.files\.model: .*missing\.onnx does not exist/),
  );
  // Valid files, verify_model on, no spawner given: creation got as far as the probe.
  await assert.rejects(createAsr('local', senseVoice(offlineDir)), { code: 'XZ_ERR_PROVIDER_DEPENDENCY' });
  await assert.rejects(createTts('voice', vitsCfg()), { code: 'XZ_ERR_PROVIDER_DEPENDENCY' });
});

test('a model that would kill the process is refused by the probe (real sherpa-onnx-node)', T, async (t) => {
  // Not ONNX at all: onnxruntime throws inside sherpa-onnx and the process aborts (SIGABRT).
  const junk = modelDir('junk', ['model.int8.onnx'], 'not a model');
  writeFileSync(join(junk, 'tokens.txt'), 'a 0\nb 1\n');
  await assert.rejects(
    createAsr('zh', senseVoice(junk), { spawner: fx.spawner.address }),
    codeAndMessage('XZ_ERR_SHERPA_MODEL_INVALID', /providers\.asr\.zh\.model: sherpa-onnx could not load this model \((SIGABRT|exit \d+)\): .*Protobuf parsing failed/),
  );
  // A tokens file that is not one: sherpa-onnx calls exit(-1) while reading it.
  const badTokens = modelDir('bad-tokens', ['model.int8.onnx', 'tokens.txt'], 'not a model');
  await assert.rejects(createAsr('zh', senseVoice(badTokens), { spawner: fx.spawner.address }), codeAndMessage('XZ_ERR_SHERPA_MODEL_INVALID', /\(exit 255\): .*ReadTokens/));
  await assert.rejects(createTts('melo', vitsCfg(junk, { model: { kind: 'vits', dir: junk, files: { model: 'model.int8.onnx', tokens: 'tokens.txt' } }, rule_fsts: [] }), { spawner: fx.spawner.address }), {
    code: 'XZ_ERR_SHERPA_MODEL_INVALID',
  });
  // A real ONNX model of another kind: sherpa-onnx calls exit(-1).
  const silero = fileURLToPath(new URL('../../native/models/silero_vad.onnx', import.meta.url));
  if (!existsSync(silero)) return t.skip('native/models/silero_vad.onnx not fetched (native/setup.sh)');
  await assert.rejects(
    createAsr('zh', { type: 'sherpa', model: { kind: 'offline-sense-voice', files: { model: silero, tokens: join(junk, 'tokens.txt') } } }, { spawner: fx.spawner.address }),
    codeAndMessage('XZ_ERR_SHERPA_MODEL_INVALID', /\(exit 255\): .*vocab_size/),
  );
});

test('the addon failing to load is a coded error, raised after the file check', T, async () => {
  await assert.rejects(
    createSherpaAsr('zh', senseVoice(offlineDir), client, 'providers.asr.zh', { specifier: join(scratch, 'no-such-addon.cjs') }),
    codeAndMessage('XZ_ERR_SHERPA_UNAVAILABLE', /could not be loaded on /, /platform package \(sherpa-onnx-/),
  );
  assert.match(sherpaEntry(), /sherpa-onnx-node/);
});

test('end to end over a fake addon: probe in a child, then the model loads here; a crashing model never does', T, async () => {
  const loads = fake.control.loads;
  const asr = await createSherpaAsr('zh', senseVoice(offlineDir), client, 'providers.asr.zh', viaFake);
  assert.deepEqual(asr.caps, { streaming: false, sampleRate: 16_000, languages: 'any' });
  const online = await createSherpaAsr('stream', onlineCfg(), client, 'providers.asr.stream', viaFake);
  assert.equal(online.caps.streaming, true);
  const tts = await createSherpaTts('melo', vitsCfg(), client, 'providers.tts.melo', viaFake);
  assert.equal(tts.caps.sampleRate, 22_050, 'the rate the model reports');
  assert.equal(fake.control.loads, loads + 3, 'each model loaded once in this thread (the probes ran in children)');

  await assert.rejects(
    createSherpaAsr('zh', senseVoice(crashDir), client, 'providers.asr.zh', viaFake),
    codeAndMessage('XZ_ERR_SHERPA_MODEL_INVALID', /providers\.asr\.zh\.model: .*\(exit 255\): fake: model metadata missing/),
  );
  await assert.rejects(createSherpaTts('melo', vitsCfg(crashDir, { model: { kind: 'vits', dir: crashDir, files: { model: 'model.onnx', tokens: 'tokens.txt' } }, rule_fsts: [] }), client, 'providers.tts.melo', viaFake), {
    code: 'XZ_ERR_SHERPA_MODEL_INVALID',
  });
  assert.equal(fake.control.loads, loads + 3, 'no crashing model was loaded in this process');
  await assert.rejects(createSherpaTts('melo', vitsCfg(ttsDir, { sid: 5 }), client, 'providers.tts.melo', viaFake), codeAndMessage('XZ_ERR_CONFIG_INVALID', /providers\.tts\.melo\.sid: speaker 5, but the model has 3/));
});

// ---- behaviour over the fake addon --------------------------------------------------------------

/** 1.2 s of a tone; the fake "hears" one word per 0.25 s decoded, padding included. */
const tone = (samples = 19_200): Int16Array => Int16Array.from({ length: samples }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 220 * i) / 16_000)));

test('streaming: partials follow the text as audio arrives; end() flushes the tail into the final', T, async () => {
  fake.control.decodeMs = 0;
  const p = await createSherpaAsr('stream', onlineCfg(), client, 'providers.asr.stream', viaFake);
  const s = p.open({ signal: new AbortController().signal });
  const events: AsrEvent[] = [];
  const reading = (async () => {
    for await (const ev of s) events.push(ev);
  })();
  for (let i = 0; i < 4; i++) {
    s.write(tone(8000)); // 0.5 s
    await new Promise((r) => setTimeout(r, 20));
  }
  s.end();
  await reading;
  const partials = events.filter((e) => e.kind === 'partial').map((e) => e.text);
  assert.ok(partials.length >= 2, `partials: ${JSON.stringify(partials)}`);
  assert.equal(new Set(partials).size, partials.length, 'a partial only when the text changed');
  for (let i = 1; i < partials.length; i++) assert.ok(partials[i]!.startsWith(partials[i - 1]!), 'the text grows');
  // 2.0 s written + 0.4 s of tail padding = 2.4 s → 9 words; without the padding it would be 8.
  assert.deepEqual(events.at(-1), { kind: 'final', text: 'w0 w1 w2 w3 w4 w5 w6 w7 w8' });
  assert.equal(events.filter((e) => e.kind === 'final').length, 1);
});

test('streaming decode yields to the event loop between chunks', T, async () => {
  fake.control.decodeMs = 10;
  try {
    const p = await createSherpaAsr('stream', onlineCfg(), client, 'providers.asr.stream', viaFake);
    const s = p.open({ signal: new AbortController().signal });
    s.write(tone(16_000 * 6)); // 6 s at once: ~19 chunks, ~190 ms of decoding
    s.end();
    let ticks = 0;
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
      ticks++;
    }, 1);
    for await (const ev of s) void ev;
    clearInterval(timer);
    assert.ok(ticks >= 5, `a timer ran ${ticks} times during the decode`);
    assert.ok(worst < 100, `the loop was held for ${worst.toFixed(0)} ms at most (one chunk is 10 ms, all of them ~200 ms)`);
  } finally {
    fake.control.decodeMs = 0;
  }
});

test('languages: a request outside the configured list is refused with XZ_ERR_ASR_LANGUAGE', T, async () => {
  for (const cfg of [onlineCfg(), senseVoice(offlineDir)]) {
    const p = await createSherpaAsr('zh', { ...cfg, languages: ['zh'] }, client, 'providers.asr.zh', viaFake);
    const s = p.open({ language: 'de-DE', signal: new AbortController().signal });
    s.write(tone());
    s.end();
    await assert.rejects(
      (async () => {
        for await (const ev of s) void ev;
      })(),
      { code: 'XZ_ERR_ASR_LANGUAGE', category: 'invalid-request' },
    );
  }
});

test('offline: one decode at a time per provider; the final carries the detected language', T, async () => {
  fake.control.maxInflight = 0;
  const p = await createSherpaAsr('zh', senseVoice(offlineDir), client, 'providers.asr.zh', viaFake);
  const one = async (samples: number): Promise<AsrEvent[]> => {
    const s = p.open({ signal: new AbortController().signal });
    s.write(tone(samples));
    s.end();
    const out: AsrEvent[] = [];
    for await (const ev of s) out.push(ev);
    return out;
  };
  const got = await Promise.all([one(16_000), one(8000), one(4000)]);
  assert.deepEqual(got[0], [{ kind: 'final', text: 'heard 16000 samples', language: 'zh' }]);
  assert.deepEqual(got[2], [{ kind: 'final', text: 'heard 4000 samples', language: 'zh' }]);
  assert.equal(fake.control.maxInflight, 1, 'decodes never overlapped');
});

const FAULTS_ASR = [{ name: 'engine failure', inject: () => void (fake.control.failNext = true), code: 'XZ_ERR_SHERPA_FAILED', category: 'upstream' }];

asrConformance('sherpa online (fake addon)', async () => {
  const provider: AsrProvider = await createSherpaAsr('stream', onlineCfg(), client, 'providers.asr.stream', viaFake);
  return {
    provider,
    utterance: async () => ({ pcm: tone(), expect: 'w0 w1 w2 w3 w4 w5' }), // 1.2 s + 0.4 s padding
    // Slow enough that the decode is still going 60 ms in; each chunk is 15 ms of blocking work.
    slowNext: () => void (fake.control.decodeMs = 15),
    faults: FAULTS_ASR,
    close: async () => {
      fake.control.decodeMs = 0;
      await provider.close?.();
    },
  };
});

asrConformance('sherpa offline (fake addon)', async () => {
  const provider: AsrProvider = await createSherpaAsr('zh', senseVoice(offlineDir), client, 'providers.asr.zh', viaFake);
  return {
    provider,
    utterance: async () => ({ pcm: tone(), expect: 'heard 19200 samples' }),
    slowNext: () => void (fake.control.slowNext = 500),
    faults: FAULTS_ASR,
    close: async () => {
      fake.control.decodeMs = 0;
      await provider.close?.();
    },
  };
});

ttsConformance('sherpa (fake addon)', async () => {
  const provider: TtsProvider = await createSherpaTts('melo', vitsCfg(ttsDir, { speakers: { anna: 2 } }), client, 'providers.tts.melo', viaFake);
  return {
    provider,
    voice: { name: 'anna' },
    longText: 'A long sentence that takes a while to say. '.repeat(5),
    expected: async (text) => Int16Array.from(fake.speech(text.trim(), 2, 1), (v) => Math.round(v * 32767)),
    faults: [
      { name: 'engine failure', inject: () => void (fake.control.failNext = true), code: 'XZ_ERR_SHERPA_FAILED', category: 'upstream' },
      { name: 'audio at another rate', inject: () => void (fake.control.rate = 16_000), code: 'XZ_ERR_TTS_BAD_AUDIO', category: 'upstream' },
    ],
    close: async () => provider.close?.(),
  };
});

test('TTS: chunks of chunk_ms at the model rate; one synthesis at a time', T, async () => {
  fake.control.maxInflight = 0;
  const p = await createSherpaTts('melo', vitsCfg(ttsDir, { chunk_ms: 100 }), client, 'providers.tts.melo', viaFake);
  const sizes = async (text: string): Promise<number[]> => {
    const out: number[] = [];
    for await (const c of p.synthesize({ text, voice: {}, signal: new AbortController().signal })) out.push(c.pcm.length);
    return out;
  };
  const [a] = await Promise.all([sizes('twenty characters!!!'), sizes('another one'), sizes('and a third')]);
  const total = Math.round(20 * 0.07 * 22_050);
  assert.deepEqual(a!.slice(0, -1), Array(a!.length - 1).fill(2205), '100 ms chunks');
  assert.equal(a!.reduce((x, y) => x + y, 0), total);
  assert.equal(fake.control.maxInflight, 1);
});

// ---- worker threads -------------------------------------------------------------------------------

test('the addon loads in worker threads that then exit or are terminated, and the process lives on', T, async (t) => {
  // In a child process, so a native crash at worker exit shows as its exit status instead of
  // taking the test runner down. With the Silero model fetched, each worker also runs a real
  // onnxruntime session inside sherpa-onnx (its VAD) before it goes.
  const silero = fileURLToPath(new URL('../../native/models/silero_vad.onnx', import.meta.url));
  const script = String.raw`
    const { Worker } = require('node:worker_threads');
    const [entry, silero] = process.argv.slice(1);
    const body = ${'`'}
      const { parentPort, workerData } = require('node:worker_threads');
      const fs = require('node:fs');
      const sherpa = require(workerData.entry);
      const resampled = new sherpa.LinearResampler(24000, 16000).resample(new Float32Array(2400)).length;
      let threw = '';
      try {
        new sherpa.OnlineRecognizer({ featConfig: { sampleRate: 16000, featureDim: 80 }, modelConfig: { transducer: { encoder: '/nonexistent/e.onnx', decoder: '/nonexistent/d.onnx', joiner: '/nonexistent/j.onnx' }, tokens: '/nonexistent/t.txt', numThreads: 1, provider: 'cpu', debug: 0 } });
      } catch (e) { threw = e.message; }
      let vad = false;
      if (fs.existsSync(workerData.silero)) {
        const v = new sherpa.Vad({ sileroVad: { model: workerData.silero, threshold: 0.5, minSpeechDuration: 0.25, minSilenceDuration: 0.5, windowSize: 512 }, sampleRate: 16000, numThreads: 1, provider: 'cpu', debug: 0 }, 30);
        for (let i = 0; i < 30; i++) v.acceptWaveform(new Float32Array(512));
        vad = true;
      }
      parentPort.postMessage({ version: sherpa.version, resampled, threw, vad });
      if (workerData.hang) setInterval(() => {}, 1000);
    ${'`'};
    (async () => {
      for (const hang of [false, true, false, true, false, true]) {
        const w = new Worker(body, { eval: true, workerData: { entry, silero, hang } });
        const msg = await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
        const exited = new Promise((resolve) => w.once('exit', resolve));
        if (hang) await w.terminate();
        console.log(JSON.stringify({ hang, code: await exited, ...msg }));
      }
      console.log('process alive');
    })().catch((e) => { console.error(e); process.exit(2); });
  `;
  const { code, stdout, stderr } = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ['-e', script, sherpaEntry(), silero], { timeout: 50_000 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
  const lines = stdout.trim().split('\n');
  t.diagnostic(lines.join(' | '));
  assert.equal(code, 0, `child exited ${code}; stderr: ${stderr.slice(-500)}`);
  assert.equal(lines.at(-1), 'process alive');
  const rounds = lines.slice(0, -1).map((l) => JSON.parse(l) as { hang: boolean; code: number; resampled: number; threw: string; vad: boolean });
  assert.equal(rounds.length, 6);
  for (const r of rounds) {
    assert.equal(r.code, r.hang ? 1 : 0, 'terminated workers exit 1, the others 0');
    assert.ok(Math.abs(r.resampled - 1600) < 20, `24 → 16 kHz gave ${r.resampled} samples for 2400`);
    assert.equal(r.threw, 'Please check your config!');
  }
});
