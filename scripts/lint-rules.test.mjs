// Proves that `npm run lint` enforces the users' TypeScript rules: a source
// file with `: any`, `@ts-ignore` or an `eslint-disable` comment fails the
// run. Each case writes one probe file into src/, runs the real lint script
// and removes the probe again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const probePrefix = 'lint_probe_';

function removeProbes() {
  for (const name of readdirSync(join(root, 'src'))) {
    if (name.startsWith(probePrefix)) {
      rmSync(join(root, 'src', name));
    }
  }
}

function lintWith(name, source) {
  const file = join(root, 'src', `${probePrefix}${name}.ts`);
  writeFileSync(file, source);
  try {
    const run = spawnSync('npm', ['run', '--silent', 'lint'], { cwd: root, encoding: 'utf8' });
    return { status: run.status, output: `${run.stdout}\n${run.stderr}`, file };
  } finally {
    rmSync(file);
  }
}

before(removeProbes);
after(removeProbes);

test('the tree as committed passes lint', () => {
  const run = spawnSync('npm', ['run', '--silent', 'lint'], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, `lint failed on the committed tree:\n${run.stdout}\n${run.stderr}`);
});

test('an explicit any fails lint', () => {
  const res = lintWith('any', 'export const value: any = 1;\n');
  assert.notEqual(res.status, 0, 'lint passed a file with `: any`');
  assert.match(res.output, /@typescript-eslint\/no-explicit-any/);
  assert.match(res.output, new RegExp(`${probePrefix}any\\.ts`));
});

test('a @ts-ignore comment fails lint', () => {
  const res = lintWith('ts_ignore', 'const n = 1;\n// @ts-ignore\nexport const value = n;\n');
  assert.notEqual(res.status, 0, 'lint passed a file with @ts-ignore');
  assert.match(res.output, /@typescript-eslint\/ban-ts-comment/);
});

test('a @ts-nocheck comment fails lint', () => {
  const res = lintWith('ts_nocheck', '// @ts-nocheck\nexport const value = 1;\n');
  assert.notEqual(res.status, 0, 'lint passed a file with @ts-nocheck');
  assert.match(res.output, /@typescript-eslint\/ban-ts-comment/);
});

test('an eslint-disable comment fails lint, whatever it disables', () => {
  for (const comment of ['/* eslint-disable */', '// eslint-disable-next-line no-console', '/* eslint-disable-line */']) {
    const res = lintWith('eslint_disable', `${comment}\nexport const value = 1;\n`);
    assert.notEqual(res.status, 0, `lint passed a file with ${comment}`);
    assert.match(res.output, /has no effect because you have 'noInlineConfig' setting/);
  }
});
