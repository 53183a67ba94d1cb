// play_music through the front door: the model picks a track from `tools.music.dir`, says a few
// words, then the file streams through the speak actor, codec and pacer like speech — in real
// time, titled, and stopped at once by an abort (issue 7 item 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOpenAI } from '../doubles/llm-vendors.js';
import { TestDevice, deviceHeaders, type Received } from '../helpers/device.js';
import { startTestServer } from '../helpers/server.js';
import { decoderFor } from '../helpers/speech.js';

const T = { timeout: 60_000 };

/** A stereo 16-bit WAV at 44.1 kHz: a 440 Hz tone, the same on both channels. */
function toneWav(seconds: number): Buffer {
  const rate = 44_100;
  const n = Math.round(seconds * rate);
  const b = Buffer.alloc(44 + n * 4);
  b.write('RIFF', 0, 'ascii');
  b.writeUInt32LE(36 + n * 4, 4);
  b.write('WAVEfmt ', 8, 'ascii');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(2, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 4, 28);
  b.writeUInt16LE(4, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'ascii');
  b.writeUInt32LE(n * 4, 40);
  for (let i = 0; i < n; i++) {
    const v = Math.round(12_000 * Math.sin((2 * Math.PI * 440 * i) / rate));
    b.writeInt16LE(v, 44 + i * 4);
    b.writeInt16LE(v, 46 + i * 4);
  }
  return b;
}

async function musicServer(t: Parameters<typeof startTestServer>[0], trackSeconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'xz-music-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'Moonlight_Sonata.wav'), toneWav(trackSeconds));
  writeFileSync(join(dir, 'Other Song.wav'), toneWav(0.2));
  const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => fake.close());
  fake.script({ tools: [{ name: 'play_music', args: '{"song": "moonlight sonata"}' }] }, { text: 'Here it is.' });
  const server = await startTestServer(t, {
    auth: { mode: 'off' },
    providers: { llm: { gpt: { type: 'openai', base_url: fake.url, model: 'm', api_key: 'sk-test' } } },
    pipeline: { llm: ['gpt'] },
    tools: { music: { dir } },
  });
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  t.after(() => dev.close());
  const hello = await dev.hello({ features: {} });
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'detect', text: 'play moonlight sonata' });
  return { dev, fake, sessionId: hello['session_id'] as string, rate: ((hello['audio_params'] as { sample_rate: number }).sample_rate) };
}

const isJson = (r: Received, type: string, state?: string): r is Received & { kind: 'json' } =>
  r.kind === 'json' && r.value['type'] === type && (state === undefined || r.value['state'] === state);

test('the model plays a track: words first, then the file in real time under its title', T, async (t) => {
  const { dev, fake, rate } = await musicServer(t, 2);
  const stop = await dev.next((r) => isJson(r, 'tts', 'stop'), 30_000);
  const got = dev.received.slice(0, dev.received.indexOf(stop));
  const subtitles = got.filter((r) => isJson(r, 'tts', 'sentence_start'));
  assert.deepEqual(subtitles.map((r) => (r.kind === 'json' ? r.value['text'] : undefined)), ['Here it is.', '《Moonlight Sonata》']);
  const offered = (fake.requests[0]!.json as { tools: { function: { name: string } }[] }).tools.map((x) => x.function.name);
  assert.ok(offered.includes('play_music'));

  const musicAt = got.indexOf(subtitles[1]!);
  const frames = got.slice(musicAt).filter((r): r is Received & { kind: 'binary' } => r.kind === 'binary');
  // 2 s of music in 60 ms frames (the last one padded).
  assert.ok(frames.length >= 33 && frames.length <= 35, `${frames.length} music frames`);
  // Paced like speech, not dumped: the frames span most of the track's length.
  const span = frames[frames.length - 1]!.at - frames[0]!.at;
  assert.ok(span > 1200, `music frames arrived over ${span.toFixed(0)} ms`);
  // The device hears the tone: decode and count zero crossings (440 Hz → 880 per second).
  const dec = decoderFor(rate);
  const pcm = frames.slice(5, 25).flatMap((f) => [...dec.decode(f.data)]);
  let crossings = 0;
  for (let i = 1; i < pcm.length; i++) if ((pcm[i - 1]! < 0) !== (pcm[i]! < 0)) crossings++;
  const hz = crossings / 2 / (pcm.length / rate);
  assert.ok(Math.abs(hz - 440) < 15, `decoded tone at ${hz.toFixed(1)} Hz`);
});

test('an abort stops the music at once; nothing of it arrives afterwards', T, async (t) => {
  const { dev, sessionId } = await musicServer(t, 30);
  await dev.next((r) => isJson(r, 'tts', 'sentence_start') && r.value['text'] === '《Moonlight Sonata》', 30_000);
  await new Promise((r) => setTimeout(r, 800));
  const abortAt = performance.now();
  dev.sendJson({ session_id: sessionId, type: 'abort' });
  const stop = await dev.next((r) => isJson(r, 'tts', 'stop'), 5000);
  assert.ok(stop.at - abortAt < 100, `tts stop ${(stop.at - abortAt).toFixed(1)} ms after the abort`);
  const n = dev.received.length;
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(dev.received.slice(n).filter((r) => r.kind === 'binary').length, 0, 'no music frame after tts stop');
});
