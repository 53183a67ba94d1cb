// Pins the two derived views of a loaded config: sliceFor() hands an actor only its sections as
// plain data that survives structured cloning into a worker, and redact() yields a copy that is
// safe to log (secrets by key name anywhere, credentials inside URLs) without touching the original.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { configFrom, isSecretKey, redact, sliceFor } from '../../config/index.js';

const opts = { timeout: 10_000 };

const config = configFrom(
  {
    auth: { secret: 'a-very-long-hmac-secret' },
    server: { tls: { cert: '/etc/x/cert.pem', key: '/etc/x/key.pem' } },
    providers: {
      llm: {
        gpt: { type: 'openai', api_key: 'sk-live-1', model: 'gpt-4o-mini', max_tokens: 512, headers: { Authorization: 'Bearer zzz' } },
        doubao: { type: 'doubao', accessToken: 'tok-2', base_url: 'https://user:pw@ark.example.com/v3' },
      },
      tts: { edge: { type: 'edge', password: 'p', secret_key: 'k', voice: 'zh-CN-XiaoxiaoNeural' } },
    },
    pipeline: { llm: ['gpt', 'doubao'], tts: ['edge'] },
  },
  { env: {} },
);

test('a slice holds only the named sections, frozen, and survives structuredClone', opts, async () => {
  const slice = sliceFor(config, 'audio', 'vad', 'pipeline');
  assert.deepEqual(Object.keys(slice), ['audio', 'vad', 'pipeline']);
  assert.ok(Object.isFrozen(slice));
  assert.equal(slice.audio.frame_ms, 60);
  assert.deepEqual(structuredClone(slice), JSON.parse(JSON.stringify(slice)));
  assert.deepEqual(structuredClone(slice), slice);

  // The real crossing: through a MessagePort, as the boot message travels.
  const { port1, port2 } = new MessageChannel();
  const received = new Promise<unknown>((resolve) => port2.once('message', resolve));
  port1.postMessage(slice);
  assert.deepEqual(await received, slice);
  port1.close();
  port2.close();
  assert.throws(() => sliceFor(config, 'nope' as 'audio'), RangeError);
});

test('redact hides secrets anywhere and keeps everything else', opts, () => {
  const safe = redact(config);
  assert.equal(safe.auth.secret, '***');
  const gpt = safe.providers.llm.gpt as Record<string, unknown>;
  assert.equal(gpt.api_key, '***');
  assert.equal(gpt.model, 'gpt-4o-mini');
  assert.equal(gpt.max_tokens, 512);
  assert.deepEqual(gpt.headers, { Authorization: '***' });
  const doubao = safe.providers.llm.doubao as Record<string, unknown>;
  assert.equal(doubao.accessToken, '***');
  assert.equal(doubao.base_url, 'https://***@ark.example.com/v3');
  assert.deepEqual(safe.providers.tts.edge, { type: 'edge', password: '***', secret_key: '***', voice: 'zh-CN-XiaoxiaoNeural' });
  assert.equal(safe.server.tls?.key, '/etc/x/key.pem', 'a TLS key path is not key material');
  assert.equal(safe.auth.token_ttl_s, config.auth.token_ttl_s);
  assert.doesNotMatch(JSON.stringify(safe), /sk-live-1|tok-2|a-very-long-hmac-secret|Bearer zzz|:pw@/);

  assert.equal(config.auth.secret, 'a-very-long-hmac-secret', 'the original is untouched');
  assert.equal(redact(configFrom({}, { env: {} })).auth.secret, null, 'an unset secret stays visibly unset');
});

test('secret key names are recognised by their last word', opts, () => {
  for (const k of ['api_key', 'apiKey', 'key', 'access_token', 'token', 'secret', 'client-secret', 'password', 'Authorization', 'secretKey'])
    assert.equal(isSecretKey(k), true, k);
  for (const k of ['max_tokens', 'token_ttl_s', 'model', 'voice', 'monkey', 'keyboard', 'access_key_id'])
    assert.equal(isSecretKey(k), false, k);
});
