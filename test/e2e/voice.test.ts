// The real-time audio path end to end, with real speech: a simulated device streams Opus made
// from espeak-ng speech in real time with silence after it; the server ends the utterance (VAD),
// transcribes it (pocketsphinx with a command grammar, so the text is exact), answers through the
// echo responder, synthesizes (espeak-ng) and paces Opus back. The client checks the message
// order, real-time frame pacing, that the audio decodes to a plausible length, and that
// `tts stop` lands just after the playout end.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { encodeDownlink, decodeUplink } from '../../actors/frontdoor/framing.js';
import { TestDevice, deviceHeaders, streamRealtime, type Received } from '../helpers/device.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Room } from '../helpers/room.js';
import { cleanupSpeech, decoderFor, opusFrames, silenceFrames, speechPcm, speechToolsAvailable } from '../helpers/speech.js';

const T = { timeout: 90_000 };
const GRAMMAR = fileURLToPath(new URL('../fixtures/voice/commands.gram', import.meta.url));
const skip = !speechToolsAvailable() && 'espeak-ng/sox missing (run native/setup.sh)';
after(() => cleanupSpeech());

function voiceServer(t: Parameters<typeof startTestServer>[0], extra: Record<string, unknown> = {}): Promise<TestServer> {
  return startTestServer(t, {
    auth: { mode: 'off' },
    providers: { asr: { local: { type: 'pocketsphinx', grammar: GRAMMAR } } },
    ...extra,
  });
}

interface Turn {
  stt: Record<string, unknown>;
  sttAt: number;
  ttsStartAt: number;
  sentences: string[];
  frames: { at: number; data: Buffer }[];
  stopAt: number;
}

/** Collects one reply turn from `from` onward: stt … tts stop. */
async function collectTurn(dev: TestDevice, from: number, timeoutMs = 30_000): Promise<Turn> {
  await dev.next((r) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop', timeoutMs, from);
  const items = dev.received.slice(from);
  const arrival = (r: Received) => r.at;
  const stt = items.find((r) => r.kind === 'json' && r.value['type'] === 'stt') as { value: Record<string, unknown> } | undefined;
  assert.ok(stt, 'stt before the answer');
  const json = (type: string, state?: string) => items.filter((r) => r.kind === 'json' && r.value['type'] === type && (state === undefined || r.value['state'] === state));
  return {
    stt: stt.value,
    sttAt: arrival(stt as Received),
    ttsStartAt: arrival(json('tts', 'start')[0]!),
    sentences: json('tts', 'sentence_start').map((r) => String((r as { value: Record<string, unknown> }).value['text'])),
    frames: items.filter((r) => r.kind === 'binary').map((r) => ({ at: arrival(r), data: (r as { data: Buffer }).data })),
    stopAt: arrival(json('tts', 'stop')[0]!),
  };
}

test('auto mode: speech in, stt + echo answer out, paced in real time, tts stop after playout', { ...T, skip }, async (t) => {
  const server = await voiceServer(t);
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello();
  const rate = (hello['audio_params'] as { sample_rate: number }).sample_rate;
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
  const from = dev.received.length;
  const speech = opusFrames(speechPcm('turn on the light'));
  const speechEnd = performance.now() + speech.length * 60;
  void streamRealtime(dev, [...silenceFrames(5), ...speech, ...silenceFrames(60)]);
  const turn = await collectTurn(dev, from);

  // message order and content
  const order = dev.received.slice(from).filter((r) => r.kind === 'json').map((r) => `${(r as { value: Record<string, unknown> }).value['type']}${(r as { value: Record<string, unknown> }).value['state'] ? `:${(r as { value: Record<string, unknown> }).value['state']}` : ''}`);
  assert.deepEqual(order.slice(0, 3), ['stt', 'tts:start', 'llm']);
  assert.equal(order[order.length - 1], 'tts:stop');
  assert.equal(turn.stt['text'], 'turn on the light');
  assert.equal(turn.sentences.join(' '), 'I heard: turn on the light');
  // latency: the utterance ends by VAD (end-silence) and ASR; generous bound for CI machines
  assert.ok(turn.sttAt - speechEnd < 3000, `stt ${Math.round(turn.sttAt - speechEnd)} ms after speech ended`);

  // frames: real-time pace after the lead, decodable, plausible length
  assert.ok(turn.frames.length >= 10, `${turn.frames.length} frames`);
  const dec = decoderFor(rate);
  let samples = 0;
  for (const f of turn.frames) samples += dec.decode(f.data).length;
  const audioMs = (samples / rate) * 1000;
  assert.equal(Math.round(audioMs), turn.frames.length * 60, 'every packet decodes to exactly one 60 ms frame');
  assert.ok(audioMs > 1000 && audioMs < 4000, `${audioMs} ms of answer audio`);
  const lead = server.config.audio.lead_frames;
  const gaps = turn.frames.slice(lead + 1).map((f, i) => f.at - turn.frames[lead + i]!.at);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  assert.ok(mean > 50 && mean < 70, `mean inter-arrival ${mean.toFixed(1)} ms`);
  // first frame after tts start + start gap, and no burst beyond the lead
  assert.ok(turn.frames[0]!.at - turn.ttsStartAt >= server.config.audio.start_gap_ms - 5);
  const burst = turn.frames.filter((f) => f.at - turn.frames[0]!.at < 20).length;
  assert.ok(burst <= lead, `${burst} frames in the first burst (lead ${lead})`);

  // tts stop relative to the device's playout end (playback starts at the first arrival)
  let bufferEnd = 0;
  for (const f of turn.frames) bufferEnd = Math.max(bufferEnd, f.at) + 60;
  const delta = turn.stopAt - bufferEnd;
  assert.ok(delta > -100 && delta < 300, `tts stop ${delta.toFixed(0)} ms after playout end`);

  // the turn's stage timestamps are recorded
  const res = await fetch(`${server.httpUrl}/status/sessions`);
  const info = ((await res.json()) as { sessions: { lastTurns: Record<string, number>[] }[] }).sessions[0]!;
  const rec = info.lastTurns[0]!;
  for (const k of ['asrFinalMs', 'ttsStartMs', 'firstFrameMs', 'playoutEndMs', 'ttsStopMs']) assert.equal(typeof rec[k], 'number', k);
  dev.close();
});

test('abort mid-answer: tts stop at once and no frame of the old turn after it', { ...T, skip }, async (t) => {
  const server = await voiceServer(t, { providers: { llm: { echo: { type: 'echo', prefix: 'I heard you say, and I will repeat it slowly and completely, the following words: ' } } } });
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello();
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
  const from = dev.received.length;
  void streamRealtime(dev, [...opusFrames(speechPcm('tell me a story')), ...silenceFrames(40)]);
  await dev.next((r) => r.kind === 'binary', 30_000, from);
  await new Promise((r) => setTimeout(r, 500));
  const abortAt = performance.now();
  dev.sendJson({ session_id: hello['session_id'], type: 'abort' });
  const stop = await dev.next((r) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop', 5000, from);
  const stopIdx = dev.received.indexOf(stop);
  const latency = performance.now() - abortAt;
  assert.ok(latency < 60, `tts stop ${latency.toFixed(0)} ms after abort`);
  await new Promise((r) => setTimeout(r, 1000));
  const after = dev.received.slice(stopIdx + 1).filter((r) => r.kind === 'binary');
  assert.equal(after.length, 0, 'no audio after tts stop');
  dev.close();
});

for (const version of [2, 3] as const) {
  test(`framing v${version} both ways, with a garbage packet mid-stream`, { ...T, skip }, async (t) => {
    const server = await voiceServer(t);
    const dev = await TestDevice.connect(server.wsUrl, { headers: { ...deviceHeaders(), 'Protocol-Version': String(version) } });
    const hello = await dev.hello({ version });
    dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
    const from = dev.received.length;
    const speech = opusFrames(speechPcm('what time is it'));
    const garbage = new Uint8Array([0xff, 0x13, 0x37, 0x00, 0x42, 0x99]);
    const packets = [...silenceFrames(3), ...speech.slice(0, 4), garbage, ...speech.slice(4), ...silenceFrames(50)];
    void streamRealtime(dev, packets, (p, i) => encodeDownlink(version, p, i * 60));
    const turn = await collectTurn(dev, from);
    assert.equal(turn.stt['text'], 'what time is it');
    for (const f of turn.frames) {
      const d = decodeUplink(version, new Uint8Array(f.data));
      assert.ok(d.ok, `downlink frame in v${version} framing`);
    }
    dev.close();
  });
}

test('manual mode: the utterance ends on listen stop', { ...T, skip }, async (t) => {
  const server = await voiceServer(t, { vad: { end_silence_ms: 5000 } });
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello();
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'manual' });
  const from = dev.received.length;
  await streamRealtime(dev, [...silenceFrames(3), ...opusFrames(speechPcm('stop the music')), ...silenceFrames(4)]);
  const releasedAt = performance.now();
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'stop' });
  const turn = await collectTurn(dev, from);
  assert.equal(turn.stt['text'], 'stop the music');
  assert.ok(turn.sttAt - releasedAt < 3000, 'answered after the release, not after a 5 s silence');
  dev.close();
});

test('a typed question (listen detect with text) is answered; a wake word is not', { ...T, skip }, async (t) => {
  const server = await voiceServer(t);
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello();
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'detect', text: '你好小智' });
  const from = dev.received.length;
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'detect', text: 'good morning' });
  const turn = await collectTurn(dev, from);
  assert.equal(turn.stt['text'], 'good morning');
  assert.equal(dev.received.slice(0, from).filter((r) => r.kind === 'json' && r.value['type'] === 'stt').length, 0, 'the wake word started no turn');
  dev.close();
});

test('a client that disconnects mid-answer leaves no actor or worker state behind', { ...T, skip }, async (t) => {
  const server = await voiceServer(t);
  const count = () => {
    const st = server.system.stats();
    return { main: st.main.actors, workers: st.pools.reduce((n, p) => n + p.slots.reduce((m, s) => m + s.actors, 0), 0), sessions: server.sessions.size };
  };
  const before = count();
  const perSlot = async () => {
    const out: Record<string, number> = {};
    for (const pool of ['codec', 'listen', 'think', 'speak']) {
      const p = server.system.pool(pool);
      for (const slot of p.slots) out[slot.name] = (await p.control<{ actors: number }>(slot, { t: 'host.stats' })).actors;
    }
    return out;
  };
  const slotsBefore = await perSlot();
  for (let i = 0; i < 3; i++) {
    const dev = await TestDevice.connect(server.wsUrl, { headers: { ...deviceHeaders(), 'Device-Id': `00:00:00:00:00:0${i}` } });
    const hello = await dev.hello();
    dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
    const from = dev.received.length;
    void streamRealtime(dev, [...opusFrames(speechPcm('play some music')), ...silenceFrames(30)]);
    await dev.next((r) => r.kind === 'binary', 30_000, from);
    dev.drop();
  }
  for (let i = 0; i < 100 && JSON.stringify(count()) !== JSON.stringify(before); i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(count(), before);
  // worker-side actors really are gone, asked of each worker (only the shared ones remain)
  assert.deepEqual(await perSlot(), slotsBefore);
});

before(() => {
  if (skip) console.log(`# skipping voice tests: ${skip}`);
});

test('realtime: the device hearing its own playback is not a barge-in; real speech over it is', { ...T, skip }, async (t) => {
  const server = await voiceServer(t);
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello();
  const rate = (hello['audio_params'] as { sample_rate: number }).sample_rate;
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'realtime' });
  // the loudspeaker comes back into the microphone 150 ms later at −10 dB
  const room = new Room(dev, rate, { delayMs: 150, gain: 0.32 });
  const mic = room.run();
  const bargeInLogs = () => server.logs().filter((l) => l['msg'] === 'barge-in: user speech over the reply');
  const bargeIns = () => bargeInLogs().length;

  // 1) a question; its whole answer plays and echoes without interrupting itself
  let from = dev.received.length;
  room.say(speechPcm('tell me a story'), 200);
  const turn = await collectTurn(dev, from);
  assert.equal(turn.stt['text'], 'tell me a story');
  assert.ok(turn.frames.length > 10);
  await new Promise((r) => setTimeout(r, 800)); // the echo tail
  assert.equal(bargeIns(), 0, `its own echo did not interrupt the answer: ${JSON.stringify(bargeInLogs())} gaps ${JSON.stringify(room.gaps)}`);
  assert.equal(dev.received.slice(from).filter((r) => r.kind === 'json' && r.value['type'] === 'stt').length, 1, 'the echo was not taken for a new question');

  // 2) another question; while its answer plays the user talks over it → barge-in
  from = dev.received.length;
  room.say(speechPcm('what time is it'));
  await dev.next((r) => r.kind === 'binary', 30_000, from);
  await new Promise((r) => setTimeout(r, 400));
  const bargeAt = performance.now();
  room.say(speechPcm('stop the music', 'en+m3'));
  const stop = await dev.next((r) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop', 15_000, from);
  assert.equal(bargeIns(), 1, `barge-in detected once: ${JSON.stringify(bargeInLogs())}`);
  assert.ok(stop.at - bargeAt < 2500, `tts stop ${Math.round(stop.at - bargeAt)} ms after the user started talking`);
  t.diagnostic(`barge-ins: ${JSON.stringify(bargeInLogs().map((l) => l['echo']))}`);
  room.stop();
  await mic;
  dev.close();
});

test('a codec worker killed under live sessions: the process survives and the sessions talk again', { ...T, skip }, async (t) => {
  const server = await voiceServer(t);
  const devs = await Promise.all(
    [1, 2].map(async (i) => {
      const dev = await TestDevice.connect(server.wsUrl, { headers: { ...deviceHeaders(), 'Device-Id': `00:00:00:00:01:0${i}` } });
      const hello = await dev.hello();
      dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
      return { dev, hello };
    }),
  );
  // both sessions have their workers (the first frames create them)
  await Promise.all(devs.map(({ dev }) => streamRealtime(dev, silenceFrames(10))));
  const restarted = new Promise((r) => server.system.once('restarted', r));
  await server.system.pool('codec').terminateWorker(0);
  await restarted;
  for (const { dev } of devs) {
    const from = dev.received.length;
    void streamRealtime(dev, [...opusFrames(speechPcm('good morning')), ...silenceFrames(50)]);
    const turn = await collectTurn(dev, from);
    assert.equal(turn.stt['text'], 'good morning');
    assert.ok(turn.frames.length > 5);
    dev.close();
  }
});
