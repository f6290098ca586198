/**
 * Kill and resume: a run killed with SIGKILL mid-way and resumed with --resume logs exactly the losses (same
 * floats) of one uninterrupted run with the same seed. Resuming with another model is refused unless --force;
 * a fresh run into a folder that holds a checkpoint is refused and overwrites nothing.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../src/runtime/checkpoint.ts';
import { readMetrics } from '../src/runtime/run_folder.ts';
import { finished, ganc, killWhen, lines, logosFixture, MODELS, show, spawnGanc, tempDir, TINY, type GancResult } from './helpers/logos_fixture.ts';

const N = 40;
const KILL_AT = 15;

/** Step of the checkpoint in `dir`, or -1 (none yet, or caught mid-rename). */
function checkpointStep(dir: string): number {
  try {
    return readCheckpoint(join(dir, 'checkpoint.bin')).meta.step;
  } catch {
    return -1;
  }
}

const lastLoggedStep = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).at(-1)?.step ?? 0;

let a: string;
let b: string;
let runA: GancResult;
let killed: GancResult;
let killedAt: { checkpoint: number; logged: number };
let aBefore: Record<string, Buffer>;
let resumed: GancResult;
let fresh: GancResult;
let changed: GancResult;

/** tiny_dcgan with another learning rate: the same tensors, another model hash. */
const CHANGED = join(MODELS, 'tiny_dcgan_lr_changed.ts');

before(async () => {
  const { logos } = await logosFixture();
  a = await tempDir('resume-a');
  b = await tempDir('resume-b');
  const args = (out: string) => ['run', TINY, '--data', logos, '--out', out, '--steps', String(N), '--seed', '7', '--ckpt-every', '5', '--sample-every', '1000', '--threads', '1'];
  const childB = await spawnGanc(args(b));
  const doneB = finished(childB);
  // Kill once the checkpoint has reached KILL_AT and a step or two past it are logged, so the resumed run must also
  // drop the rows the killed one wrote after its last checkpoint.
  const killB = killWhen(childB, () => {
    const ckpt = checkpointStep(b);
    return ckpt >= KILL_AT && lastLoggedStep(b) >= ckpt + 2;
  });
  [runA, killed] = await Promise.all([ganc(args(a)), doneB, killB]);
  killedAt = { checkpoint: checkpointStep(b), logged: lastLoggedStep(b) };

  // The resume of B and the refused runs into A are independent: started together, they share the waiting. The two
  // into A run one after the other (at once, the second would be refused for the first's hold on the folder).
  aBefore = Object.fromEntries(['checkpoint.bin', 'metrics.jsonl', 'run.json'].map((f) => [f, readFileSync(join(a, f))]));
  [resumed, [fresh, changed]] = await Promise.all([
    // Only --resume: data, seed and step count come from the run folder.
    ganc(['run', TINY, '--out', b, '--resume', '--threads', '1']),
    (async () => [
      await ganc(['run', TINY, '--data', logos, '--out', a, '--steps', '5', '--threads', '1']),
      await ganc(['run', CHANGED, '--out', a, '--resume', '--threads', '1']),
    ])(),
  ]);
});

describe('kill -9 and --resume', () => {
  test('run B was killed mid-way, after a checkpoint', () => {
    assert.equal(runA.code, 0, show(runA));
    assert.equal(killed.signal, 'SIGKILL', `B was not killed: ${show(killed)}`);
    assert.ok(killedAt.checkpoint >= KILL_AT && killedAt.checkpoint < N, JSON.stringify(killedAt));
    assert.ok(killedAt.logged > killedAt.checkpoint, JSON.stringify(killedAt));
  });

  test('--resume continues to N with exactly the losses of the uninterrupted run', async () => {
    const r = resumed;
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, new RegExp(`done at step ${N}/${N}`));
    const rowsA = readMetrics(join(a, 'metrics.jsonl'));
    const rowsB = readMetrics(join(b, 'metrics.jsonl'));
    const steps = Array.from({ length: N }, (_, i) => i + 1);
    assert.deepEqual(rowsA.map((x) => x.step), steps);
    assert.deepEqual(rowsB.map((x) => x.step), steps, 'B: steps not continuous 1..N');
    for (let i = 0; i < N; i++) {
      for (const k of ['d_loss', 'g_loss', 'epoch']) {
        assert.equal(rowsB[i][k], rowsA[i][k], `step ${i + 1}: ${k} of the resumed run differs`);
      }
    }
    // And the final states are the same bytes.
    const ca = readCheckpoint(join(a, 'checkpoint.bin'));
    const cb = readCheckpoint(join(b, 'checkpoint.bin'));
    assert.equal(cb.meta.step, N);
    assert.deepEqual([...cb.tensors.keys()], [...ca.tensors.keys()]);
    for (const [name, t] of ca.tensors) assert.deepEqual(cb.tensors.get(name)!.data, t.data, `${name} differs`);
  });

  test('a fresh run into a folder with a checkpoint is refused; nothing is overwritten', () => {
    const r = fresh;
    assert.equal(r.code, 1, show(r));
    const err = lines(r.stderr);
    assert.equal(err.length, 1, show(r));
    assert.match(err[0], /^error: .*already has a checkpoint.*--resume/);
    assert.ok(err[0].includes(a), 'the error names the run folder');
    for (const [f, bytes] of Object.entries(aBefore)) assert.deepEqual(readFileSync(join(a, f)), bytes, `${f} was changed`);
  });

  test('resuming with a changed model is refused unless --force', async () => {
    const r = changed;
    assert.equal(r.code, 1, show(r));
    const err = lines(r.stderr);
    assert.equal(err.length, 1, show(r));
    assert.match(err[0], /^error: .*checkpoint\.bin: .*different model.*--force/);
    for (const [f, bytes] of Object.entries(aBefore)) assert.deepEqual(readFileSync(join(a, f)), bytes, `${f} was changed`);

    const forced = await ganc(['run', CHANGED, '--out', a, '--resume', '--force', '--steps', String(N + 3), '--threads', '1']);
    assert.equal(forced.code, 0, show(forced));
    assert.equal(checkpointStep(a), N + 3);
    assert.deepEqual(readMetrics(join(a, 'metrics.jsonl')).map((x) => x.step), Array.from({ length: N + 3 }, (_, i) => i + 1));
    assert.ok(!existsSync(join(a, 'checkpoint.bin.tmp')));
  });
});
