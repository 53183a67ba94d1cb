// Pins validation: one run reports every problem, each with its dotted path, in a single
// XZ_ERR_CONFIG_INVALID; cross-field rules (pipeline names, device roles, timing order) are
// reported alongside field errors instead of hiding behind them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, configFrom } from '../../config/index.js';

const opts = { timeout: 10_000 };

function issuesOf(input: unknown): Map<string, string> {
  try {
    configFrom(input, { env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'XZ_ERR_CONFIG_INVALID');
    return new Map(err.issues.map((i) => [i.path, i.message]));
  }
  assert.fail('expected the config to be rejected');
}

test('several problems are reported at once, each with its path', opts, () => {
  const issues = issuesOf({
    server: { ws_port: 70000, http_port: 'x', wsport: 1 },
    audio: { frame_ms: 30, downlink_rate: 22050, encoder_complexity: 11 },
    vad: { min_speech_ms: 0, end_silence_ms: 6000, threshold: 1.5, echo: { threshold: 0, window_ms: 100 } },
    websocket: { version: 4 },
    auth: { mode: 'tokn' },
    bogus: {},
  });
  assert.deepEqual([...issues.keys()].sort(), [
    'audio.downlink_rate',
    'audio.encoder_complexity',
    'audio.frame_ms',
    'auth.mode',
    'bogus',
    'server.http_port',
    'server.ws_port',
    'server.wsport',
    'vad.echo.threshold',
    'vad.echo.window_ms',
    'vad.end_silence_ms',
    'vad.min_speech_ms',
    'vad.threshold',
    'websocket.version',
  ]);
  assert.equal(issues.get('server.ws_port'), 'expected number ≤ 65535 (got 70000)');
  assert.equal(issues.get('server.http_port'), 'expected a number, received "x"');
  assert.equal(issues.get('server.wsport'), 'unknown key (did you mean "ws_port"?)');
  assert.equal(issues.get('audio.frame_ms'), 'expected one of 20, 40, 60, 120 (got 30)');
  assert.equal(issues.get('vad.end_silence_ms'), 'expected number ≤ 5000 (got 6000)');
  assert.equal(issues.get('auth.mode'), 'expected one of "token", "off", "none" (got "tokn")');
});

test('the error message lists every problem on its own line', opts, () => {
  try {
    configFrom({ server: { ws_port: -1 }, log: { level: 'loud' } }, { env: {} });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.issues.length, 2);
    assert.match(err.message, /2 problems/);
    assert.match(err.message, /\n {2}- server\.ws_port: expected number ≥ 0 \(got -1\)/);
    assert.match(err.message, /\n {2}- log\.level: expected one of /);
    assert.deepEqual(JSON.parse(JSON.stringify(err)).details.issues.length, 2, 'serialises with its issues');
  }
});

test('a pipeline naming an unknown provider is reported with its index, next to field errors', opts, () => {
  const issues = issuesOf({
    server: { ws_port: 'nope' },
    providers: { llm: { gpt: { type: 'openai', model: 'gpt-4o-mini' } } },
    pipeline: { llm: ['gpt', 'claude'], tts: ['local', 'local'], asr: [] },
  });
  assert.equal(issues.get('pipeline.llm[1]'), 'unknown llm provider "claude" (defined under providers.llm: echo, gpt)');
  assert.equal(issues.get('pipeline.tts[1]'), '"local" is listed twice');
  assert.equal(issues.get('pipeline.asr'), 'expected at least 1 item');
  assert.ok(issues.has('server.ws_port'), 'the field error is reported in the same run');
});

test('provider instances need a type; their other options pass through untouched', opts, () => {
  const issues = issuesOf({ providers: { tts: { edge: { voice: 'zh-CN-XiaoxiaoNeural' }, blank: { type: '' } } } });
  assert.equal(issues.get('providers.tts.edge.type'), 'required: expected a string');
  assert.equal(issues.get('providers.tts.blank.type'), 'must not be empty');

  const c = configFrom(
    { providers: { tts: { edge: { type: 'edge', voice: 'zh-CN-XiaoxiaoNeural', rate: '+10%', nested: { a: [1] } } } } },
    { env: {} },
  );
  assert.deepEqual(c.providers.tts.edge, { type: 'edge', voice: 'zh-CN-XiaoxiaoNeural', rate: '+10%', nested: { a: [1] } });
});

test('devices must name roles and llm providers that exist; groups may not overlap', opts, () => {
  const issues = issuesOf({
    roles: { teacher: { prompt: 'Teach.' } },
    devices: {
      'aa:bb:cc:dd:ee:ff': { role: 'pirate', llm: 'gpt' },
      kids: { role: 'teacher', match: ['d1', 'd2'] },
      lab: { match: ['d2'] },
    },
  });
  assert.equal(issues.get('devices.aa:bb:cc:dd:ee:ff.role'), 'unknown role "pirate" (defined: default, teacher)');
  assert.equal(issues.get('devices.aa:bb:cc:dd:ee:ff.llm'), 'unknown llm provider "gpt" (defined: echo)');
  assert.equal(issues.get('devices.lab.match[0]'), 'device "d2" is also matched by group "kids"');
  assert.equal(issues.size, 3);
});

test('ordering rules between timing values are enforced', opts, () => {
  const issues = issuesOf({
    audio: { frame_ms: 120, lead_frames: 10 },
    server: { idle_timeout_s: 8, hello_timeout_ms: 9000 },
  });
  assert.equal(issues.get('audio.lead_frames'), 'lead_frames × frame_ms must be ≤ 1000 ms (is 10 × 120 = 1200 ms)');
  assert.equal(issues.get('server.hello_timeout_ms'), 'must be shorter than server.idle_timeout_s (9000 ms ≥ 8 s)');
  assert.equal(issuesOf({ server: { idle_timeout_s: 5 } }).get('server.idle_timeout_s'), 'expected 0 (off) or 8..960');
  // The same values in a legal combination pass.
  const ok = configFrom({ audio: { frame_ms: 20, lead_frames: 10 }, server: { idle_timeout_s: 0, hello_timeout_ms: 9000 } }, { env: {} });
  assert.equal(ok.audio.lead_frames, 10);
});

test('server addresses, URLs and TLS are checked', opts, () => {
  const issues = issuesOf({
    server: {
      trusted_proxies: ['10.0.0.0/8', '::1', '192.168.1.300', '10.0.0.0/33'],
      public_ws_url: 'http://example.org/',
      public_http_url: 'not a url',
      tls: { cert: 'cert.pem' },
    },
    auth: { secret: 'short' },
  });
  assert.deepEqual([...issues.keys()].sort(), [
    'auth.secret',
    'server.public_http_url',
    'server.public_ws_url',
    'server.tls.key',
    'server.trusted_proxies[2]',
    'server.trusted_proxies[3]',
  ]);
  assert.equal(issues.get('auth.secret'), 'expected at least 16 characters');
  const c = configFrom({ server: { tls: { cert: 'c.pem', key: 'k.pem' }, trusted_proxies: ['::1', 'fd00::/8'] } }, { env: {} });
  assert.deepEqual(c.server.tls, { cert: 'c.pem', key: 'k.pem' });
});

test('a rejected secret is not echoed into the error', opts, () => {
  try {
    configFrom({ auth: { secret: 'tiny-secret' } }, { env: {} });
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.issues[0]?.path, 'auth.secret');
    assert.doesNotMatch(err.message, /tiny-secret/);
  }
});
