import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compareVersions,
  findImageByFile,
  isNewerVersion,
  parseFirmwareName,
  parseVersion,
  parseVersionLikeDevice,
  scanFirmwareFolder,
} from '../../actors/frontdoor/firmware.js';

const T = { timeout: 10_000 };

test('numeric dotted compare follows the firmware', T, () => {
  const cmp = (a: string, b: string) => compareVersions(parseVersion(a)!, parseVersion(b)!);
  assert.equal(cmp('1.10.0', '1.9.2'), 1);
  assert.equal(cmp('1.9.2', '1.10.0'), -1);
  assert.equal(cmp('2.4.2', '2.4.2'), 0);
  assert.equal(cmp('1.0.1', '1.0'), 1);
  assert.equal(cmp('1.0.0', '1.0'), 1, 'longer wins on an equal prefix, as ota.cc does');
  assert.equal(cmp('0.9', '0.10'), -1);
});

test('image versions must be strictly numeric; device versions parse like stoi', T, () => {
  for (const bad of ['', '1.', '.1', '1..2', 'v1.0', '1.0-beta', '1.0.0 ', '99999999999']) assert.equal(parseVersion(bad), undefined, bad);
  assert.deepEqual(parseVersion('007.1'), [7, 1]);
  assert.deepEqual(parseVersionLikeDevice('2.4.2-6-g48142026'), [2, 4, 2]);
  assert.deepEqual(parseVersionLikeDevice('1.2.'), [1, 2]);
  assert.deepEqual(parseVersionLikeDevice(' 1.+2'), [1, 2]);
  assert.equal(parseVersionLikeDevice('1..2'), undefined);
  assert.equal(parseVersionLikeDevice('dev'), undefined);
  assert.equal(isNewerVersion('1.10.0', '1.9.2'), true);
  assert.equal(isNewerVersion('2.4.3', '2.4.2-dirty'), true);
  assert.equal(isNewerVersion('2.4.2', '2.4.2'), false);
  assert.equal(isNewerVersion('2.4.1', '2.4.2'), false);
  assert.equal(isNewerVersion('1.0', '1.0.0'), false);
  assert.equal(isNewerVersion('3.0.0', 'dev-build'), false, 'device version the device itself cannot parse');
  assert.equal(isNewerVersion('3.0-rc', '1.0'), false);
});

test('file naming: <board-type>_<version>.bin, split at the last underscore', T, () => {
  assert.deepEqual(parseFirmwareName('bread-compact-wifi_2.4.3.bin'), { board: 'bread-compact-wifi', version: '2.4.3' });
  assert.deepEqual(parseFirmwareName('waveshare-esp32-s3-touch-amoled-1.8_2.4.3.bin'), {
    board: 'waveshare-esp32-s3-touch-amoled-1.8',
    version: '2.4.3',
  });
  assert.deepEqual(parseFirmwareName('my_board_1.0.bin'), { board: 'my_board', version: '1.0' });
  for (const bad of ['board.bin', '_1.0.bin', 'board_1.0.img', 'board_1.0-beta.bin', 'board_.bin', '../x_1.0.bin', 'a b_1.0.bin']) {
    assert.equal(parseFirmwareName(bad), undefined, bad);
  }
});

test('scan picks the newest image per board from real files', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xz-fw-'));
  try {
    const files: Record<string, number> = {
      'bread-compact-wifi_1.9.2.bin': 10,
      'bread-compact-wifi_1.10.0.bin': 20,
      'bread-compact-wifi_1.2.bin': 30,
      'esp-box-3_2.0.0.bin': 10,
      'esp-box-3_2.0.0.1.bin': 11,
      'waveshare-esp32-s3-touch-amoled-1.8_2.4.3.bin': 12,
      'bread-compact-wifi_9.9.9-beta.bin': 10,
      'readme.txt': 5,
      'empty-board_1.0.0.bin': 0,
      '.hidden_9.0.0.bin': 5,
    };
    for (const [name, size] of Object.entries(files)) await writeFile(join(dir, name), Buffer.alloc(size, 1));
    await mkdir(join(dir, 'sub_9.0.0.bin'));

    const r = await scanFirmwareFolder(dir);
    assert.ok(r.ok);
    const newest = Object.fromEntries([...r.index].map(([board, img]) => [board, `${img.version}:${img.size}`]));
    assert.deepEqual(newest, {
      'bread-compact-wifi': '1.10.0:20',
      'esp-box-3': '2.0.0.1:11',
      'waveshare-esp32-s3-touch-amoled-1.8': '2.4.3:12',
    });
    const best = r.index.get('bread-compact-wifi')!;
    assert.equal(best.file, 'bread-compact-wifi_1.10.0.bin');
    assert.equal(best.path, join(dir, 'bread-compact-wifi_1.10.0.bin'));
    assert.deepEqual(
      r.images.filter((i) => i.board === 'bread-compact-wifi').map((i) => i.version),
      ['1.10.0', '1.9.2', '1.2'],
    );
    assert.deepEqual(r.skipped.map((s) => s.name).sort(), ['bread-compact-wifi_9.9.9-beta.bin', 'empty-board_1.0.0.bin', 'readme.txt', 'sub_9.0.0.bin']);

    assert.equal(findImageByFile(r.images, 'esp-box-3_2.0.0.bin')?.size, 10);
    assert.equal(findImageByFile(r.images, '../esp-box-3_2.0.0.bin'), undefined);
    assert.equal(findImageByFile(r.images, 'readme.txt'), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing folder is an empty index; an unreadable one is a coded failure', T, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xz-fw-'));
  try {
    const missing = await scanFirmwareFolder(join(dir, 'nope'));
    assert.ok(missing.ok);
    assert.equal(missing.index.size, 0);
    await writeFile(join(dir, 'file'), 'x');
    const notDir = await scanFirmwareFolder(join(dir, 'file'));
    assert.equal(!notDir.ok && notDir.code, 'XZ_ERR_FIRMWARE_SCAN_FAILED');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
