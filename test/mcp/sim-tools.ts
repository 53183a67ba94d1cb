// The firmware's built-in MCP tools (78/xiaozhi-esp32 main/mcp_server.cc, AddCommonTools and
// AddUserOnlyTools) with their real names, descriptions and schemas, plus generated board tools
// and the camera upload, for the device simulator in test/helpers/mcp-device.ts.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { McpDeviceOptions, SimTool } from '../helpers/mcp-device.js';

// An 8×8 baseline JPEG (libjpeg, quality 80) standing in for a camera frame; it decodes.
export const TINY_JPEG = Buffer.from(
  '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAAIAAgDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAb/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAABgf/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwCXAUUYf//Z',
  'base64',
);

export function commonTools(o: McpDeviceOptions): SimTool[] {
  const tools: SimTool[] = [
    {
      name: 'self.get_device_status',
      description:
        'Provides the real-time information of the device, including the current status of the audio speaker, screen, battery, network, etc.\n' +
        'Use this tool for: \n1. Answering questions about current condition (e.g. what is the current volume of the audio speaker?)\n' +
        '2. As the first step to control the device (e.g. turn up / down the volume of the audio speaker, etc.)',
      call: (_a, d) => {
        const s = d.status;
        return JSON.stringify({ audio_speaker: { volume: s.volume }, screen: { brightness: s.brightness, theme: s.theme }, battery: s.battery, network: s.network });
      },
    },
    {
      name: 'self.audio_speaker.set_volume',
      description: 'Set the volume of the audio speaker. If the current volume is unknown, you must call `self.get_device_status` tool first and then call this tool.',
      properties: [{ name: 'volume', type: 'integer', minimum: 0, maximum: 100 }],
      call: (a, d) => ((d.status.volume = a['volume'] as number), true),
    },
  ];
  if (o.backlight !== false) {
    tools.push({
      name: 'self.screen.set_brightness',
      description: 'Set the brightness of the screen.',
      properties: [{ name: 'brightness', type: 'integer', minimum: 0, maximum: 100 }],
      call: (a, d) => ((d.status.brightness = a['brightness'] as number), true),
    });
  }
  if (o.lvgl !== false) {
    tools.push({
      name: 'self.screen.set_theme',
      description: 'Set the theme of the screen. The theme can be `light` or `dark`.',
      properties: [{ name: 'theme', type: 'string' }],
      // An unknown theme is not an error on the device: the tool returns false.
      call: (a, d) => (a['theme'] === 'light' || a['theme'] === 'dark' ? ((d.status.theme = a['theme']), true) : false),
    });
  }
  if (o.camera !== false && o.lvgl !== false) {
    tools.push({
      name: 'self.camera.take_photo',
      description:
        'Take a photo and explain it. Use this tool after the user asks you to see something.\nArgs:\n  `question`: The question that you want to ask about the photo.\nReturn:\n  A JSON object that provides the photo information.',
      properties: [{ name: 'question', type: 'string' }],
      call: (a, d) => d.explain(a['question'] as string),
    });
  }
  return tools;
}

export function userTools(o: McpDeviceOptions): SimTool[] {
  const tools: SimTool[] = [
    { name: 'self.get_system_info', description: 'Get the system information', userOnly: true, call: (_a, d) => JSON.stringify({ chip_model_name: 'esp32s3', flash_size: 16777216, application: { name: 'xiaozhi', version: d.version }, board: { name: d.board } }) },
    { name: 'self.reboot', description: 'Reboot the system', userOnly: true, call: (_a, d) => ((d.rebootRequested = true), true) },
    {
      name: 'self.upgrade_firmware',
      description: 'Upgrade firmware from a specific URL. This will download and install the firmware, then reboot the device.',
      // Firmware quirk kept on purpose: the help text was passed as the default value, so `url` is optional.
      properties: [{ name: 'url', type: 'string', default: 'The URL of the firmware binary file to download and install' }],
      userOnly: true,
    },
  ];
  if (o.lvgl !== false) {
    tools.push(
      { name: 'self.screen.get_info', description: 'Information about the screen, including width, height, etc.', userOnly: true, call: () => ({ width: 240, height: 240, monochrome: false }) },
      { name: 'self.screen.snapshot', description: 'Snapshot the screen and upload it to a specific URL', properties: [{ name: 'url', type: 'string' }, { name: 'quality', type: 'integer', default: 80, minimum: 1, maximum: 100 }], userOnly: true },
      { name: 'self.screen.preview_image', description: 'Preview an image on the screen', properties: [{ name: 'url', type: 'string' }], userOnly: true },
    );
  }
  tools.push({ name: 'self.assets.set_download_url', description: 'Set the download url for the assets', properties: [{ name: 'url', type: 'string' }], userOnly: true });
  return tools;
}

/** Board tools in the firmware's style, long enough that ~20 fill a page. */
export function lamps(n: number): SimTool[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `self.lamp_${i + 1}.set_state`,
    description: `Turn lamp ${i + 1} of the living room on or off and set its brightness level. Use this tool when the user asks to switch or dim lamp ${i + 1}; call self.get_device_status first when its state is unknown.\nArgs:\n  \`on\`: true to switch on.\n  \`level\`: brightness 0-100.`,
    properties: [
      { name: 'on', type: 'boolean' },
      { name: 'level', type: 'integer', default: 50, minimum: 0, maximum: 100 },
    ],
  }));
}

/** Esp32Camera::Explain: multipart over chunked POST, bearer token when one was given. */
export function uploadPhoto(vision: { url: string; token: string }, question: string, ids: { deviceId: string; clientId: string }): Promise<string> {
  const boundary = '----ESP32_CAMERA_BOUNDARY';
  const url = new URL(vision.url);
  const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: 'POST',
    headers: {
      'Device-Id': ids.deviceId,
      'Client-Id': ids.clientId,
      ...(vision.token ? { Authorization: `Bearer ${vision.token}` } : {}),
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Transfer-Encoding': 'chunked',
    },
  });
  return new Promise((resolve, reject) => {
    req.on('error', () => reject(new Error('Failed to connect to explain URL')));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error('Failed to upload photo'))));
    });
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="question"\r\n\r\n${question}\r\n`);
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="camera.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`);
    req.write(TINY_JPEG);
    req.end(`\r\n--${boundary}--\r\n`);
  });
}

