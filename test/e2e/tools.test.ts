// A full turn with a real language model wire protocol and the device's own tools: simulated
// device speech → local ASR → fake OpenAI-compatible server that calls the device's MCP tool →
// the firmware-faithful device runs it → the result goes back to the model → its answer is
// spoken. And an abort mid-answer closes the model's HTTP stream at once (the fake sees it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startFakeOpenAI, type FakeOpenAI } from '../doubles/llm-vendors.js';
import { McpDeviceSim } from '../helpers/mcp-device.js';
import { TestDevice, deviceHeaders, streamRealtime, DEVICE } from '../helpers/device.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cleanupSpeech, opusFrames, silenceFrames, speechPcm, speechToolsAvailable } from '../helpers/speech.js';

const T = { timeout: 90_000 };
const GRAMMAR = fileURLToPath(new URL('../fixtures/voice/commands.gram', import.meta.url));
const skip = !speechToolsAvailable() && 'espeak-ng/sox missing (run native/setup.sh)';
after(() => cleanupSpeech());

async function serverWith(t: Parameters<typeof startTestServer>[0], fake: FakeOpenAI): Promise<TestServer> {
  return startTestServer(t, {
    auth: { mode: 'off' },
    providers: {
      asr: { local: { type: 'pocketsphinx', grammar: GRAMMAR } },
      llm: { gpt: { type: 'openai', base_url: fake.url, model: 'test-model', api_key: 'sk-test' } },
    },
    pipeline: { llm: ['gpt'] },
  });
}

async function readyDevice(server: TestServer): Promise<{ dev: TestDevice; sim: McpDeviceSim; hello: Record<string, unknown> }> {
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const sim = new McpDeviceSim({ deviceId: DEVICE.id, clientId: DEVICE.client });
  sim.attach(dev);
  const hello = await dev.hello();
  // the server initializes the device's MCP server and lists its tools
  for (let i = 0; i < 100 && !sim.received.some((p) => (p as { method?: string }).method === 'tools/list'); i++) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  return { dev, sim, hello };
}

test('speech → model calls the device tool → result → spoken answer', { ...T, skip }, async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => fake.close());
  fake.script({ tools: [{ name: 'self_audio_speaker_set_volume', args: '{"volume": 40}', fragments: 3 }] }, { text: 'Done, the volume is now forty.' });
  const server = await serverWith(t, fake);
  const { dev, sim, hello } = await readyDevice(server);
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'start', mode: 'auto' });
  const from = dev.received.length;
  void streamRealtime(dev, [...silenceFrames(3), ...opusFrames(speechPcm('turn on the light')), ...silenceFrames(60)]);
  await dev.next((r) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop', 30_000, from);
  const json = dev.received.slice(from).filter((r) => r.kind === 'json').map((r) => (r as { value: Record<string, unknown> }).value);
  assert.equal(json.find((m) => m['type'] === 'stt')?.['text'], 'turn on the light');
  assert.deepEqual(json.filter((m) => m['state'] === 'sentence_start').map((m) => m['text']), ['Done, the volume is now forty.']);
  assert.ok(dev.received.slice(from).some((r) => r.kind === 'binary'), 'the answer was spoken');
  // the device really ran its tool with the model's arguments (besides the status the prompt asks for)
  assert.deepEqual(sim.calls.filter((c) => c.name !== 'self.get_device_status'), [{ name: 'self.audio_speaker.set_volume', args: { volume: 40 } }]);
  // the model saw the device's tools and then the tool result
  const [first, second] = fake.requests;
  const tools = (first!.json as { tools: { function: { name: string } }[] }).tools.map((x) => x.function.name);
  assert.ok(tools.includes('self_audio_speaker_set_volume'));
  assert.ok(tools.includes('get_current_time'));
  const msgs = (second!.json as { messages: { role: string; content: string; tool_call_id?: string }[] }).messages;
  const toolMsg = msgs.find((m) => m.role === 'tool');
  assert.equal(toolMsg?.content, 'true');
  assert.equal(msgs[msgs.length - 2]?.role, 'assistant');
  dev.close();
});

test('abort mid-answer closes the model stream at once', { ...T, skip }, async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => fake.close());
  const long = Array.from({ length: 60 }, (_, i) => `Sentence number ${i + 1} of a long story. `);
  fake.script({ text: long, eventGapMs: 100 });
  const server = await serverWith(t, fake);
  const { dev, hello } = await readyDevice(server);
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'detect', text: 'tell me a long story' });
  const from = dev.received.length;
  await dev.next((r) => r.kind === 'binary', 20_000, from);
  const abortAt = performance.now();
  dev.sendJson({ session_id: hello['session_id'], type: 'abort' });
  await fake.waitForDisconnect(1);
  const seen = fake.disconnects[0]!.at - abortAt;
  assert.ok(seen < 50, `the model's stream was closed ${seen.toFixed(1)} ms after the abort`);
  const stop = await dev.next((r) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop', 5000, from);
  assert.ok(stop.at - abortAt < 60, 'tts stop right after the abort');
  dev.close();
});

test('the model chain fails over through the pool and the status route shows it', { ...T, skip }, async (t) => {
  const primary = await startFakeOpenAI({ apiKey: 'sk-a' });
  const backup = await startFakeOpenAI({ apiKey: 'sk-b' });
  t.after(() => Promise.all([primary.close(), backup.close()]));
  primary.script({ fault: { kind: 'status', status: 500 } });
  backup.script({ text: 'The backup model answers.' });
  const server = await startTestServer(t, {
    auth: { mode: 'off' },
    providers: {
      llm: {
        a: { type: 'openai', base_url: primary.url, model: 'm', api_key: 'sk-a', pool: { breaker: { failures: 1, cooldown_ms: 60000 } } },
        b: { type: 'openai', base_url: backup.url, model: 'm', api_key: 'sk-b' },
      },
    },
    pipeline: { llm: ['a', 'b'] },
  });
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello({ features: {} });
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'detect', text: 'are you there' });
  const from = 0;
  const sentence = await dev.next((r) => r.kind === 'json' && r.value['state'] === 'sentence_start', 20_000, from);
  assert.equal((sentence as { value: Record<string, unknown> }).value['text'], 'The backup model answers.');
  assert.equal(primary.streams, 1);
  assert.equal(backup.streams, 1);
  const st = (await (await fetch(`${server.httpUrl}/status/providers`)).json()) as { providers: { provider: string; breaker: string; lastError: { code: string } | null }[] };
  const a = st.providers.find((p) => p.provider === 'llm.a');
  assert.equal(a?.lastError?.code, 'XZ_ERR_VENDOR_UPSTREAM');
  assert.equal(a?.breaker, 'open', JSON.stringify(st));
  dev.close();
});

test('an external stdio MCP server started at boot: its tools reach the model and its calls work', { ...T, skip }, async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => fake.close());
  fake.script({ tools: [{ name: 'calc__add', args: '{"a": 2, "b": 40}' }] }, { text: 'The answer is forty-two.' });
  const server = await startTestServer(t, {
    auth: { mode: 'off' },
    providers: { llm: { gpt: { type: 'openai', base_url: fake.url, model: 'm', api_key: 'sk-test' } } },
    pipeline: { llm: ['gpt'] },
    mcp_servers: {
      calc: { transport: 'stdio', command: process.execPath, args: ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../fixtures/mcp/stdio-server.ts', import.meta.url))] },
    },
  });
  const st = (await (await fetch(`${server.httpUrl}/status/mcp`)).json()) as { servers: { name: string; state: string; tools: number }[] };
  assert.equal(st.servers[0]?.state, 'ready', JSON.stringify(st));
  const dev = await TestDevice.connect(server.wsUrl, { headers: deviceHeaders() });
  const hello = await dev.hello({ features: {} });
  dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'detect', text: 'what is two plus forty' });
  const s = await dev.next((r) => r.kind === 'json' && r.value['state'] === 'sentence_start', 20_000);
  assert.equal((s as { value: Record<string, unknown> }).value['text'], 'The answer is forty-two.');
  const tool = (fake.requests[1]!.json as { messages: { role: string; content: string }[] }).messages.find((m) => m.role === 'tool');
  assert.equal(tool?.content, '42');
  dev.close();
});

test('the prompt states the device facts: board and firmware at once, battery and volume once the device has told them', { ...T, skip }, async (t) => {
  const fake = await startFakeOpenAI({ apiKey: 'sk-test' });
  t.after(() => fake.close());
  fake.script({ text: 'Hello there.' }, { text: 'Still here.' });
  const server = await serverWith(t, fake);
  const { dev, hello } = await readyDevice(server);
  const say = async (text: string) => {
    const from = dev.received.length;
    dev.sendJson({ session_id: hello['session_id'], type: 'listen', state: 'detect', text });
    await dev.next((r) => r.kind === 'json' && r.value['type'] === 'tts' && r.value['state'] === 'stop', 20_000, from);
  };
  await say('hello');
  await say('are you there');
  const system = (i: number) => (fake.requests[i]!.json as { messages: { role: string; content: string }[] }).messages[0]!.content;
  assert.match(system(0), /You are running on a device: board bread-compact-wifi, firmware 2\.4\.2/);
  assert.match(system(1), /battery 85%/);
  assert.match(system(1), /volume 70%/);
  dev.close();
});
