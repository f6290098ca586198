/**
 * Damaged checkpoints and a full disk, through the CLI: --resume falls back to the previous checkpoint when the
 * latest is damaged and says so; readers do the same; two damaged checkpoints are one error line; a disk that fills
 * up while a checkpoint is saved (a real small tmpfs, where this process may mount one) leaves no partial file and
 * one line saying what is safe, and --resume continues once there is room.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { formatBytes, readCheckpoint } from '../src/runtime/checkpoint.ts';
import { readMetrics } from '../src/runtime/run_folder.ts';
import { ganc, lines, logosFixture, show, tempDir, TINY } from './helpers/logos_fixture.ts';

const steps = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).map((r) => r.step);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('a damaged latest checkpoint', () => {
  let dir: string;
  let both: string;
  let size: number;

  before(async () => {
    const { logos } = await logosFixture();
    dir = await tempDir('ckpt-damaged');
    const r = await ganc(['run', TINY, '--data', logos, '--out', dir, '--steps', '10', '--ckpt-every', '5', '--sample-every', '1000', '--threads', '1']);
    assert.equal(r.code, 0, show(r));
    both = await tempDir('ckpt-both');
    for (const f of ['run.json', 'metrics.jsonl', 'checkpoint.bin', 'checkpoint.prev.bin']) copyFileSync(join(dir, f), join(both, f));
    size = statSync(join(dir, 'checkpoint.bin')).size;
    truncateSync(join(dir, 'checkpoint.bin'), Math.floor(size / 2)); // a copy cut short
  });

  test('readers (ganc export) use the previous checkpoint and say why', async () => {
    const r = await ganc(['export', dir, '-o', join(dir, '..', 'damaged-gen.onnx')]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(lines(r.stderr), [
      `note: ${dir}/checkpoint.bin: the checkpoint is damaged (cut short: ${formatBytes(Math.floor(size / 2))} of ${formatBytes(size)}); using checkpoint.prev.bin (step 5)`,
    ]);
  });

  test('--resume continues from the previous checkpoint, says which and why, keeps the damaged file aside', async () => {
    const before10 = readMetrics(join(dir, 'metrics.jsonl'));
    const r = await ganc(['run', TINY, '--out', dir, '--resume', '--steps', '12', '--threads', '1']);
    assert.equal(r.code, 0, show(r));
    assert.ok(
      lines(r.stderr).includes(`resuming from checkpoint.prev.bin at step 5: checkpoint.bin is damaged (cut short: ${formatBytes(Math.floor(size / 2))} of ${formatBytes(size)}); it is kept as checkpoint.damaged.bin`),
      show(r),
    );
    assert.doesNotMatch(r.stderr, /Float32Array/);
    assert.deepEqual(steps(dir), upTo(12));
    // Steps 6–10 were redone from step 5's state: the same losses as the first time.
    const after12 = readMetrics(join(dir, 'metrics.jsonl'));
    for (let i = 5; i < 10; i++) assert.equal(after12[i].d_loss, before10[i].d_loss, `step ${i + 1}`);
    assert.equal(readCheckpoint(join(dir, 'checkpoint.bin')).meta.step, 12);
    assert.equal(statSync(join(dir, 'checkpoint.damaged.bin')).size, Math.floor(size / 2));
  });

  test('both checkpoints damaged: one error line naming the folder and both files; nothing is changed', async () => {
    truncateSync(join(both, 'checkpoint.bin'), 100);
    truncateSync(join(both, 'checkpoint.prev.bin'), size - 4);
    const r = await ganc(['run', TINY, '--out', both, '--resume', '--threads', '1']);
    assert.equal(r.code, 1, show(r));
    assert.deepEqual(lines(r.stderr), [
      `error: ${both}: both checkpoints are damaged: checkpoint.bin (cut short: 100 bytes, within its header) and checkpoint.prev.bin (cut short: ${formatBytes(size - 4)} of ${formatBytes(size)}); the run cannot be resumed`,
    ]);
    assert.deepEqual(readdirSync(both).sort(), ['checkpoint.bin', 'checkpoint.prev.bin', 'metrics.jsonl', 'run.json']);
  });
});

describe('disk full while a checkpoint is saved (a small tmpfs)', () => {
  let mnt: string;
  let mounted = false;
  const mount = (...opts: string[]) => spawnSync('mount', ['-t', 'tmpfs', '-o', opts.join(','), 'tmpfs', mnt], { encoding: 'utf8' });

  before(async () => {
    mnt = join(await tempDir('ckpt-tmpfs'), 'mnt');
    mkdirSync(mnt);
    const r = mount('size=16m');
    mounted = r.status === 0;
    if (!mounted) console.log(`# skipping the tmpfs test: cannot mount a tmpfs here (${(r.stderr || r.error?.message || '').trim()})`);
  });
  after(() => {
    if (mounted) spawnSync('umount', [mnt]);
  });

  test('no partial file, one line with the step, the size needed and the intact checkpoint; --resume once there is room', async (t) => {
    if (!mounted) return t.skip('cannot mount a tmpfs here (needs root)');
    const { logos } = await logosFixture();
    const dir = join(mnt, 'run');
    const args = ['run', TINY, '--data', logos, '--out', dir, '--ckpt-every', '5', '--sample-every', '1000', '--threads', '1'];
    const first = await ganc([...args, '--steps', '5']);
    assert.equal(first.code, 0, show(first));
    const size = statSync(join(dir, 'checkpoint.bin')).size;
    // Room for the checkpoint of step 5 and a little more, not for a second one beside it.
    assert.equal(mount('remount', `size=${Math.ceil((size * 1.5) / 4096) * 4096}`).status, 0);
    const full = await ganc([...args.filter((a) => a !== '--data' && a !== logos), '--resume', '--steps', '20']);
    assert.equal(full.code, 1, show(full));
    assert.deepEqual(lines(full.stderr).filter((l) => l.startsWith('error')), [
      `error: ${dir}/checkpoint.bin: checkpoint at step 10 not saved: disk full (needs ${formatBytes(size)}); the checkpoint of step 5 is intact — free space and --resume`,
    ]);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('checkpoint')), ['checkpoint.bin'], 'no partial checkpoint.bin.tmp is left');
    assert.equal(readCheckpoint(join(dir, 'checkpoint.bin')).meta.step, 5);
    assert.ok(!existsSync(join(dir, 'lock')));

    assert.equal(mount('remount', 'size=16m').status, 0);
    const resumed = await ganc(['run', TINY, '--out', dir, '--resume', '--steps', '20', '--threads', '1']);
    assert.equal(resumed.code, 0, show(resumed));
    assert.deepEqual(steps(dir), upTo(20));
    assert.equal(readCheckpoint(join(dir, 'checkpoint.bin')).meta.step, 20);
  });
});
