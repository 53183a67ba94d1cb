// Pins how load() finds and layers configuration: XZ_CONFIG before .config.yaml before
// config.yaml before the built-in defaults; maps merge while lists replace; ${VAR} references and
// XZ_A__B overrides come from the given environment; the result is deeply frozen.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, configFrom, defaults, load } from '../../config/index.js';

const opts = { timeout: 10_000 };

function tempDir(t: TestContext, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'xz-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

test('without any file the built-in defaults apply', opts, (t) => {
  const c = load({ cwd: tempDir(t), env: {} });
  assert.equal(c.server.ws_port, 8765);
  assert.equal(c.server.http_port, 8080);
  assert.equal(c.server.host, '0.0.0.0');
  assert.equal(c.server.hello_timeout_ms, 10_000);
  assert.equal(c.audio.downlink_rate, 24000);
  assert.equal(c.audio.frame_ms, 60);
  assert.equal(c.vad.threshold, 0.5);
  assert.equal(c.vad.early_asr_ms, 200);
  assert.deepEqual(c.vad.echo, { threshold: 0.7, max_lag_ms: 600, window_ms: 750 });
  assert.equal(c.auth.mode, 'token');
  assert.equal(c.websocket.version, 1);
  assert.deepEqual(c.store, { type: 'lmdb', path: './data' });
  assert.deepEqual(c.log, { level: 'info', file: './logs/server.jsonl', console: true });
  assert.deepEqual(c.pipeline.llm, ['echo']);
});

test('lookup order: XZ_CONFIG, then .config.yaml, then config.yaml', opts, (t) => {
  const dir = tempDir(t, {
    'custom.yaml': 'server: { http_port: 1001 }\n',
    '.config.yaml': 'server: { http_port: 1002 }\n',
    'config.yaml': 'server: { http_port: 1003 }\n',
  });
  assert.equal(load({ cwd: dir, env: { XZ_CONFIG: 'custom.yaml' } }).server.http_port, 1001);
  assert.equal(load({ cwd: dir, env: { XZ_CONFIG: join(dir, 'custom.yaml') } }).server.http_port, 1001);
  assert.equal(load({ cwd: dir, env: {} }).server.http_port, 1002);
  rmSync(join(dir, '.config.yaml'));
  assert.equal(load({ cwd: dir, env: {} }).server.http_port, 1003);
  rmSync(join(dir, 'config.yaml'));
  assert.equal(load({ cwd: dir, env: {} }).server.http_port, 8080);
  // The explicit option wins over the environment.
  assert.equal(load({ cwd: dir, env: { XZ_CONFIG: 'nope.yaml' }, file: 'custom.yaml' }).server.http_port, 1001);
});

test('a missing file named by XZ_CONFIG is an error, not a silent fallback', opts, (t) => {
  const dir = tempDir(t, { 'config.yaml': 'server: { http_port: 1003 }\n' });
  const err = configError(() => load({ cwd: dir, env: { XZ_CONFIG: 'missing.yaml' } }));
  assert.equal(err.code, 'XZ_ERR_CONFIG_INVALID');
  assert.equal(err.category, 'invalid-request');
  assert.equal(err.retryable, false);
  assert.match(err.issues[0]!.message, /XZ_CONFIG does not exist: .*missing\.yaml/);
});

test('maps merge deeply onto the defaults, lists replace', opts, (t) => {
  const dir = tempDir(t, {
    'config.yaml': [
      'server:',
      '  http_port: 9001',
      '  trusted_proxies: [10.0.0.0/8]',
      'providers:',
      '  asr:',
      '    cloud: { type: openai, model: whisper-1 }',
      'pipeline:',
      '  asr: [cloud, local]',
      'roles:',
      '  default: { tools: [clock] }',
      '',
    ].join('\n'),
  });
  const c = load({ cwd: dir, env: {} });
  assert.equal(c.server.http_port, 9001);
  assert.equal(c.server.ws_port, 8765, 'sibling keys keep their defaults');
  assert.deepEqual(c.server.trusted_proxies, ['10.0.0.0/8']);
  assert.deepEqual(Object.keys(c.providers.asr).sort(), ['cloud', 'local'], 'provider maps merge');
  assert.deepEqual(c.providers.asr.cloud, { type: 'openai', model: 'whisper-1' });
  assert.deepEqual(c.pipeline.asr, ['cloud', 'local'], 'the list replaces the default [local]');
  assert.deepEqual(c.roles.default!.tools, ['clock']);
  assert.equal(c.roles.default!.prompt, defaults().roles.default!.prompt, 'the default prompt survives');
});

test('${VAR} is filled from the environment; ${VAR:-x} falls back; numbers may come as text', opts, (t) => {
  const dir = tempDir(t, {
    'config.yaml': [
      'server: { ws_port: "${PORT}", public_ws_url: "wss://${HOST}/xiaozhi/v1/" }',
      'auth: { secret: "${SECRET}" }',
      'log: { level: "${LEVEL:-warn}", file: "${LOGDIR:-/var/log}/x.jsonl" }',
      'roles: { default: { prompt: "costs $${PRICE}" } }',
      '',
    ].join('\n'),
  });
  const c = load({ cwd: dir, env: { PORT: '7000', HOST: 'example.org', SECRET: 's'.repeat(20), LOGDIR: '' } });
  assert.equal(c.server.ws_port, 7000);
  assert.equal(c.server.public_ws_url, 'wss://example.org/xiaozhi/v1/');
  assert.equal(c.auth.secret, 's'.repeat(20));
  assert.equal(c.log.level, 'warn');
  assert.equal(c.log.file, '/var/log/x.jsonl', 'an empty variable takes the fallback');
  assert.equal(c.roles.default!.prompt, 'costs ${PRICE}');
});

test('every unset ${VAR} is reported with its path, once', opts, (t) => {
  const dir = tempDir(t, {
    'config.yaml': 'server: { ws_port: "${PORT}" }\nproviders: { llm: { gpt: { type: openai, api_key: "${OPENAI_API_KEY}" } } }\n',
  });
  const err = configError(() => load({ cwd: dir, env: {} }));
  assert.deepEqual(
    err.issues.map((i) => i.path),
    ['server.ws_port', 'providers.llm.gpt.api_key'],
    'the unset port is not reported a second time as "expected a number"',
  );
  assert.match(err.issues[0]!.message, /PORT is not set/);
  assert.match(err.issues[1]!.message, /OPENAI_API_KEY is not set/);
  assert.ok(err.file?.endsWith('config.yaml'));
});

test('XZ_ variables override single keys, nested, with YAML scalar values', opts, (t) => {
  const dir = tempDir(t, { 'config.yaml': 'server: { http_port: 9001 }\nactivation: { enabled: true }\n' });
  const c = load({
    cwd: dir,
    env: {
      XZ_SERVER__HTTP_PORT: '9000',
      XZ_ACTIVATION__ENABLED: 'false',
      XZ_SERVER__PUBLIC_WS_URL: 'ws://10.0.0.2:8765/xiaozhi/v1/',
      XZ_SERVER__TRUSTED_PROXIES: '[127.0.0.1, 10.0.0.0/8]',
      XZ_PROVIDERS__LLM__GPT__TYPE: 'openai',
      XZ_PROVIDERS__LLM__GPT__API_KEY: 'sk-test',
      XZ_PIPELINE__LLM: '[gpt, echo]',
      XZ_LOG__FILE: 'null',
      XZ_AUTH__SECRET: '0123456789012345', // a leading zero keeps digits a string
      XZ_CONFIG_UNRELATED: 'x', // no "__": not an override
    },
  });
  assert.equal(c.server.http_port, 9000);
  assert.equal(c.activation.enabled, false);
  assert.equal(c.server.public_ws_url, 'ws://10.0.0.2:8765/xiaozhi/v1/');
  assert.deepEqual(c.server.trusted_proxies, ['127.0.0.1', '10.0.0.0/8']);
  assert.deepEqual(c.providers.llm.gpt, { type: 'openai', api_key: 'sk-test' });
  assert.deepEqual(c.pipeline.llm, ['gpt', 'echo']);
  assert.equal(c.log.file, null);
  assert.equal(c.auth.secret, '0123456789012345');
});

test('a bad override names the variable that set it', opts, (t) => {
  const err = configError(() => load({ cwd: tempDir(t), env: { XZ_SERVER__HTTP_PORT: 'eighty', XZ_SERVR__X: '1' } }));
  const byPath = new Map(err.issues.map((i) => [i.path, i]));
  assert.equal(byPath.get('server.http_port')?.env, 'XZ_SERVER__HTTP_PORT');
  assert.match(byPath.get('server.http_port')!.message, /expected a number, received "eighty"/);
  assert.match(byPath.get('servr')!.message, /unknown key \(did you mean "server"\?\)/);
  assert.match(err.message, /set by XZ_SERVER__HTTP_PORT/);
});

test('the result is deeply frozen', opts, (t) => {
  const c = load({ cwd: tempDir(t), env: {} });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.server) && Object.isFrozen(c.pipeline.asr));
  assert.throws(() => {
    (c.server as { ws_port: number }).ws_port = 1;
  }, TypeError);
  assert.throws(() => {
    (c.pipeline.asr as string[]).push('x');
  }, TypeError);
  assert.throws(() => {
    (c.providers.asr.local as Record<string, unknown>).type = 'x';
  }, TypeError);
  assert.equal(c.server.ws_port, 8765);
  // Loading again is unaffected by anything done to an earlier result.
  assert.equal(load({ cwd: tempDir(t), env: { XZ_SERVER__WS_PORT: '1' } }).server.ws_port, 1);
  assert.equal(defaults().server.ws_port, 8765);
});

test('a YAML syntax error is XZ_ERR_CONFIG_INVALID with file and line', opts, (t) => {
  const dir = tempDir(t, { 'config.yaml': 'server:\n  ws_port: 1\n  http_port: [1, 2\nlog: {}\n' });
  const err = configError(() => load({ cwd: dir, env: {} }));
  assert.equal(err.code, 'XZ_ERR_CONFIG_INVALID');
  const first = err.issues[0]!;
  assert.ok(first.file?.endsWith('config.yaml'));
  assert.equal(typeof first.line, 'number');
  assert.ok(first.line! >= 3 && first.line! <= 4, `line ${first.line}`);
  assert.match(err.message, /config\.yaml:\d+:\d+: YAML syntax/);
});

test('a duplicate key and a non-map document are reported', opts, (t) => {
  const dup = tempDir(t, { 'config.yaml': 'server: { ws_port: 1 }\nserver: { ws_port: 2 }\n' });
  assert.match(configError(() => load({ cwd: dup, env: {} })).message, /YAML syntax: .*unique/i);
  const list = tempDir(t, { 'config.yaml': '- a\n- b\n' });
  assert.match(configError(() => load({ cwd: list, env: {} })).message, /expected a map of sections.*got a list/);
  const empty = tempDir(t, { 'config.yaml': '# nothing yet\n' });
  assert.equal(load({ cwd: empty, env: {} }).server.ws_port, 8765);
});

test('the shipped config/config.yaml documents exactly the built-in defaults', opts, () => {
  const text = readFileSync(new URL('../../config/config.yaml', import.meta.url), 'utf8');
  const doc = parseYaml(text) as Record<string, unknown>;
  assert.deepEqual(configFrom(doc, { env: {} }), defaults());
  assert.deepEqual(Object.keys(doc), Object.keys(defaults()), 'every section appears, in schema order');
  for (const [section, value] of Object.entries(defaults())) {
    assert.deepEqual(doc[section], JSON.parse(JSON.stringify(value)), `section ${section} is written out in full`);
  }
});
