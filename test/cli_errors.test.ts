// Bad input to `ganc compile` → exit code 1 and ONE line on stderr, `error: <file>:<line>: <message>`, naming what is
// wrong and where (the model file's own .ts line), with no stack trace unless --verbose.
// The model files are in test/fixtures/models/: tiny_ok.ts is a valid tiny GAN, each other file breaks it in one place.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FIX = 'test/fixtures/models';
const out = mkdtempSync(path.join(tmpdir(), 'ganc-cli-errors-'));
process.on('exit', () => rmSync(out, { recursive: true, force: true }));

interface Run { code: number | null; stdout: string; stderr: string }

function ganc(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'bin/ganc.mjs'), ...args], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let outN = 0;
const runs = new Map<string, Promise<Run>>();
/** `ganc compile <file> -o <tmp> [flags]`, run once per distinct command line (each run costs a node start-up). */
function compile(file: string, ...flags: string[]): Promise<Run> {
  const key = [file, ...flags].join(' ');
  if (!runs.has(key)) runs.set(key, ganc('compile', file, '-o', path.join(out, String(outN++)), ...flags));
  return runs.get(key)!;
}

/** Exit 1, nothing on stdout, exactly one stderr line `error: <file>[:<line>]: <message>`; returns its parts. */
function oneLine(r: Run): { file: string; line?: number; message: string } {
  const show = `exit ${r.code}\n--- stderr\n${r.stderr}--- stdout\n${r.stdout}`;
  assert.equal(r.code, 1, show);
  assert.equal(r.stdout, '', show);
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  assert.equal(lines.length, 1, `stderr must be one line:\n${show}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, show);
  const m = /^error: ([^:\s]+?)(?::(\d+))?: (.+)$/.exec(lines[0]);
  assert.ok(m, `not of the form 'error: <file>[:<line>]: <message>': ${lines[0]}`);
  return { file: m[1], line: m[2] === undefined ? undefined : Number(m[2]), message: m[3] };
}

/** One line at `file:line` whose message matches every pattern. */
async function expectError(fixture: string, where: { file?: string; line: number | number[] }, ...patterns: RegExp[]): Promise<void> {
  const file = `${FIX}/${fixture}`;
  const e = oneLine(await compile(file));
  assert.equal(e.file, where.file ? `${FIX}/${where.file}` : file);
  const lines = Array.isArray(where.line) ? where.line : [where.line];
  assert.ok(e.line !== undefined && lines.includes(e.line), `line ${e.line}, expected ${lines.join(' or ')}: ${e.message}`);
  for (const p of patterns) assert.match(e.message, p);
}

describe('ganc compile: bad input gives one clear line', { concurrency: 2 }, () => {
  test('the fixtures are valid apart from their one mistake (tiny_ok.ts compiles)', async () => {
    const r = await compile(`${FIX}/tiny_ok.ts`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  // (a) shape errors: the line of the offending call, the message shows the shapes involved.
  test('shape: linear on a 4-D tensor', () => expectError('shape_linear_4d.ts', { line: 7 }, /linear/, /\[2, ?8, ?4, ?4\]/, /flatten/));
  test('shape: concat of mismatched shapes', () =>
    expectError('shape_concat.ts', { line: 7 }, /concat/, /\[2, ?8, ?4, ?4\]/, /\[2, ?1, ?8, ?8\]/));
  test('shape: add of shapes that do not broadcast', () =>
    expectError('shape_add.ts', { line: 7 }, /add/i, /\[2, ?8, ?4, ?4\]/, /\[2, ?1, ?8, ?8\]/, /broadcast/));
  // Line 7 is the gan({...}) call, line 5 the generator; either names the culprit.
  test('shape: the generator makes the wrong image size', () =>
    expectError('shape_image_size.ts', { line: [5, 7] }, /generator/, /\[2, ?1, ?16, ?16\]/, /\[2, ?1, ?8, ?8\]/));

  // (b) unknown options.
  test('unknown option in gan({...})', () => expectError('unknown_gan_option.ts', { line: [6, 12] }, /unknown option 'genrator'/, /gan/));
  test('unknown option in a layer call', () => expectError('unknown_layer_option.ts', { line: 6 }, /conv2d/, /unknown option 'strid'/, /stride/));

  // (c) a loss that reaches no parameter.
  test('dLoss reaches D only through stopGradient', () => expectError('loss_stop_gradient.ts', { line: 5 }, /loss/, /parameter/));
  test('dLoss through stopGradient: the message says which loss', () =>
    expectError('loss_stop_gradient.ts', { line: [5, 12] }, /dLoss/, /discriminator/));
  test('gLoss is a constant', () => expectError('loss_constant.ts', { line: [5, 13] }, /gLoss/, /generator/, /parameter/));

  // (d) syntax errors: the line of the error, in the file that has it.
  test('syntax error', () => expectError('syntax_error.ts', { line: 6 }, /syntax error/, /\)/));
  test('syntax error in a file the model imports', () =>
    expectError('syntax_error_import.ts', { file: 'syntax_error.ts', line: 6 }, /syntax error/));

  // (e), (f): no line to point at; the file and what is wrong.
  test('a file that exports no GAN', async () => {
    const e = oneLine(await compile(`${FIX}/no_gan.ts`));
    assert.equal(e.file, `${FIX}/no_gan.ts`);
    assert.match(e.message, /no GAN/);
    assert.match(e.message, /export default gan/);
  });
  test('a missing file', async () => {
    const e = oneLine(await compile(`${FIX}/does_not_exist.ts`));
    assert.equal(e.file, `${FIX}/does_not_exist.ts`);
    assert.match(e.message, /no such model file/);
  });
  test('an absolute path is shown relative to the working directory', async () => {
    const e = oneLine(await compile(path.join(root, FIX, 'shape_concat.ts')));
    assert.equal(e.file, `${FIX}/shape_concat.ts`);
    assert.equal(e.line, 7);
  });

  // (g) command-line mistakes.
  test('an unknown flag', async () => {
    const r = await ganc('compile', 'models/dcgan.ts', '--bogus');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.replace(/\n$/, '').split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^error: .*bogus/);
  });
  test('--verbose adds the stack trace', async () => {
    const r = await compile(`${FIX}/shape_concat.ts`, '--verbose');
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.split('\n');
    assert.match(lines[0], /^error: test\/fixtures\/models\/shape_concat\.ts:7: concat: /);
    assert.match(r.stderr, /^\s+at .*shape_concat\.ts:7:\d+/m, 'the stack shows the model line');
  });
});
