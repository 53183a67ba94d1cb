// Pins the logger's promises to operators: JSON lines with their bindings land in the file (its
// directory created), secrets are censored, audio buffers appear only as their size, the level
// filters, the console gets a readable line, and close() leaves every line on disk.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, formatLine, sessionLogger, type LogOptions, type RootLogger } from '../../runtime/log.js';

const opts = { timeout: 10_000 };

function setup(t: TestContext, over: Partial<LogOptions> = {}): { log: RootLogger; file: string; consoleLines: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'xz-log-'));
  const file = join(dir, 'nested', 'dir', 'server.jsonl');
  const consoleLines: string[] = [];
  const log = createLogger({ level: 'info', file, console: false, consoleStream: { write: (s: string) => consoleLines.push(s) }, ...over });
  t.after(async () => {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { log, file, consoleLines };
}

async function linesOf(log: RootLogger, file: string): Promise<Record<string, unknown>[]> {
  await log.close();
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('JSON lines land in the file with their bindings', opts, async (t) => {
  const { log, file } = setup(t, { name: 'xz' });
  const s = sessionLogger(log, { deviceId: 'aa:bb:cc:dd:ee:ff', sessionId: 's-1', clientId: 'c-9' });
  s.child({ turn: 3 }).info({ ms: 12 }, 'first audio');
  log.warn('plain');
  const lines = await linesOf(log, file);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.msg, 'first audio');
  assert.equal(lines[0]!.device, 'aa:bb:cc:dd:ee:ff');
  assert.equal(lines[0]!.session, 's-1');
  assert.equal(lines[0]!.client, 'c-9');
  assert.equal(lines[0]!.turn, 3);
  assert.equal(lines[0]!.ms, 12);
  assert.equal(lines[0]!.level, 30);
  assert.equal(lines[0]!.name, 'xz');
  assert.equal(typeof lines[0]!.time, 'number');
  assert.equal(lines[1]!.level, 40);
  assert.equal(lines[1]!.device, undefined);
});

test('tokens and Authorization headers are censored, in fields and in bindings', opts, async (t) => {
  const { log, file } = setup(t);
  log.info({ token: 'tok-123', headers: { authorization: 'Bearer abc', 'x-api-key': 'k-1', host: 'h' } }, 'req');
  log.info({ req: { headers: { Authorization: 'Bearer def' } }, api_key: 'sk-1', password: 'pw' }, 'req2');
  log.child({ apiKey: 'sk-2' }).info('child');
  const text = readFileSync(file, 'utf8') + JSON.stringify(await linesOf(log, file));
  for (const secret of ['tok-123', 'Bearer abc', 'k-1', 'Bearer def', 'sk-1', 'pw"', 'sk-2']) assert.ok(!text.includes(secret), secret);
  const [a, b, c] = await linesOf(log, file);
  assert.equal(a!.token, '***');
  assert.deepEqual(a!.headers, { authorization: '***', 'x-api-key': '***', host: 'h' });
  assert.deepEqual(b!.req, { headers: { Authorization: '***' } });
  assert.equal(b!.api_key, '***');
  assert.equal(c!.apiKey, '***');
});

test('audio buffers are logged as their size only', opts, async (t) => {
  const { log, file } = setup(t);
  const pcm = new Int16Array(960);
  const frame = { opus: Buffer.alloc(120, 7), pcm };
  log.info({ frame: Buffer.alloc(160, 1), pcm, raw: new ArrayBuffer(64), nested: frame, list: [Buffer.alloc(3)], n: 1 }, 'audio');
  log.child({ chunk: new Uint8Array(10) }).info('bound');
  const [a, b] = await linesOf(log, file);
  assert.deepEqual(a!.frame, { bytes: 160 });
  assert.deepEqual(a!.pcm, { bytes: 1920 });
  assert.deepEqual(a!.raw, { bytes: 64 });
  assert.deepEqual(a!.nested, { opus: { bytes: 120 }, pcm: { bytes: 1920 } });
  assert.deepEqual(a!.list, [{ bytes: 3 }]);
  assert.equal(a!.n, 1);
  assert.deepEqual(b!.chunk, { bytes: 10 });
  assert.ok(Buffer.isBuffer(frame.opus), "the caller's object is not modified");
});

test('the level filters, and can be changed at run time', opts, async (t) => {
  const { log, file } = setup(t, { level: 'warn' });
  log.debug('d');
  log.info('i');
  log.warn('w');
  log.error('e');
  assert.equal(log.isLevelEnabled('info'), false);
  log.level = 'debug';
  log.debug('d2');
  log.trace('t2');
  assert.deepEqual(
    (await linesOf(log, file)).map((l) => l.msg),
    ['w', 'e', 'd2'],
  );
});

test('close() flushes every buffered line; lines after close do not throw', opts, async (t) => {
  const { log, file } = setup(t);
  const n = 5000;
  for (let i = 0; i < n; i++) log.info({ i }, 'burst');
  const closed = log.close();
  log.info('after close');
  await closed;
  const lines = await linesOf(log, file);
  assert.equal(lines.length, n);
  assert.deepEqual(lines.map((l) => l.i), Array.from({ length: n }, (_, i) => i));
});

test('flush() writes buffered lines synchronously', opts, async (t) => {
  const { log, file } = setup(t);
  log.info('one');
  // Let the first async write finish, so what follows can only reach the disk through flush().
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 100; i++) log.info({ i }, 'burst');
  log.flush();
  const count = readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  assert.ok(count >= 100, `only ${count} of 101 lines on disk`);
});

test('the console gets a readable line with the key bindings', opts, async (t) => {
  const { log, consoleLines } = setup(t, { file: null, console: true, name: 'srv' });
  sessionLogger(log, { deviceId: 'dev-1', sessionId: 's-1' }).child({ turn: 2 }).warn({ ms: 3.5, text: 'hi there', token: 'x' }, 'slow reply');
  log.error({ err: new Error('boom') }, 'failed');
  assert.equal(consoleLines.length, 2);
  assert.match(consoleLines[0]!, /^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[srv\] slow reply device=dev-1 session=s-1 turn=2 ms=3\.5 text="hi there" token=\*\*\*\n$/);
  assert.match(consoleLines[1]!, /ERROR \[srv\] failed\n {4}Error: boom\n +at /);
  assert.equal(formatLine('not json\n'), 'not json\n');
});

test("console 'json' writes the same JSON lines", opts, async (t) => {
  const { log, consoleLines } = setup(t, { file: null, console: 'json' });
  log.info({ a: 1 }, 'x');
  assert.equal(consoleLines.length, 1);
  const line = JSON.parse(consoleLines[0]!) as Record<string, unknown>;
  assert.equal(line.msg, 'x');
  assert.equal(line.a, 1);
});
