/**
 * The README's commands as a new user types them: `npx ganc …` prints ganc's output and no npm warning, and the
 * project's npm settings keep a fresh `npm ci` from running onnxruntime-node's CUDA download (npm 10 and 11 both run
 * dependency install scripts unless told not to).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, TINY } from './helpers/logos_fixture.ts';

const npmVersion = (() => {
  try {
    return execFileSync('npm', ['--version'], { cwd: REPO, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
})();
const skip = npmVersion ? false : 'npm is not on PATH';

test('`npx ganc compile` prints no npm warning, only ganc\'s output', { skip }, () => {
  const out = mkdtempSync(join(tmpdir(), 'ganc-npx-'));
  try {
    const r = spawnSync('npx', ['ganc', 'compile', TINY, '-o', out], { cwd: REPO, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /npm (warn|WARN|notice)/, `npm ${npmVersion} warned:\n${r.stderr}`);
    assert.equal(r.stderr.trim(), '', `stderr:\n${r.stderr}`);
    assert.match(r.stdout, /^model tiny-dcgan: /);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('npm, as configured for this project, runs no dependency install script (onnxruntime-node\'s downloads CUDA)', { skip }, () => {
  // What `npm ci` reads from the project's .npmrc; `npm config get` prints the effective value.
  const r = spawnSync('npm', ['config', 'get', 'ignore-scripts'], { cwd: REPO, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'true');
  assert.doesNotMatch(r.stderr, /npm warn/i, r.stderr);
});
