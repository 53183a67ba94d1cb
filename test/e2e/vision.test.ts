// The camera upload of protocol.md §12 through the real front door: chunked multipart with the
// question and a JPEG, a per-device bearer token; without a vision model the text model explains
// that it cannot see (the degradation rule); bad tokens, wrong types and oversized uploads get
// clear coded refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { issueVisionToken, VISION_PATH } from '../../actors/frontdoor/vision-route.js';
import { issueToken } from '../../actors/frontdoor/token.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DEVICE } from '../helpers/device.js';

const T = { timeout: 30_000 };
const BOUNDARY = '----ESP32_CAMERA_BOUNDARY';
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4000, 0x11), Buffer.from([0xff, 0xd9])]);

function multipart(question: string | null, file: Buffer | null, type = 'image/jpeg'): Buffer {
  const parts: Buffer[] = [];
  if (question !== null) parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="question"\r\n\r\n${question}\r\n`));
  if (file) parts.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="camera.jpg"\r\nContent-Type: ${type}\r\n\r\n`), file, Buffer.from('\r\n'));
  parts.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(parts);
}

/** Posts like the firmware: chunked, in several writes. */
function upload(server: TestServer, body: Buffer, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.httpPort, path: VISION_PATH, method: 'POST', headers: { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}`, 'Transfer-Encoding': 'chunked', ...headers } },
      (res) => {
        let d = '';
        res.on('data', (c: Buffer) => (d += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(d) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 1024) req.write(body.subarray(i, i + 1024));
    req.end();
  });
}

test('vision upload: token checked, chunked multipart parsed, text model explains without a vision model', T, async (t) => {
  const server = await startTestServer(t);
  const secret = await server.devices.getOrCreateSecret();
  const token = issueVisionToken({ secret }, DEVICE.id, DEVICE.client, Date.now());
  const headers = { 'Device-Id': DEVICE.id, 'Client-Id': DEVICE.client, Authorization: `Bearer ${token}` };

  const ok = await upload(server, multipart('what is on the table?', JPEG), headers);
  assert.equal(ok.status, 200);
  assert.equal(ok.json['success'], true);
  assert.match(String(ok.json['response']), /no vision model is configured/);

  const wrongToken = await upload(server, multipart('q', JPEG), { ...headers, Authorization: `Bearer ${issueToken({ secret, deviceId: DEVICE.id, clientId: DEVICE.client, nowMs: Date.now() })}` });
  assert.equal(wrongToken.status, 401, 'a WebSocket token is not a vision token');
  assert.equal(wrongToken.json['code'], 'XZ_ERR_VISION_UNAUTHORIZED');
  const otherDevice = await upload(server, multipart('q', JPEG), { ...headers, 'Device-Id': '00:11:22:33:44:55' });
  assert.equal(otherDevice.status, 401, 'the token is bound to its device');

  const notImage = await upload(server, multipart('q', Buffer.from('hello, not a picture')), headers);
  assert.equal(notImage.status, 415);
  assert.equal(notImage.json['code'], 'XZ_ERR_VISION_BAD_IMAGE');
  const noQuestion = await upload(server, multipart(null, JPEG), headers);
  assert.equal(noQuestion.status, 400);
  const big = await upload(server, multipart('q', Buffer.concat([JPEG, Buffer.alloc(3 * 1024 * 1024)])), headers);
  assert.equal(big.status, 413);
  assert.equal(big.json['code'], 'XZ_ERR_VISION_TOO_LARGE');
});

test('with a vision model configured, the photo goes to it as an image and its answer comes back', T, async (t) => {
  const { startFakeOpenAI } = await import('../doubles/llm-vendors.js');
  const fake = await startFakeOpenAI({ apiKey: 'sk-v' });
  t.after(() => fake.close());
  fake.script({ text: 'A red apple on a wooden table.' });
  const server = await startTestServer(t, {
    providers: { vllm: { eye: { type: 'openai', base_url: fake.url, model: 'gpt-4o-mini', api_key: 'sk-v' } } },
    pipeline: { vllm: ['eye'] },
  });
  const secret = await server.devices.getOrCreateSecret();
  const token = issueVisionToken({ secret }, DEVICE.id, DEVICE.client, Date.now());
  const r = await upload(server, multipart('what is on the table?', JPEG), { 'Device-Id': DEVICE.id, 'Client-Id': DEVICE.client, Authorization: `Bearer ${token}` });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { success: true, action: 'RESPONSE', response: 'A red apple on a wooden table.' });
  const user = (fake.requests[0]!.json as { messages: { role: string; content: unknown }[] }).messages.find((m) => m.role === 'user')!;
  const parts = user.content as { type: string; text?: string; image_url?: { url: string } }[];
  assert.equal(parts[0]!.text, 'what is on the table?');
  assert.equal(parts[1]!.image_url!.url, `data:image/jpeg;base64,${JPEG.toString('base64')}`);
});
