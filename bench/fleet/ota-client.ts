/**
 * The device's OTA "check version" request (protocol.md §2.2) and what it takes from the reply
 * (§2.3): the WebSocket url, token and framing version. The body is the firmware's, with this
 * device's MAC and UUID. Replies a device could not use are reported, not guessed around: an
 * `mqtt` section (the device would switch to MQTT+UDP), an `activation` section (it would show a
 * code and poll instead of connecting), JSON nulls (older firmware crashes on them).
 */
import { request, type Dispatcher } from 'undici';
import { BOARD } from './mcp-device.js';
import { clip, type Problem } from './checks.js';

export interface OtaResult {
  wsUrl: string | undefined;
  token: string | undefined;
  version: 1 | 2 | 3 | undefined;
  problems: Problem[];
  /** Set when the device could not go on to the WebSocket. */
  error?: string;
}

export function otaBody(mac: string, uuid: string): string {
  return JSON.stringify({
    version: 2,
    language: 'en-US',
    flash_size: 16777216,
    minimum_free_heap_size: '8318916',
    mac_address: mac,
    uuid,
    chip_model_name: 'esp32s3',
    chip_info: { model: 9, cores: 2, revision: 2, features: 18 },
    application: { name: 'xiaozhi', version: BOARD.version, compile_time: 'Aug  6 2026T08:49:23Z', idf_version: 'v5.5.2', elf_sha256: 'ab'.repeat(32) },
    partition_table: [
      { label: 'nvs', type: 1, subtype: 2, address: 36864, size: 16384 },
      { label: 'ota_0', type: 0, subtype: 16, address: 131072, size: 4194304 },
    ],
    ota: { label: 'ota_0' },
    display: { monochrome: false, width: 240, height: 240 },
    board: { type: BOARD.name, name: BOARD.name, manufacturer: '', ssid: 'FleetWiFi', rssi: -52, channel: 6, ip: '192.168.1.23', mac },
  });
}

function nullPaths(v: unknown, path = '$'): string[] {
  if (v === null) return [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => nullPaths(x, `${path}[${i}]`));
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, x]) => nullPaths(x, `${path}.${k}`));
  return [];
}

export async function checkVersion(otaUrl: string, mac: string, uuid: string, dispatcher: Dispatcher, timeoutMs = 30_000): Promise<OtaResult> {
  const res = await request(otaUrl, {
    method: 'POST',
    dispatcher,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    headers: {
      'Activation-Version': '1',
      'Device-Id': mac,
      'Client-Id': uuid,
      'User-Agent': `${BOARD.name}/${BOARD.version}`,
      'Accept-Language': 'en-US',
      'Content-Type': 'application/json',
    },
    body: otaBody(mac, uuid),
  });
  const text = await res.body.text();
  const fail = (error: string, problems: Problem[] = []): OtaResult => ({ wsUrl: undefined, token: undefined, version: undefined, problems, error });
  if (res.statusCode !== 200) return fail(`OTA answered ${res.statusCode}: ${clip(text)}`);
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    return fail('OTA reply is not JSON', [{ kind: 'ota-bad-reply', detail: `not JSON: ${clip(text)}` }]);
  }
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) return fail('OTA reply is not an object', [{ kind: 'ota-bad-reply', detail: clip(text) }]);
  const r = reply as Record<string, unknown>;
  const problems: Problem[] = nullPaths(r).map((p) => ({ kind: 'json-null' as const, detail: `OTA reply ${p} is null` }));
  if (r['mqtt'] !== undefined) return fail('OTA reply has an mqtt section: a device would use MQTT+UDP, which this simulator does not speak', problems);
  if (r['activation'] !== undefined) {
    return fail('OTA reply asks for activation: bind the simulated devices or turn activation off on the server', problems);
  }
  const ws = r['websocket'];
  if (typeof ws !== 'object' || ws === null) return fail('OTA reply has no websocket section (a device would fall back to stored MQTT settings)', problems);
  const w = ws as Record<string, unknown>;
  const url = typeof w['url'] === 'string' ? w['url'] : undefined;
  if (!url || !/^wss?:\/\//.test(url)) {
    problems.push({ kind: 'ota-bad-reply', detail: `websocket.url is ${JSON.stringify(w['url'])}` });
    return fail('OTA reply has no usable websocket.url', problems);
  }
  const v = w['version'];
  let version: 1 | 2 | 3 | undefined;
  if (v === 1 || v === 2 || v === 3) version = v;
  else if (v !== undefined && v !== null) problems.push({ kind: 'ota-bad-reply', detail: `websocket.version is ${JSON.stringify(v)}, not 1, 2 or 3` });
  return { wsUrl: url, token: typeof w['token'] === 'string' && w['token'] !== '' ? w['token'] : undefined, version, problems };
}

/** The Authorization header the firmware sends for a token (§3.3): verbatim if it has a space. */
export function authorization(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  return token.includes(' ') ? token : `Bearer ${token}`;
}
