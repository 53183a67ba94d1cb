// Dialogue function tools: end_conversation, change_voice, get_weather against a real local HTTP
// server (success, key handling, errors, timeout, abort), play_music over a folder, and the
// config-driven builder; every name is vendor-safe.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolRegistry } from '../../actors/tools/registry.js';
import { toolsSchema } from '../../actors/dialogue/config.js';
import { dialogueTools } from '../../actors/dialogue/index.js';
import { MusicLibrary, type Track } from '../../actors/dialogue/music.js';
import { rolesFrom } from '../../actors/dialogue/roles.js';
import { changeVoiceTool, endConversationTool, playMusicTool, weatherTool, weatherUrl } from '../../actors/dialogue/tools.js';

const T = { timeout: 20_000 };
const VENDOR = /^[a-zA-Z0-9_-]{1,64}$/;
const ctx = (signal = new AbortController().signal) => ({ sessionId: 's1', deviceId: 'd1', signal });

// ── a weather service ─────────────────────────────────────────────────────────────────────────

interface Seen {
  url: string;
  auth: string | undefined;
}
const seen: Seen[] = [];
const closedEarly: string[] = [];
let server: Server;
let base = '';

before(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    res.on('close', () => {
      if (!res.writableFinished) closedEarly.push(url.pathname);
    });
    switch (url.pathname) {
      case '/weather': {
        const city = url.searchParams.get('q') ?? '';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ city, now: { text: '晴', temp: 21 }, forecast: [{ day: 'tomorrow', text: 'rain' }] }, null, 2));
        return;
      }
      case '/text':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('  Sunny   +21°C \n');
        return;
      case '/big':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(200_000));
        return;
      case '/fail':
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":"maintenance"}');
        return;
      case '/hang':
        return; // never answers
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test('get_weather: fills {city} and {key} URL-encoded and hands the model compact JSON', T, async () => {
  const tool = weatherTool({ url: `${base}/weather?q={city}&key={key}`, key: 'k&1' });
  assert.equal(tool.definition.name, 'get_weather');
  assert.deepEqual((tool.definition.parameters as { required?: string[] }).required, ['city']);
  seen.length = 0;
  const r = await tool.run({ city: '北京' }, ctx());
  assert.equal(r.isError, false);
  assert.equal(seen[0]!.url, '/weather?q=%E5%8C%97%E4%BA%AC&key=k%261');
  assert.equal(seen[0]!.auth, undefined, 'a key placed in the URL is not also sent as a header');
  assert.ok(r.text.startsWith('Weather for 北京'), r.text);
  assert.ok(r.text.includes('{"city":"北京","now":{"text":"晴","temp":21}'), 'JSON re-serialized without indentation');
  assert.equal(weatherUrl('https://w/{city}/{city}', 'New York', null), 'https://w/New%20York/New%20York');
});

test('get_weather: a key without {key} goes as a bearer token; default city; plain text', T, async () => {
  const tool = weatherTool({ url: `${base}/text?c={city}`, key: 'secret', defaultCity: 'Shanghai' });
  assert.equal((tool.definition.parameters as { required?: string[] }).required, undefined);
  assert.match(tool.definition.description, /Shanghai/);
  seen.length = 0;
  const r = await tool.run({}, ctx());
  assert.equal(r.isError, false);
  assert.equal(seen[0]!.url, '/text?c=Shanghai');
  assert.equal(seen[0]!.auth, 'Bearer secret');
  assert.equal(r.text, 'Weather for Shanghai (summarize it in one or two spoken sentences): Sunny +21°C');
});

test('get_weather: no city, HTTP errors, huge bodies and timeouts become error results', T, async () => {
  const noCity = await weatherTool({ url: `${base}/weather?q={city}` }).run({ city: '  ' }, ctx());
  assert.equal(noCity.isError, true);
  assert.match(noCity.text, /which city/);

  const failed = await weatherTool({ url: `${base}/fail?q={city}` }).run({ city: 'x' }, ctx());
  assert.equal(failed.isError, true);
  assert.match(failed.text, /status 503/);

  const big = await weatherTool({ url: `${base}/big?q={city}`, maxChars: 100 }).run({ city: 'x' }, ctx());
  assert.equal(big.isError, false);
  assert.ok(big.text.length < 200);

  closedEarly.length = 0;
  const t0 = performance.now();
  const slow = await weatherTool({ url: `${base}/hang?q={city}`, timeoutMs: 300 }).run({ city: 'x' }, ctx());
  const took = performance.now() - t0;
  assert.equal(slow.isError, true);
  assert.match(slow.text, /did not answer within 300 ms/);
  assert.ok(took >= 250 && took < 3000, `timed out after ${took} ms`);
  await waitFor(() => closedEarly.includes('/hang'));

  const refused = await weatherTool({ url: 'http://127.0.0.1:1/?q={city}', timeoutMs: 2000 }).run({ city: 'x' }, ctx());
  assert.equal(refused.isError, true);
  assert.match(refused.text, /could not be reached/);
});

test('get_weather: the turn being aborted aborts the request (and throws, as a cancel)', T, async () => {
  const ac = new AbortController();
  closedEarly.length = 0;
  const p = weatherTool({ url: `${base}/hang?q={city}`, timeoutMs: 10_000 }).run({ city: 'x' }, ctx(ac.signal));
  setTimeout(() => ac.abort(new Error('barge-in')), 50);
  await assert.rejects(p);
  await waitFor(() => closedEarly.includes('/hang'));
});

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ── end_conversation and change_voice ────────────────────────────────────────────────────────

test('end_conversation: calls onEnd and asks the model for a goodbye', T, async () => {
  let ended = 0;
  const reg = new ToolRegistry();
  reg.add(endConversationTool({ onEnd: () => ended++ }));
  const r = await reg.call('end_conversation', '', ctx());
  assert.equal(ended, 1);
  assert.equal(r.isError, false);
  assert.match(r.text, /goodbye/);
});

test('change_voice: validates against the configured list', T, async () => {
  const { voices } = toolsSchema.parse({ voices: ['zh-CN-XiaoxiaoNeural', { id: 'en-US-GuyNeural', name: 'Guy', description: 'deep male voice' }] });
  let current: string | null = 'zh-CN-XiaoxiaoNeural';
  const changed: string[] = [];
  const tool = changeVoiceTool({ voices, current: () => current, onChange: (v) => void (changed.push(v.id), (current = v.id)) });
  assert.match(tool.definition.description, /"Guy" \(deep male voice\)/);
  assert.deepEqual((tool.definition.parameters['properties'] as { voice: { enum: string[] } }).voice.enum, ['zh-CN-XiaoxiaoNeural', 'Guy']);
  const ok = await tool.run({ voice: 'guy' }, ctx());
  assert.equal(ok.isError, false);
  assert.deepEqual(changed, ['en-US-GuyNeural']);
  const same = await tool.run({ voice: 'en-US-GuyNeural' }, ctx());
  assert.match(same.text, /Already/);
  const bad = await tool.run({ voice: 'Darth Vader' }, ctx());
  assert.equal(bad.isError, true);
  assert.match(bad.text, /Available voices: zh-CN-XiaoxiaoNeural, Guy/);
  assert.deepEqual(changed, ['en-US-GuyNeural']);
});

// ── music ─────────────────────────────────────────────────────────────────────────────────────

const musicDir = mkdtempSync(join(tmpdir(), 'xz-dialogue-music-'));
after(() => rmSync(musicDir, { recursive: true, force: true }));
mkdirSync(join(musicDir, 'Beatles'));
for (const f of ['晴天.mp3', 'Yesterday_Once_More.wav', 'Beatles/Let It Be.ogg', 'Blue.OPUS', 'notes.txt', '.hidden.mp3', '稻香.mp3']) writeFileSync(join(musicDir, f), 'not really audio');

test('MusicLibrary: lists playable files only, sorted by title, from subfolders too', T, async () => {
  const lib = new MusicLibrary(musicDir);
  const titles = (await lib.list()).map((t) => t.title);
  assert.deepEqual(titles, ['Blue', 'Let It Be', 'Yesterday Once More', '晴天', '稻香']);
  const blue = (await lib.list()).find((t) => t.title === 'Blue')!;
  assert.equal(blue.ext, '.opus');
  assert.equal(blue.path, join(musicDir, 'Blue.OPUS'));
  assert.deepEqual(await new MusicLibrary(join(musicDir, 'missing')).list(), []);
});

test('MusicLibrary.find: exact, partial, with "play the song" words, CJK, folder names, random', T, async () => {
  const lib = new MusicLibrary(musicDir, { random: () => 0.99 });
  const title = async (q: string) => (await lib.find(q))?.title;
  assert.equal(await title('晴天'), '晴天');
  assert.equal(await title('播放晴天'), '晴天');
  assert.equal(await title('yesterday'), 'Yesterday Once More');
  assert.equal(await title('Yesterday once more!'), 'Yesterday Once More');
  assert.equal(await title('let it be song'), 'Let It Be');
  assert.equal(await title('beatles'), 'Let It Be');
  assert.equal(await title('yesterdy once mor'), 'Yesterday Once More', 'a near miss still finds it');
  assert.equal(await title('Bohemian Rhapsody'), undefined);
  assert.equal(await title(''), '稻香', 'an empty query picks at random (injected)');
  assert.equal(await title('随便'), '稻香');
});

test('MusicLibrary: the listing is cached and rescanned after rescanMs', T, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xz-dialogue-music2-'));
  try {
    let now = 0;
    const lib = new MusicLibrary(dir, { now: () => now, rescanMs: 1000 });
    assert.equal((await lib.list()).length, 0);
    writeFileSync(join(dir, 'new song.mp3'), '');
    assert.equal((await lib.list()).length, 0, 'cached');
    now = 1000;
    assert.deepEqual((await lib.list()).map((t) => t.title), ['new song']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('play_music: picks a file and hands it to onPlay; lists songs when nothing matches', T, async () => {
  const played: Track[] = [];
  const tool = playMusicTool({ library: new MusicLibrary(musicDir), onPlay: (t) => void played.push(t) });
  const ok = await tool.run({ song: '稻香' }, ctx());
  assert.equal(ok.isError, false);
  assert.match(ok.text, /Now playing "稻香"/);
  assert.equal(played[0]!.path, join(musicDir, '稻香.mp3'));
  const miss = await tool.run({ song: 'Bohemian Rhapsody' }, ctx());
  assert.equal(miss.isError, true);
  assert.match(miss.text, /Blue, Let It Be, Yesterday Once More, 晴天, 稻香/);
  assert.equal(played.length, 1);
  const empty = await playMusicTool({ library: new MusicLibrary(join(musicDir, 'missing')), onPlay: () => {} }).run({}, ctx());
  assert.match(empty.text, /empty/);
});

// ── the builder ───────────────────────────────────────────────────────────────────────────────

test('dialogueTools: config decides which tools exist; every name is vendor-safe', T, () => {
  const roles = rolesFrom({ default: { prompt: 'a', voice: null, language: null, tools: [] }, teacher: { prompt: 'b', voice: null, language: null, tools: [] } });
  const hooks = { onEnd: () => {}, currentVoice: () => null, onVoice: () => {}, onPlay: () => {}, roles, currentRole: () => 'default', onRole: () => {} };
  const none = dialogueTools(toolsSchema.parse({}), { ...hooks, roles: new Map() });
  assert.deepEqual(none.map((t) => t.definition.name), ['end_conversation']);
  const all = dialogueTools(toolsSchema.parse({ weather: { url: `${base}/weather?q={city}` }, music: { dir: musicDir }, voices: ['a'] }), hooks);
  assert.deepEqual(all.map((t) => t.definition.name), ['end_conversation', 'switch_role', 'change_voice', 'get_weather', 'play_music']);
  for (const t of all) {
    assert.match(t.definition.name, VENDOR);
    assert.equal(t.source, 'server');
    assert.equal((t.definition.parameters as { type: string }).type, 'object');
  }
});
