// The simulator attached to a TestDevice answers over a real WebSocket, wrapped the way the
// firmware wraps MCP replies; the client on the other end sees them through `receive`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { realClock } from '../../runtime/clock.js';
import { DeviceMcp } from '../../actors/mcp/device-mcp.js';
import { IotThings } from '../../actors/mcp/iot.js';
import { TestDevice } from '../helpers/device.js';
import { McpDeviceSim, TINY_JPEG } from '../helpers/mcp-device.js';
import { IotDeviceSim } from './iot-device.js';
import { testLog } from './helpers.js';

const T = { timeout: 30_000 };

test('over a socket: hello, initialize, paged list and a call, replies wrapped with the session id', T, async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  // ws waits for its connections before `close` calls back: end them first.
  t.after(() => new Promise((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close(r);
  }));
  const frames: string[] = [];
  const serverSide = new Promise<{ ws: WebSocket; client: DeviceMcp }>((resolve) => {
    wss.on('connection', (ws) => {
      const { log } = testLog();
      const client = new DeviceMcp({ send: (payload) => ws.send(JSON.stringify({ session_id: 'sess-1', type: 'mcp', payload })), clock: realClock, log });
      ws.on('message', (data) => {
        const text = data.toString();
        frames.push(text);
        const msg = JSON.parse(text) as Record<string, unknown>;
        if (msg['type'] === 'hello') ws.send(JSON.stringify({ type: 'hello', transport: 'websocket', session_id: 'sess-1', audio_params: { format: 'opus', sample_rate: 24000, channels: 1, frame_duration: 60 } }));
        if (msg['type'] === 'mcp') client.receive(msg['payload']);
      });
      resolve({ ws, client });
    });
  });
  const dev = await TestDevice.connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/xiaozhi/v1/`);
  const sim = new McpDeviceSim({ extraTools: 40 });
  sim.attach(dev);
  await dev.hello();
  const { client } = await serverSide;

  const info = await client.initialize();
  assert.equal(info.name, 'bread-compact-wifi');
  assert.equal(frames.find((f) => f.includes('"serverInfo"')), '{"session_id":"sess-1","type":"mcp","payload":{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2024-11-05","capabilities":{"tools":{}},"serverInfo":{"name":"bread-compact-wifi","version":"2.4.2"}}}}');
  const tools = await client.listTools({ withUserTools: true });
  assert.equal(tools.length, 5 + 40 + 7);
  assert.ok(sim.received.filter((p) => (p as { method?: string }).method === 'tools/list').length >= 2);
  assert.deepEqual(await client.callTool('self.audio_speaker.set_volume', { volume: 12 }), { text: 'true', isError: false });
  assert.equal(sim.status.volume, 12);
});

test('take_photo uploads to the vision URL like the firmware and returns the body verbatim', T, async (t) => {
  let seen: { headers: Record<string, unknown>; body: Buffer } | undefined;
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen = { headers: req.headers, body: Buffer.concat(chunks) };
      res.writeHead(req.headers.authorization === 'Bearer good' ? 200 : 401, { 'content-type': 'application/json' });
      res.end('{"success":true,"action":"RESPONSE","response":"a blue square"}');
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => http.close(r)));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp/vision/explain`;

  const sim = new McpDeviceSim();
  const { log } = testLog();
  let client: DeviceMcp | undefined;
  const send = sim.link((p) => client!.receive(p));
  client = new DeviceMcp({ send, clock: realClock, log, visionUrl: url, visionToken: 'good' });
  await client.initialize();
  const r = await client.callTool('self.camera.take_photo', { question: '这是什么？' });
  assert.equal(r.text, '{"success":true,"action":"RESPONSE","response":"a blue square"}');
  assert.equal(seen!.headers['transfer-encoding'], 'chunked');
  assert.equal(seen!.headers['content-type'], 'multipart/form-data; boundary=----ESP32_CAMERA_BOUNDARY');
  assert.equal(seen!.headers['device-id'], 'aa:bb:cc:dd:ee:ff');
  const body = seen!.body;
  const head = '------ESP32_CAMERA_BOUNDARY\r\nContent-Disposition: form-data; name="question"\r\n\r\n这是什么？\r\n------ESP32_CAMERA_BOUNDARY\r\nContent-Disposition: form-data; name="file"; filename="camera.jpg"\r\nContent-Type: image/jpeg\r\n\r\n';
  assert.equal(body.subarray(0, Buffer.byteLength(head)).toString(), head);
  assert.ok(body.subarray(Buffer.byteLength(head)).subarray(0, TINY_JPEG.length).equals(TINY_JPEG));

  // A refused upload is an error reply on the device.
  const bad = new McpDeviceSim();
  let c2: DeviceMcp | undefined;
  const send2 = bad.link((p) => c2!.receive(p));
  c2 = new DeviceMcp({ send: send2, clock: realClock, log, visionUrl: url, visionToken: 'bad' });
  await c2.initialize();
  await assert.rejects(c2.callTool('self.camera.take_photo', { question: 'q' }), /Failed to upload photo/);
});

test('a legacy IoT device over a socket: descriptors in, command out and applied', T, async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  t.after(() => new Promise((r) => {
    for (const c of wss.clients) c.terminate();
    wss.close(r);
  }));
  let server: WebSocket | undefined;
  const things = new IotThings({ send: (m) => server!.send(JSON.stringify(m)) });
  let descriptors = 0;
  wss.on('connection', (ws) => {
    server = ws;
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as Record<string, unknown>;
      if (msg['type'] === 'iot') things.ingest(msg);
      if (Array.isArray(msg['descriptors'])) descriptors++;
    });
  });
  const dev = await TestDevice.connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/xiaozhi/v1/`);
  const sim = new IotDeviceSim();
  sim.attach(dev, 'S');
  while (descriptors < 2 || Object.keys(things.states()).length < 2) await new Promise((r) => setTimeout(r, 5));
  await things.call('iot_Speaker_SetVolume', { volume: 33 });
  await dev.next((r) => r.kind === 'json' && r.value['type'] === 'iot');
  assert.deepEqual(sim.applied, [{ name: 'Speaker', method: 'SetVolume', parameters: { volume: 33 } }]);
  assert.equal(sim.things[0]!.state['volume'], 33);
  assert.deepEqual(things.states()['Speaker'], { volume: 80 }, 'the device reports states again only when listening starts');
});
