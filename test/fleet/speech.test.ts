// Spoken fixtures: espeak-ng speech → WAV → 16 kHz → 60 ms Opus at complexity 0 with DTX, as the
// firmware's microphone path produces it; framing for v2/v3; Opus TOC durations; WAV and
// resampling. espeak-ng must be installed (the setup installs it); without it this suite fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpusModule from '@discordjs/opus';
import { decodeUplink } from '../../actors/frontdoor/framing.js';
import { BUILTIN_SENTENCES, encodeSilenceLoop, encodeUtterance, frameSpeech, loadSpeech } from '../../bench/fleet/speech.js';
import { opusPacketMs, downlinkPayload } from '../../bench/fleet/opus-packet.js';
import { parseWav, resample } from '../../bench/fleet/pcm.js';

const { OpusEncoder } = OpusModule;
const T = { timeout: 60_000 };

function sineWav(rate: number, hz: number, seconds: number, channels = 1): Buffer {
  const n = Math.round(rate * seconds);
  const data = Buffer.alloc(n * 2 * channels);
  for (let i = 0; i < n; i++) {
    const v = Math.round(12000 * Math.sin((2 * Math.PI * hz * i) / rate));
    for (let c = 0; c < channels; c++) data.writeInt16LE(v, (i * channels + c) * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2 * channels, 28);
  h.writeUInt16LE(2 * channels, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

function zeroCrossings(s: Float32Array): number {
  let n = 0;
  for (let i = 1; i < s.length; i++) if (s[i - 1]! < 0 !== s[i]! < 0) n++;
  return n;
}

test('built-in speech: espeak-ng sentences of about 3 s, cached, as 60 ms firmware-style Opus', T, async () => {
  const cache = mkdtempSync(join(tmpdir(), 'xz-fleet-cache-'));
  try {
    const set = await loadSpeech('builtin', cache);
    assert.equal(set.source, 'espeak-ng');
    assert.equal(set.utterances.length, BUILTIN_SENTENCES.length);
    const files = readdirSync(cache).filter((f) => f.endsWith('.wav'));
    assert.equal(files.length, BUILTIN_SENTENCES.length, 'one cached WAV per sentence');
    const decoder = new OpusEncoder(16000, 1);
    for (const u of set.utterances) {
      assert.ok(u.voicedMs >= 2000 && u.voicedMs <= 4200, `${u.name}: ${u.voicedMs} ms of voice`);
      assert.ok(u.frames.length - u.lastVoiced - 1 >= 8, 'followed by about 0.5 s of silence');
      for (const f of u.frames) {
        assert.equal(opusPacketMs(f), 60);
        assert.equal(decoder.decode(f).length, 960 * 2);
      }
      const voiced = u.frames.slice(0, u.lastVoiced + 1);
      assert.ok(voiced.reduce((a, f) => a + f.length, 0) / voiced.length > 30, 'speech packets carry real audio');
    }
    // DTX: in steady state silence costs 1-byte packets with a periodic update.
    assert.ok(set.silence.length >= 20);
    const tiny = set.silence.filter((f) => f.length <= 3).length;
    assert.ok(tiny / set.silence.length > 0.7, `${tiny}/${set.silence.length} silence packets are tiny`);
    assert.ok(set.silence.every((f) => f.length < 40));

    // A second load reuses the cache rather than respawning espeak-ng.
    const mtimes = files.map((f) => statSync(join(cache, f)).mtimeMs);
    await loadSpeech('builtin', cache);
    assert.deepEqual(files.map((f) => statSync(join(cache, f)).mtimeMs), mtimes);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('a folder of WAV files is used as speech; an empty or missing folder is a clear error', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xz-fleet-wav-'));
  try {
    await assert.rejects(loadSpeech(dir, dir), /no \.wav files/);
    await assert.rejects(loadSpeech(join(dir, 'nope'), dir), /no such directory/);
    writeFileSync(join(dir, 'tone.wav'), sineWav(48000, 300, 2, 2));
    const set = await loadSpeech(dir, dir);
    assert.equal(set.utterances.length, 1);
    assert.equal(set.utterances[0]!.name, 'tone.wav');
    assert.ok(Math.abs(set.utterances[0]!.voicedMs - 2000) <= 60);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('framing for v2 and v3 wraps the same packets in the header our server parses', T, () => {
  const pcm = parseWav(sineWav(16000, 440, 0.5));
  const set = { source: 'x', utterances: [encodeUtterance('tone', pcm)], silence: encodeSilenceLoop() };
  assert.equal(frameSpeech(set, 1), set);
  for (const v of [2, 3] as const) {
    const framed = frameSpeech(set, v);
    framed.utterances[0]!.frames.forEach((f, i) => {
      const d = decodeUplink(v, f);
      assert.ok(d.ok);
      assert.deepEqual(Buffer.from(d.opus), set.utterances[0]!.frames[i]);
      const p = downlinkPayload(v, f);
      assert.ok(p.ok && Buffer.from(p.opus).equals(set.utterances[0]!.frames[i]!));
    });
  }
  assert.deepEqual(downlinkPayload(3, Buffer.from([0, 0, 0, 9, 1])), { ok: false, why: 'v3 payload_size 9 but 1 bytes follow' });
  assert.equal(downlinkPayload(2, Buffer.alloc(8)).ok, false);
});

test('Opus TOC durations: SILK, hybrid, CELT, multi-frame and empty packets', T, () => {
  assert.equal(opusPacketMs(new Uint8Array([(3 << 3) | 0])), 60); // SILK 60 ms
  assert.equal(opusPacketMs(new Uint8Array([(1 << 3) | 1, 0])), 40); // SILK 20 ms × 2
  assert.equal(opusPacketMs(new Uint8Array([(13 << 3) | 0])), 20); // hybrid 20 ms
  assert.equal(opusPacketMs(new Uint8Array([(19 << 3) | 3, 6])), 120); // CELT 20 ms × 6
  assert.equal(opusPacketMs(new Uint8Array([(16 << 3) | 0])), 2.5);
  assert.equal(opusPacketMs(new Uint8Array([])), 0);
  assert.ok(Number.isNaN(opusPacketMs(new Uint8Array([(19 << 3) | 3]))));
  // What libopus really produces at 24 kHz for 60 and 120 ms frames.
  const enc = new OpusEncoder(24000, 1);
  assert.equal(opusPacketMs(enc.encode(Buffer.alloc(1440 * 2))), 60);
  assert.equal(opusPacketMs(enc.encode(Buffer.alloc(2880 * 2))), 120);
});

test('WAV parsing mixes channels; resampling keeps the pitch and the duration', T, () => {
  const stereo = parseWav(sineWav(22050, 1000, 1, 2));
  assert.equal(stereo.sampleRate, 22050);
  assert.equal(stereo.samples.length, 22050);
  const r = resample(stereo, 16000);
  assert.equal(r.sampleRate, 16000);
  assert.equal(r.samples.length, 16000);
  const zc = zeroCrossings(r.samples.subarray(100, 15900)); // 1 kHz → ~2000 crossings per second
  assert.ok(Math.abs(zc - 2000 * (15800 / 16000)) < 20, `${zc} zero crossings`);
  // A tone above the new Nyquist is filtered out instead of aliasing.
  const high = resample(parseWav(sineWav(48000, 10000, 0.5)), 16000);
  const peak = high.samples.subarray(200, -200).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(peak < 0.02, `aliased peak ${peak}`);
  assert.throws(() => parseWav(Buffer.from('not a wav file at all')), /RIFF/);
});
