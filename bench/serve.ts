/**
 * The server under test, for the fleet simulator: starts protocol-faithful fake vendors (OpenAI
 * chat, transcription and speech) and the compiled server (dist/) in a child process configured
 * to use them, so the figures a load test measures are the server's own.
 *
 *   npm run build && node --import tsx bench/serve.ts [--fakes instant|latency] [--port 8765]
 *     [--http-port 8080] [--workers codec=1,listen=1,think=1,speak=1] [--complexity 5]
 *     [--node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/prof]   (profile every server thread)
 *
 * `instant` fakes answer at once (transcription, first token, speech); `latency` injects vendor
 * latency (300 ms transcription, 250 ms to the first token then 40 ms per token, 150 ms to the
 * first audio) to show first audio arriving before the model has finished. Ctrl-C stops all.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFakeOpenAI } from '../test/doubles/llm-vendors.js';
import { startOpenAiAudioFake } from '../test/doubles/openai-audio.js';

const { values } = parseArgs({
  options: {
    fakes: { type: 'string', default: 'instant' },
    port: { type: 'string', default: '8765' },
    'http-port': { type: 'string', default: '8080' },
    workers: { type: 'string', default: '' },
    complexity: { type: 'string', default: '5' },
    log: { type: 'string', default: 'warn' },
    /** Extra node flags for the server process, e.g. --node-arg=--cpu-prof (NODE_OPTIONS refuses that one). */
    'node-arg': { type: 'string', multiple: true, default: [] },
  },
});
const latency = values.fakes === 'latency';
const root = fileURLToPath(new URL('..', import.meta.url));
const REPLY = 'Sure. The light in the living room is on now, and I turned the brightness down a little so it feels cozy.';

const chat = await startFakeOpenAI({
  apiKey: 'sk-bench',
  // Instant: the whole stream in one write; with latency, one write per token. Never the odd
  // 1–7 byte pieces the tests use: a thousand writes per reply made the fake the bottleneck.
  reply: latency ? { text: REPLY.split(/(?<= )/), headDelayMs: 250, eventGapMs: 40, chunk: 'events' } : { text: REPLY, chunk: 'whole' },
});
const audio = await startOpenAiAudioFake({ apiKey: 'sk-bench', firstDelayMs: latency ? 150 : 0, whole: !latency });
audio.transcript = 'turn on the light';

const workers = Object.fromEntries(
  values.workers
    .split(',')
    .filter(Boolean)
    .map((kv) => kv.split('=') as [string, string])
    .map(([k, v]) => [k, Number(v)]),
);
const dir = mkdtempSync(join(tmpdir(), 'xz-bench-'));
const config = {
  server: { host: '127.0.0.1', ws_port: Number(values.port), http_port: Number(values['http-port']) },
  auth: { mode: 'off' },
  audio: { encoder_complexity: Number(values.complexity) },
  workers,
  providers: {
    asr: { fake: { type: 'openai', base_url: audio.url, api_key: 'sk-bench', model: 'whisper-1' } },
    llm: { fake: { type: 'openai', base_url: chat.url, api_key: 'sk-bench', model: 'bench' } },
    tts: { fake: { type: 'openai', base_url: audio.url, api_key: 'sk-bench', model: 'tts-1', voice: 'alloy' } },
  },
  pipeline: { asr: ['fake'], llm: ['fake'], tts: ['fake'] },
  store: { path: join(dir, 'data') },
  log: { file: join(dir, 'server.jsonl'), console: false, level: values.log },
};
if (latency) (audio as { chunkGapMs: number }).chunkGapMs = 20;
const cfgFile = join(dir, 'config.json.yaml');
// JSON is YAML: no need for a serializer.
writeFileSync(cfgFile, JSON.stringify(config, null, 2));

const child = spawn(process.execPath, [...values['node-arg'], join(root, 'dist/actors/server.js')], { env: { ...process.env, XZ_CONFIG: cfgFile }, stdio: 'inherit' });
process.stdout.write(
  `fakes: ${values.fakes} (chat ${chat.url}, audio ${audio.url})\n` +
    `server: ws://127.0.0.1:${values.port}/xiaozhi/v1/  http://127.0.0.1:${values['http-port']}/xiaozhi/ota/  status /status\n` +
    `logs: ${config.log.file}\n`,
);
// The fakes record every request for tests; over a long load run that is hundreds of MB of
// uploads and a GC-bound fake process sharing the server's cores.
setInterval(() => {
  chat.reset();
  audio.speech.length = 0;
  audio.transcriptions.length = 0;
}, 5000).unref();

const stop = async () => {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await Promise.all([chat.close(), audio.close()]);
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
child.on('exit', (code) => {
  if (code !== 0) process.stderr.write(`server exited with ${code}\n`);
});
