// Crash safety of the codec pool. The worker holds native Opus state (@discordjs/opus), which
// must survive the worker being terminated mid-encode: the process lives on, the pool brings the
// worker back with its actors, and they encode again. And a server process encoding in codec
// workers ends cleanly on SIGTERM (exit 0, no signal) — a native module that segfaults when its
// worker exits would show up here as exit 139.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActorSystem } from '../../runtime/system.js';
import { packetSamples } from '../../native/opus.js';
import type { CodecInit, CodecOut } from '../../actors/codec/messages.js';
import { collector } from '../fixtures/codec/collector.js';
import { once } from '../helpers/actors.js';

const T = { timeout: 60_000 };
type Frames = Extract<CodecOut, { t: 'session.frames' }>;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const tone = (n: number) => Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 24_000)));

test('terminating the codec worker mid-encode: the process survives, the actors come back and encode again', T, async (t) => {
  const sys = new ActorSystem({ requestTimeoutMs: 10_000 });
  sys.addPool({ name: 'codec', size: 1, modules: [new URL('../../actors/codec/module.ts', import.meta.url)], restart: { backoffInitialMs: 50 } });
  t.after(() => sys.shutdown());
  await sys.start();
  const sessions = ['a', 'b', 'c'];
  const sinks = new Map(sessions.map((s) => [s, collector<Frames>()]));
  for (const s of sessions) {
    await sys.spawn(`session/${s}`, sinks.get(s)!.def, undefined, { session: s });
    const init: CodecInit = { session: s, sessionAddr: `session/${s}`, listenAddr: null, downlink: { sampleRate: 24_000, frameMs: 60, complexity: 10 } };
    await sys.spawn(`codec/${s}`, 'codec', init, { pool: 'codec', session: s });
  }
  const threadBefore = sys.pool('codec').stats().slots[0]!.threadId;
  let sentence = 0;
  const feed = () => {
    sentence++;
    for (const s of sessions) {
      const pcm = tone(1440 * 5);
      sys.send(`codec/${s}`, { t: 'codec.encode', pcm, sampleRate: 24_000, sentence, last: true }, { session: s, transfer: [pcm.buffer] });
    }
  };
  const pump = setInterval(feed, 5);
  try {
    await Promise.all(sessions.map((s) => sinks.get(s)!.until((g) => g.length >= 5)));
    const crashed = once<{ pool: string; actors: string[] }>(sys, 'crashed');
    const restarted = once<{ pool: string; actors: string[] }>(sys, 'restarted');
    await sys.pool('codec').terminateWorker(0);
    assert.deepEqual((await crashed).actors.sort(), sessions.map((s) => `codec/${s}`));
    const back = await restarted;
    assert.equal(back.pool, 'codec');
    assert.deepEqual(back.actors.sort(), sessions.map((s) => `codec/${s}`));
  } finally {
    clearInterval(pump);
  }
  assert.notEqual(sys.pool('codec').stats().slots[0]!.threadId, threadBefore, 'a new worker thread');
  // The re-spawned actors encode again: a fresh sentence comes back whole from each.
  const marks = new Map(sessions.map((s) => [s, sinks.get(s)!.got.length]));
  for (const s of sessions) {
    const pcm = tone(1440 * 3);
    sys.send(`codec/${s}`, { t: 'codec.encode', pcm, sampleRate: 24_000, sentence: 10_000, last: true }, { session: s, transfer: [pcm.buffer] });
  }
  for (const s of sessions) {
    const got = await sinks.get(s)!.until((g) => g.slice(marks.get(s)!).some((m) => m.sentence === 10_000 && m.last));
    const fresh = got.slice(marks.get(s)!).filter((m) => m.sentence === 10_000);
    const frames = fresh.flatMap((m) => m.frames);
    assert.equal(frames.length, 3, `codec/${s} encodes after the restart`);
    for (const f of frames) assert.equal(packetSamples(f, 24_000), 1440);
  }
});

test('a process encoding in codec workers shuts down on SIGTERM and exits 0 (no segfault)', T, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/codec/sigterm.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('encoding')) resolve();
    });
    void exited.then((x) => reject(new Error(`child ended before encoding: ${JSON.stringify(x)}\n${out}\n${err}`)));
  });
  child.kill('SIGTERM');
  const { code, signal } = await exited;
  assert.equal(signal, null, `ended by no signal (stderr: ${err})`);
  assert.equal(code, 0, `exit code 0 (stdout: ${out}; stderr: ${err})`);
  assert.match(out, /shutdown complete after \d+ frames/);
});
