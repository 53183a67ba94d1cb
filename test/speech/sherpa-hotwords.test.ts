// sherpa-onnx hotwords (contextual biasing) without a model: which configs may have them, the
// addon config they become, and the utterance's hints reaching each offline transducer stream
// in sherpa-onnx's own '/'-separated form (through the fake addon of test/fixtures/speech).
// Whether the bias helps recognition needs a real model and is not tested here.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSherpaAsr, parseSherpaAsrConfig, streamHotwords } from '../../providers/asr/sherpa/index.js';
import { T } from './helpers.js';

const FAKE = fileURLToPath(new URL('../fixtures/speech/fake-sherpa.cjs', import.meta.url));
const fake = createRequire(import.meta.url)(FAKE) as { control: { hotwords: (string | undefined)[] } };
const scratch = mkdtempSync(join(tmpdir(), 'xz-sherpa-hw-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
mkdirSync(join(scratch, 'm'));
for (const f of ['encoder.onnx', 'decoder.onnx', 'joiner.onnx', 'tokens.txt', 'hotwords.txt', 'bpe.vocab', 'model.onnx']) writeFileSync(join(scratch, 'm', f), 'x');
const dir = join(scratch, 'm');
const path = 'providers.asr.zh';
const noSpawner = () => Promise.reject(new Error('no spawner: verify_model is off'));

const transducer = (kind: 'online-transducer' | 'offline-transducer', extra: Record<string, unknown> = {}) => ({
  type: 'sherpa',
  model: { kind, dir, files: { encoder: 'encoder.onnx', decoder: 'decoder.onnx', joiner: 'joiner.onnx', tokens: 'tokens.txt' } },
  decoding_method: 'modified_beam_search',
  verify_model: false,
  ...extra,
});

const invalid = (pattern: RegExp) => (e: { code?: string; message: string }) => {
  assert.equal(e.code, 'XZ_ERR_CONFIG_INVALID', e.message);
  assert.match(e.message, pattern);
  return true;
};

test('hotwords become the addon config: file, score, modelling unit and vocab, resolved in model.dir', T, () => {
  const on = parseSherpaAsrConfig(transducer('online-transducer', { hotwords: { file: 'hotwords.txt', score: '2.5', modeling_unit: 'cjkchar+bpe', bpe_vocab: 'bpe.vocab' } }), path);
  assert.equal(on.native.hotwordsFile, join(dir, 'hotwords.txt'));
  assert.equal(on.native.hotwordsScore, 2.5);
  assert.equal(on.native.modelConfig.modelingUnit, 'cjkchar+bpe');
  assert.equal(on.native.modelConfig.bpeVocab, join(dir, 'bpe.vocab'));
  assert.equal(on.streamHints, false, 'the streaming addon API takes no per-stream hotwords');
  const off = parseSherpaAsrConfig(transducer('offline-transducer', { hotwords: { modeling_unit: 'cjkchar' } }), path);
  assert.equal(off.native.hotwordsScore, 1.5);
  assert.equal(off.native.hotwordsFile, undefined);
  assert.equal(off.streamHints, true);
  const plain = parseSherpaAsrConfig(transducer('offline-transducer'), path);
  assert.equal('hotwordsScore' in plain.native, false, 'no hotwords block, no hotword keys for the addon');
  assert.equal(plain.streamHints, false);
});

test('hotwords where sherpa-onnx cannot use them are config errors naming the key', T, () => {
  const senseVoice = { type: 'sherpa', model: { kind: 'offline-sense-voice', dir, files: { model: 'model.onnx', tokens: 'tokens.txt' } }, decoding_method: 'modified_beam_search', hotwords: { modeling_unit: 'cjkchar' } };
  assert.throws(() => parseSherpaAsrConfig(senseVoice, path), invalid(/providers\.asr\.zh\.hotwords: only transducer models take hotwords, not offline-sense-voice/));
  assert.throws(() => parseSherpaAsrConfig(transducer('online-transducer', { decoding_method: 'greedy_search', hotwords: {} }), path), invalid(/providers\.asr\.zh\.decoding_method: hotwords need modified_beam_search/));
  assert.throws(() => parseSherpaAsrConfig(transducer('offline-transducer', { hotwords: { modeling_unit: 'bpe' } }), path), invalid(/providers\.asr\.zh\.hotwords\.bpe_vocab: required for modeling_unit bpe/));
  assert.throws(() => parseSherpaAsrConfig(transducer('offline-transducer', { hotwords: { words: ['x'] } }), path), invalid(/providers\.asr\.zh\.hotwords\.words: unknown key/));
  assert.throws(
    () => parseSherpaAsrConfig(transducer('offline-transducer', { hotwords: { file: 'missing.txt' } }), path),
    (e: { code?: string; message: string }) => e.code === 'XZ_ERR_SHERPA_MODEL_MISSING' && /hotwords\.file: .*missing\.txt does not exist/.test(e.message),
  );
});

test('hints are written the way sherpa-onnx reads them: phrases joined by /, no stray separators or scores', T, () => {
  assert.equal(streamHotwords(['小智', 'Espressif ESP32']), '小智/Espressif ESP32');
  assert.equal(streamHotwords(['a/b', 'c :2.0', ' ', 'line\nbreak']), 'a b/c/line break');
  assert.equal(streamHotwords([]), undefined);
  assert.equal(streamHotwords(undefined), undefined);
});

test('an offline transducer stream gets the utterance hints only when they can be given as words', T, async () => {
  const tone = Int16Array.from({ length: 8000 }, (_, i) => Math.round(5000 * Math.sin(i / 5)));
  const once = async (cfg: Record<string, unknown>, hints?: string[]) => {
    const p = await createSherpaAsr('zh', cfg, noSpawner, path, { specifier: FAKE });
    fake.control.hotwords.length = 0;
    const s = p.open({ signal: new AbortController().signal, ...(hints ? { hints } : {}) });
    s.write(tone);
    s.end();
    for await (const _ of s);
    await p.close?.();
    return [...fake.control.hotwords];
  };
  assert.deepEqual(await once(transducer('offline-transducer', { hotwords: { modeling_unit: 'cjkchar' } }), ['小智', '乐鑫']), ['小智/乐鑫']);
  assert.deepEqual(await once(transducer('offline-transducer', { hotwords: { modeling_unit: 'cjkchar' } })), [undefined], 'no hints, a plain stream');
  // Without a modelling unit the addon expects tokens, which words are not: the hints stay out.
  assert.deepEqual(await once(transducer('offline-transducer', { hotwords: { file: 'hotwords.txt' } }), ['小智']), [undefined]);
});
