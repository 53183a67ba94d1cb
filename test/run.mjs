#!/usr/bin/env node
// The one test command (`npm test`). Node 20's `--test` neither globs `.ts` files nor fails
// when it runs nothing, so this finds the suites, hands node the explicit list, and fails
// unless at least one test ran and none failed.
//   XZ_TEST_FILTER=substring   run only files whose path contains it
//   XZ_SOAK=1                  also run long soak/fuzz suites (files named *.soak.test.ts)
import { spawnSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testDir = join(root, 'test');

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'fixtures') continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(p));
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filter = process.env.XZ_TEST_FILTER ?? '';
const soak = process.env.XZ_SOAK === '1';
const files = walk(testDir)
  .map((p) => relative(root, p))
  .filter((p) => soak || !p.endsWith('.soak.test.ts'))
  .filter((p) => p.includes(filter))
  .sort();

if (files.length === 0) {
  console.error(`test/run.mjs: no test files found${filter ? ` matching "${filter}"` : ''}`);
  process.exit(1);
}

if (process.env.XZ_SKIP_TYPECHECK !== '1') {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.check.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) {
    console.error('test/run.mjs: type check failed');
    process.exit(1);
  }
}

const tapDir = mkdtempSync(join(tmpdir(), 'xz-test-'));
const tapFile = join(tapDir, 'result.tap');
const args = [
  '--import', 'tsx',
  '--test',
  '--test-timeout=120000',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tapFile}`,
  ...files,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, XZ_TEST: '1' } });
child.on('exit', (code, signal) => {
  let tap = '';
  try { tap = readFileSync(tapFile, 'utf8'); } catch { /* reported below as zero tests */ }
  rmSync(tapDir, { recursive: true, force: true });
  const count = (name) => Number((tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
  const tests = count('tests');
  const pass = count('pass');
  const fail = count('fail') + count('cancelled');
  const skipped = count('skipped');
  console.log(`\n(${files.length} files)`);
  console.log(`tests: ${pass} passed, ${fail} failed, ${skipped} skipped`);
  if (tests === 0) {
    console.error('test/run.mjs: no test ran');
    process.exit(1);
  }
  process.exit(signal ? 1 : (code ?? 1) || (fail > 0 ? 1 : 0));
});
