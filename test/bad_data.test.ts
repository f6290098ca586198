/**
 * Bad input to `ganc run`, through the CLI: each kind of unusable data folder, a model that diverges, and bad
 * options end with exit 1 and ONE `error:` line on stderr that names what is wrong (no stack trace); odd but usable
 * images mixed into real data are used, and the ones that cannot be are summed up in one line.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readCheckpoint } from '../src/runtime/checkpoint.ts';
import { readMetrics } from '../src/runtime/run_folder.ts';
import { ganc, lines, logosFixture, MODELS, REPO, show, tempDir, TINY, type GancResult } from './helpers/logos_fixture.ts';

const ODD = resolve(REPO, 'test/fixtures/odd');

let dir: string;
let logos: string;
let logoFiles: string[];

before(async () => {
  ({ logos } = await logosFixture());
  dir = await tempDir('bad-data');
  logoFiles = (await readdir(join(logos, 'simple-icons'))).filter((f) => f.endsWith('.png')).map((f) => join(logos, 'simple-icons', f));
});

/** `ganc run tiny_dcgan.ts --data DATA …` into a fresh run folder. */
async function runOn(data: string, ...extra: string[]): Promise<GancResult & { out: string }> {
  const out = await tempDir('bad-data-run');
  return { ...(await ganc(['run', TINY, '--data', data, '--out', out, '--steps', '2', '--threads', '1', ...extra])), out };
}

/**
 * Exit 1 with exactly one stderr line `error: …` (progress lines such as the data loader's may come before it),
 * which contains every part given; no stack trace.
 */
function assertOneError(r: GancResult, ...parts: (string | RegExp)[]): string {
  assert.equal(r.code, 1, show(r));
  const err = lines(r.stderr).filter((l) => /error/i.test(l));
  assert.equal(err.length, 1, `expected one error line on stderr:\n${show(r)}`);
  assert.match(err[0], /^error: /);
  assert.equal(lines(r.stderr).at(-1), err[0], 'the error is the last line');
  for (const p of parts) {
    if (typeof p === 'string') assert.ok(err[0].includes(p), `"${err[0]}" should mention ${p}`);
    else assert.match(err[0], p);
  }
  assert.ok(!/\n\s+at /.test(r.stderr + r.stdout), 'a stack trace was printed');
  return err[0];
}

// Every case is its own ganc process, mostly waiting on start-up: they run side by side.
describe('ganc run: bad input', { concurrency: 4 }, () => {
  describe('bad data folders', { concurrency: 4 }, () => {
    test('an empty folder', async () => {
      const empty = join(dir, 'empty');
      await mkdir(empty);
      assertOneError(await runOn(empty), `${empty}: no images found`);
    });

    test('a missing folder', async () => {
      const missing = join(dir, 'missing');
      assertOneError(await runOn(missing), `${missing}: no such folder`);
    });

    test('a file instead of a folder', async () => {
      const file = logoFiles[0];
      assertOneError(await runOn(file), file, /not a folder/);
    });

    test('fewer images than one batch (16)', async () => {
      const few = join(dir, 'few');
      await mkdir(few);
      for (const f of logoFiles.slice(0, 5)) await cp(f, join(few, f.split('/').at(-1)!));
      assertOneError(await runOn(few), `${few}: only 5 images, at least 16 needed`);
    });

    test('a folder of undecodable files only', async () => {
      const junk = join(dir, 'junk');
      await mkdir(junk);
      await writeFile(join(junk, 'noise.png'), Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 73 + 11) % 256)));
      await writeFile(join(junk, 'empty.jpg'), '');
      await writeFile(join(junk, 'readme.txt'), 'not a picture\n');
      // A PNG cut off after its header.
      await writeFile(join(junk, 'cut.png'), (await readFile(logoFiles[0])).subarray(0, 40));
      assertOneError(await runOn(junk), `${junk}: no images found (4 files, none a usable image)`);
    });

    test('odd images mixed into real logos: the run works, one line sums up the skipped files', async () => {
      const mixed = join(dir, 'mixed');
      await cp(logos, mixed, { recursive: true });
      await cp(ODD, join(mixed, 'odd'), { recursive: true });
      const oddFiles = await readdir(ODD);
      const r = await runOn(mixed);
      assert.equal(r.code, 0, show(r));
      const err = lines(r.stderr);
      const skipped = err.filter((l) => /skipp/i.test(l));
      assert.equal(skipped.length, 1, show(r));
      assert.ok(skipped[0].includes(mixed), skipped[0]);
      // corrupt.png and notes.txt cannot be decoded, tiny.png (1×1) is too small; the other odd files are used.
      const total = (await readdir(join(logos, 'simple-icons'))).length + (await readdir(join(logos, 'iconify-logos'))).length + oddFiles.length;
      assert.match(skipped[0], new RegExp(`skipped 3 of ${total} files`));
      for (const f of ['corrupt.png', 'notes.txt', 'tiny.png']) assert.ok(skipped[0].includes(f), `${skipped[0]} should name ${f}`);
      assert.ok(err.some((l) => l === `data: ${total - 3} images from ${mixed}`), show(r));
      assert.ok(!err.some((l) => l.startsWith('error')), show(r));
      assert.equal(readMetrics(join(r.out, 'metrics.jsonl')).length, 2);
    });
  });

  describe('labelled data', () => {
    test('a model reading the labels of every real batch (ctx.labels) on data with _unlabelled/ images', async () => {
      const semi = join(dir, 'semi');
      await cp(logos, semi, { recursive: true });
      await mkdir(join(semi, '_unlabelled'));
      for (const f of logoFiles.slice(0, 3)) await cp(f, join(semi, '_unlabelled', f.split('/').at(-1)!));
      const out = await tempDir('ctx-labels');
      const r = await ganc(['run', join(MODELS, 'tiny_ssl.ts'), '--data', semi, '--out', out, '--steps', '2', '--threads', '1']);
      assertOneError(r, `${semi}: the model's loss uses the labels of every real batch (ctx.labels), but 3 images have none (_unlabelled/)`);
    });

    test('--held-out outside [0, 1)', async () => {
      const out = await tempDir('held-out');
      assertOneError(await ganc(['run', join(MODELS, 'tiny_ssl.ts'), '--data', logos, '--out', out, '--held-out', '1']), /--held-out must be a fraction in \[0, 1\)/);
    });
  });

  describe('a diverging model', () => {
    test('NaN losses: exit 1 with one "diverged" line; the last good checkpoint stays readable and finite', async () => {
      const out = await tempDir('nan');
      const r = await ganc(['run', join(MODELS, 'tiny_dcgan_nan.ts'), '--data', logos, '--out', out, '--steps', '30', '--ckpt-every', '2', '--sample-every', '1000', '--threads', '1']);
      assert.equal(r.code, 1, show(r));
      const errors = lines(r.stderr).filter((l) => /error/i.test(l));
      assert.equal(errors.length, 1, show(r));
      assert.match(errors[0], /^error: .*checkpoint\.bin: d_loss became (NaN|-?Infinity) at step (\d+): training diverged/);
      assert.ok(!/\n\s+at /.test(r.stderr), 'a stack trace was printed');
      const badStep = Number(/at step (\d+)/.exec(errors[0])![1]);
      assert.ok(badStep >= 3 && badStep < 30, errors[0]);

      const { meta, tensors } = readCheckpoint(join(out, 'checkpoint.bin'));
      // The checkpoint before the bad step (every 2 steps), and nothing but finite numbers in it.
      assert.equal(meta.step, 2 * Math.floor((badStep - 1) / 2));
      for (const [name, t] of tensors) assert.ok((t.data as Float32Array).every(Number.isFinite), `${name} is not finite`);
      // The log stops at the last finite step.
      const rows = readMetrics(join(out, 'metrics.jsonl'));
      assert.equal(rows.length, badStep - 1);
      assert.ok(rows.every((x) => Number.isFinite(x.d_loss) && Number.isFinite(x.g_loss)));
    });
  });

  describe('bad options', { concurrency: 2 }, () => {
    test('an unknown option', async () => {
      const out = await tempDir('bogus');
      assertOneError(await ganc(['run', TINY, '--data', logos, '--out', out, '--bogus']), /bogus/);
    });

    test('--steps 0', async () => {
      const out = await tempDir('steps0');
      assertOneError(await ganc(['run', TINY, '--data', logos, '--out', out, '--steps', '0']), /--steps must be a positive integer/);
    });
  });
});
