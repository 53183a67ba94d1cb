// The streaming WAV reader: any split of the bytes gives the same samples; foreign formats fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WavStreamParser } from '../../providers/tts/wav.js';
import { T, concatPcm } from './helpers.js';

function wav(samples: Int16Array, opts: { rate?: number; channels?: number; bits?: number; tag?: number; extra?: boolean } = {}): Buffer {
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(opts.tag ?? 1, 8);
  fmt.writeUInt16LE(opts.channels ?? 1, 10);
  fmt.writeUInt32LE(opts.rate ?? 22_050, 12);
  fmt.writeUInt32LE((opts.rate ?? 22_050) * 2, 16);
  fmt.writeUInt16LE(2, 20);
  fmt.writeUInt16LE(opts.bits ?? 16, 22);
  // an odd-sized LIST chunk before the data: padded to an even size
  const list = opts.extra ? Buffer.concat([Buffer.from('LIST', 'latin1'), Buffer.from([3, 0, 0, 0, 1, 2, 3, 0])]) : Buffer.alloc(0);
  const data = Buffer.alloc(8);
  data.write('data', 0, 'latin1');
  data.writeUInt32LE(0x7ffff000, 4); // streaming placeholder, as espeak-ng writes it
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(0x7ffff024, 4);
  riff.write('WAVE', 8, 'latin1');
  return Buffer.concat([riff, fmt, list, data, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}

test('any split of the stream yields the same samples and the header rate', T, () => {
  const samples = Int16Array.from({ length: 1001 }, (_, i) => (i * 37) % 65536 - 32768);
  const bytes = wav(samples, { extra: true });
  for (const step of [1, 2, 3, 7, 44, 45, 1000, bytes.length]) {
    const p = new WavStreamParser();
    const out: Int16Array[] = [];
    for (let at = 0; at < bytes.length; at += step) out.push(p.push(bytes.subarray(at, at + step)));
    assert.deepEqual(concatPcm(out), samples, `step ${step}`);
    assert.equal(p.format?.sampleRate, 22_050);
    assert.ok(p.complete);
  }
  const cut = new WavStreamParser();
  cut.push(bytes.subarray(0, bytes.length - 1));
  assert.equal(cut.complete, false, 'a dangling byte shows');
});

test('formats other than 16-bit mono PCM fail with a coded error', T, () => {
  const one = new Int16Array(4);
  for (const bad of [{ channels: 2 }, { bits: 8 }, { tag: 3 }, { rate: 1000 }]) {
    assert.throws(() => new WavStreamParser().push(wav(one, bad)), { code: 'XZ_ERR_TTS_BAD_AUDIO' }, JSON.stringify(bad));
  }
  assert.throws(() => new WavStreamParser().push(Buffer.from('not a wav file at all')), { code: 'XZ_ERR_TTS_BAD_AUDIO' });
  assert.throws(() => new WavStreamParser().push(Buffer.concat([wav(one).subarray(0, 12), Buffer.alloc(70_000)])), { code: 'XZ_ERR_TTS_BAD_AUDIO' });
});
