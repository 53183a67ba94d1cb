// Pins the HTTP health probes the pools run while a breaker is open: a 5xx or an unreachable
// host fails the probe; any other answer (even 401/404) proves the vendor is up.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { httpProbe, probeFor } from '../../providers/http/probe.js';

const T = { timeout: 10_000 };
let status = 503;
const seen: { url?: string; auth?: string }[] = [];
const server = http.createServer((req, res) => {
  seen.push({ url: req.url, auth: req.headers.authorization });
  res.statusCode = status;
  res.end('x');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as { port: number }).port;
after(() => new Promise<void>((r) => server.close(() => r())));

test('a 5xx fails the probe, a 404 passes it; openai probes GET /models with the key', T, async () => {
  const probe = probeFor({ type: 'openai', base_url: `http://127.0.0.1:${port}/v1/`, api_key: 'sk-x' })!;
  status = 503;
  await assert.rejects(probe(AbortSignal.timeout(2000)), { code: 'XZ_ERR_PROBE_FAILED' });
  status = 404;
  await probe(AbortSignal.timeout(2000));
  assert.deepEqual(seen.at(-1), { url: '/v1/models', auth: 'Bearer sk-x' });
  assert.equal(probeFor({ type: 'edge', url: 'wss://x' }), undefined, 'no probe without an http base_url');
});

test('an unreachable host fails the probe', T, async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const p = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  await assert.rejects(httpProbe(`http://127.0.0.1:${p}/`)(AbortSignal.timeout(2000)));
});

test('WebSocket vendors are probed by their own handshake: Edge with a fresh token, Doubao with its credentials', T, async (t) => {
  const { startEdgeFake } = await import('../doubles/edge-tts.js');
  const { startVolcTtsFake } = await import('../doubles/volc-tts.js');
  const { probeFor: registryProbe } = await import('../../providers/registry.js');
  const edge = await startEdgeFake();
  const volc = await startVolcTtsFake();
  t.after(() => Promise.all([edge.close(), volc.close()]));

  const edgeProbe = (await registryProbe('tts', 'e', { type: 'edge', url: edge.url }))!;
  await edgeProbe(AbortSignal.timeout(2000));
  assert.equal(edge.handshakes, 1, 'a real handshake the fake accepted (its token check passed)');
  edge.inject({ kind: 'upgrade', status: 503 });
  await assert.rejects(edgeProbe(AbortSignal.timeout(2000)), { code: 'XZ_ERR_PROBE_FAILED' });
  edge.inject({ kind: 'upgrade', status: 429 });
  await edgeProbe(AbortSignal.timeout(2000)); // throttled, but up

  const volcProbe = (await registryProbe('tts', 'v', { type: 'volc', url: volc.url, appid: volc.appId, access_token: volc.accessKey }))!;
  await volcProbe(AbortSignal.timeout(2000));
  assert.equal(volc.handshakes, 1);
  volc.faults.rejectUpgrade = { status: 502, body: 'bad gateway' };
  await assert.rejects(volcProbe(AbortSignal.timeout(2000)), { code: 'XZ_ERR_PROBE_FAILED' });

  assert.equal(await registryProbe('tts', 'local', { type: 'espeak' }), undefined, 'a local engine has nothing to probe');
});
