// The dialogue brain through the real front door, with a protocol-faithful fake language model:
// memory written in one session is in the next session's system prompt after a server restart;
// exit phrases, the wake greeting, the idle farewell, the unbound-device prompt, a role switch by
// voice, and an interrupted answer leaving only what was heard in the history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOpenAI, type FakeOpenAI } from '../doubles/llm-vendors.js';
import { TestDevice, deviceHeaders, type Received } from '../helpers/device.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { speechToolsAvailable } from '../helpers/speech.js';

const T = { timeout: 60_000 };
const skip = !speechToolsAvailable() && 'espeak-ng missing (run native/setup.sh)';

type Json = Record<string, unknown>;
const json = (r: Received) => (r.kind === 'json' ? r.value : undefined);
const isStop = (r: Received) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop';

function llmConfig(fake: FakeOpenAI, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    auth: { mode: 'off' },
    providers: { llm: { gpt: { type: 'openai', base_url: fake.url, model: 'm', api_key: 'sk-test' } } },
    pipeline: { llm: ['gpt'] },
    ...extra,
  };
}

async function talk(server: TestServer, headers = deviceHeaders()): Promise<{ dev: TestDevice; sid: string }> {
  const dev = await TestDevice.connect(server.wsUrl, { headers });
  const hello = await dev.hello({ features: {} });
  return { dev, sid: String(hello['session_id']) };
}

/** Types a question (listen detect with text) and waits for the whole reply. */
async function ask(dev: TestDevice, sid: string, text: string): Promise<Json[]> {
  const from = dev.received.length;
  dev.sendJson({ session_id: sid, type: 'listen', state: 'detect', text });
  await dev.next(isStop, 20_000, from);
  return dev.received.slice(from).map(json).filter((x): x is Json => !!x);
}

const systemPrompt = (fake: FakeOpenAI, i: number) => ((fake.requests[i]!.json as { messages: { role: string; content: string }[] }).messages[0]!.content);

test('memory: the summary written when a session ends is in the next session after a restart', { ...T, skip }, async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => fake.close());
  const dir = mkdtempSync(join(tmpdir(), 'xz-memory-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  fake.script({ text: 'Nice to meet you, Alice.' }, { text: 'The user is called Alice and likes tea.' }, { text: 'You are Alice.' });

  const first = await startTestServer(t, llmConfig(fake), dir);
  const a = await talk(first);
  await ask(a.dev, a.sid, 'my name is Alice and I like tea');
  a.dev.close();
  await fake.waitForRequests(2); // the summary, asked of the model when the session ended
  for (let i = 0; i < 50 && !first.logs().some((l) => String(l['msg']).includes('session ended')); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  await first.stop('restart');

  const second = await startTestServer(t, llmConfig(fake), dir);
  const b = await talk(second);
  await new Promise((r) => setTimeout(r, 200)); // memory loads after the hello
  await ask(b.dev, b.sid, 'what is my name');
  assert.match(systemPrompt(fake, 2), /The user is called Alice and likes tea\./);
  const msgs = (fake.requests[2]!.json as { messages: { role: string; content: string }[] }).messages;
  assert.ok(msgs.some((m) => m.role === 'user' && m.content === 'my name is Alice and I like tea'), 'recent turns come back as history');
  b.dev.close();
});

test('an exit phrase gets a goodbye, then the server closes the socket', { ...T, skip }, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, dialogue: { farewell_prompt: 'Bye.' } });
  const { dev, sid } = await talk(server);
  dev.sendJson({ session_id: sid, type: 'listen', state: 'detect', text: 'Goodbye!' });
  const code = await dev.closed;
  assert.equal(code, 1000);
  assert.ok(dev.received.some(isStop), 'tts stop before the close');
  assert.ok(dev.received.some((r) => r.kind === 'binary'), 'the goodbye was spoken');
});

test('a wake word gets the greeting (no stt); speech right after it is ignored as its tail', { ...T, skip }, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, dialogue: { greeting: 'Yes, I am listening.' } });
  const { dev, sid } = await talk(server);
  dev.sendJson({ session_id: sid, type: 'listen', state: 'detect', text: '你好，小智！' });
  await dev.next(isStop, 20_000);
  const msgs = dev.received.map(json).filter((x): x is Json => !!x);
  assert.deepEqual(msgs.filter((m) => m['state'] === 'sentence_start').map((m) => m['text']), ['Yes, I am listening.']);
  assert.equal(msgs.filter((m) => m['type'] === 'stt').length, 0);
  dev.close();
});

test('idle: a farewell turn after silence, then the socket closes', { ...T, skip }, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, dialogue: { idle_farewell_s: 1, idle_close_s: 5, farewell_prompt: 'Bye.' } });
  const { dev } = await talk(server);
  const started = Date.now();
  assert.equal(await dev.closed, 1000);
  assert.ok(Date.now() - started >= 900);
  assert.ok(dev.received.some((r) => r.kind === 'json' && r.value['state'] === 'start'), 'a farewell was spoken before closing');
});

test('an unbound device hears its activation code instead of a conversation', { ...T, skip }, async (t) => {
  const server = await startTestServer(t, { auth: { mode: 'off' }, activation: { enabled: true }, dialogue: { activation_prompt: 'Code {{code}}.' } });
  const { dev, sid } = await talk(server);
  dev.sendJson({ session_id: sid, type: 'listen', state: 'start', mode: 'auto' });
  await dev.next(isStop, 20_000);
  const offer = await server.devices.offerActivation('aa:bb:cc:dd:ee:ff', undefined);
  const spoken = dev.received.map(json).filter((m) => m?.['state'] === 'sentence_start').map((m) => String(m!['text'])).join(' ');
  assert.ok(spoken.replace(/\s/g, '').includes(offer.code), `the code ${offer.code} is spoken: ${spoken}`);
  // a question gets no model answer while unbound
  const from = dev.received.length;
  dev.sendJson({ session_id: sid, type: 'listen', state: 'detect', text: 'what time is it' });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(dev.received.slice(from).filter((r) => r.kind === 'json' && r.value['type'] === 'stt').length, 0);
  dev.close();
});

test('a role switch by voice changes the prompt from the next turn', { ...T, skip }, async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => fake.close());
  fake.script({ tools: [{ name: 'switch_role', args: '{"role":"teacher"}' }] }, { text: 'I am your teacher now.' }, { text: 'Let us learn.' });
  const server = await startTestServer(
    t,
    llmConfig(fake, { roles: { default: { prompt: 'You are a helpful assistant.' }, teacher: { prompt: 'You are a patient English teacher.' } } }),
  );
  const { dev, sid } = await talk(server);
  await ask(dev, sid, 'switch to the teacher');
  assert.match(systemPrompt(fake, 0), /helpful assistant/);
  await ask(dev, sid, 'teach me something');
  assert.match(systemPrompt(fake, 2), /patient English teacher/);
  dev.close();
});

test('an interrupted answer leaves only what was heard in the history', { ...T, skip }, async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => fake.close());
  const long = ['First sentence. ', ...Array.from({ length: 40 }, (_, i) => `More words number ${i}. `)];
  fake.script({ text: long, eventGapMs: 150 }, { text: 'Fine.' });
  const server = await startTestServer(t, llmConfig(fake));
  const { dev, sid } = await talk(server);
  dev.sendJson({ session_id: sid, type: 'listen', state: 'detect', text: 'tell me a long story' });
  await dev.next((r) => r.kind === 'binary', 20_000);
  await new Promise((r) => setTimeout(r, 400));
  dev.sendJson({ session_id: sid, type: 'abort' });
  await dev.next(isStop, 5000);
  const heard = dev.received.map(json).filter((m) => m?.['state'] === 'sentence_start').map((m) => String(m!['text']));
  await ask(dev, sid, 'ok stop');
  const msgs = (fake.requests[1]!.json as { messages: { role: string; content: string }[] }).messages;
  const assistant = msgs.filter((m) => m.role === 'assistant').map((m) => m.content).join(' ');
  assert.ok(assistant.startsWith('First sentence.'), assistant);
  assert.ok(!assistant.includes('number 39'), 'the unheard rest is not in the history');
  assert.equal(assistant.trim(), heard.join(' ').trim());
  dev.close();
});

test('quick replies: a fixed phrase is synthesized once, then served from the cache without TTS', { ...T, skip }, async (t) => {
  const { startOpenAiAudioFake } = await import('../doubles/openai-audio.js');
  const audio = await startOpenAiAudioFake({ apiKey: 'sk-a' });
  t.after(() => audio.close());
  const server = await startTestServer(t, {
    auth: { mode: 'off' },
    dialogue: { greeting: 'Yes?' },
    providers: { tts: { cloud: { type: 'openai', base_url: audio.url, api_key: 'sk-a', model: 'tts-1', voice: 'alloy' } } },
    pipeline: { tts: ['cloud'] },
  });
  const frames: number[] = [];
  for (let i = 0; i < 2; i++) {
    const { dev, sid } = await talk(server);
    dev.sendJson({ session_id: sid, type: 'listen', state: 'detect', text: '小智' });
    await dev.next(isStop, 20_000);
    frames.push(dev.received.filter((r) => r.kind === 'binary').length);
    dev.close();
    await dev.closed;
  }
  assert.equal(audio.speech.filter((r) => r.json['input'] === 'Yes?').length, 1, 'the vendor was asked once');
  assert.ok(frames[0]! > 0);
  assert.equal(frames[1], frames[0], 'the cached greeting is the same audio');
});
