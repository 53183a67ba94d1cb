/**
 * Shared fixtures for the front-door suites: the device's OTA request of protocol.md §2.2, and a
 * checker of what the firmware requires of an OTA reply (§2.3), written from the firmware's point
 * of view so the OTA builder cannot grade its own homework.
 */

export const DEVICE_MAC = 'aa:bb:cc:dd:ee:ff';
export const CLIENT_UUID = '6f1c2e9a-3b4d-4c5e-9f00-112233445566';

/** Headers a current device sends with its check-version request (§2.2). */
export const OTA_HEADERS: Record<string, string> = {
  'Activation-Version': '1',
  'Device-Id': DEVICE_MAC,
  'Client-Id': CLIENT_UUID,
  'User-Agent': 'bread-compact-wifi/2.4.2',
  'Accept-Language': 'zh-CN',
  'Content-Type': 'application/json',
  Host: '192.168.1.10',
};

/** The body example of §2.2, verbatim apart from the elf hash placeholder. */
export const OTA_BODY = `{
  "version": 2,
  "language": "zh-CN",
  "flash_size": 16777216,
  "minimum_free_heap_size": "8318916",
  "mac_address": "aa:bb:cc:dd:ee:ff",
  "uuid": "6f1c2e9a-3b4d-4c5e-9f00-112233445566",
  "chip_model_name": "esp32s3",
  "chip_info": { "model": 9, "cores": 2, "revision": 2, "features": 18 },
  "application": {
    "name": "xiaozhi",
    "version": "2.4.2",
    "compile_time": "Aug  6 2026T08:49:23Z",
    "idf_version": "v5.5.2",
    "elf_sha256": "${'ab'.repeat(32)}"
  },
  "partition_table": [
    { "label": "nvs", "type": 1, "subtype": 2, "address": 36864, "size": 16384 },
    { "label": "ota_0", "type": 0, "subtype": 16, "address": 131072, "size": 4194304 }
  ],
  "ota": { "label": "ota_0" },
  "display": { "monochrome": false, "width": 240, "height": 240 },
  "board": {
    "type": "bread-compact-wifi",
    "name": "bread-compact-wifi",
    "manufacturer": "",
    "ssid": "HomeWiFi",
    "rssi": -52,
    "channel": 6,
    "ip": "192.168.1.23",
    "mac": "aa:bb:cc:dd:ee:ff"
  }
}`;

/** Paths of every JSON null in a value. */
export function nullPaths(v: unknown, path = '$'): string[] {
  if (v === null) return [path];
  if (Array.isArray(v)) return v.flatMap((x, i) => nullPaths(x, `${path}[${i}]`));
  if (typeof v === 'object' && v !== null) return Object.entries(v).flatMap(([k, x]) => nullPaths(x, `${path}.${k}`));
  return [];
}

const NUMERIC_VERSION = /^\d+(\.\d+)*$/;
// What the firmware's URL parser handles safely (§3.2): scheme, host, explicit port, path.
const DEVICE_WS_URL = /^wss?:\/\/[A-Za-z0-9.-]+:\d{1,5}\/[^\s"]*$/;
const DEVICE_HTTP_URL = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/[^\s"]*$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Everything in an OTA reply (as the device would receive it, i.e. after a JSON round trip) that
 * breaks a firmware rule. Empty means the reply is safe for every generation of §0.
 */
export function firmwareRuleViolations(replyValue: unknown): string[] {
  const reply: unknown = JSON.parse(JSON.stringify(replyValue));
  const out = nullPaths(reply).map((p) => `null at ${p}`);
  if (!isObj(reply)) return [...out, 'reply is not an object'];
  for (const key of Object.keys(reply)) {
    if (!['server_time', 'firmware', 'websocket', 'activation'].includes(key)) out.push(`unexpected section ${key}`);
  }
  if ('mqtt' in reply) out.push('mqtt section would become the NVS fallback');

  const st = reply.server_time;
  if (!isObj(st)) out.push('server_time missing');
  else {
    if (typeof st.timestamp !== 'number' || !Number.isInteger(st.timestamp) || st.timestamp <= 0) out.push('server_time.timestamp not positive integer ms');
    if (typeof st.timezone_offset !== 'number' || !Number.isInteger(st.timezone_offset)) out.push('server_time.timezone_offset not integer minutes');
  }

  const fw = reply.firmware;
  if (!isObj(fw)) out.push('firmware missing (FW 1.x treats that as a failed check)');
  else {
    if (typeof fw.version !== 'string') out.push('firmware.version not a string');
    else if (!NUMERIC_VERSION.test(fw.version)) out.push(`firmware.version ${fw.version} not numeric dotted`);
    if (typeof fw.url !== 'string') out.push('firmware.url not a string');
    else if (fw.url !== '' && !DEVICE_HTTP_URL.test(fw.url)) out.push(`firmware.url ${fw.url} not an http(s) URL`);
    if ('force' in fw) out.push('firmware.force must not be sent');
  }

  const ws = reply.websocket;
  if (!isObj(ws)) out.push('websocket missing: the device would fall back to MQTT');
  else {
    if (typeof ws.url !== 'string' || !DEVICE_WS_URL.test(ws.url)) out.push(`websocket.url ${String(ws.url)} not ws(s)://host:port/path`);
    if (typeof ws.token !== 'string') out.push('websocket.token not a string');
    if (typeof ws.version !== 'number' || ![1, 2, 3].includes(ws.version)) out.push('websocket.version not 1, 2 or 3');
  }

  if ('activation' in reply) {
    const a = reply.activation;
    if (!isObj(a)) out.push('activation not an object');
    else {
      if (typeof a.code !== 'string' || !/^\d+$/.test(a.code)) out.push('activation.code not a digit string');
      if (typeof a.message !== 'string') out.push('activation.message not a string');
      if (typeof a.challenge !== 'string' || a.challenge === '') out.push('activation.challenge not a non-empty string');
      if (typeof a.timeout_ms !== 'number') out.push('activation.timeout_ms not a number');
    }
  }
  return out;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}
