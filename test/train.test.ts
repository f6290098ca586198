/**
 * `ganc run` end to end: a short real training run of the tiny DCGAN on rendered logos, through the CLI. The losses
 * must move — by a margin that the same model with learning rate 0 (parameters never updated) does not reach.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../src/runtime/checkpoint.ts';
import { GRID_PAD_GREY, readPng } from '../src/runtime/pictures.ts';
import { readMetrics, type MetricsRow } from '../src/runtime/run_folder.ts';
import { ganc, lines, logosFixture, MODELS, show, tempDir, TINY, type GancResult } from './helpers/logos_fixture.ts';

const STEPS = 60;
/**
 * How far the mean loss of the last 10 steps must be from that of the first 10. Measured on this data and seed:
 * trained, d_loss 1.384 → 1.360 and g_loss 0.673 → 0.692 (|Δ| ≈ 0.02, and steady from step to step); with lr 0
 * both |Δ| < 0.001 (noise and data batches only).
 */
const MARGIN = 0.006;

const mean = (rows: MetricsRow[], k: string) => rows.reduce((s, r) => s + r[k], 0) / rows.length;
const moved = (rows: MetricsRow[], k: string) => Math.abs(mean(rows.slice(-10), k) - mean(rows.slice(0, 10), k));

let out: string;
let frozen: string;
let run: GancResult;
let frozenRun: GancResult;

before(async () => {
  const { logos } = await logosFixture();
  out = await tempDir('train');
  frozen = await tempDir('train-lr0');
  const common = ['--data', logos, '--steps', String(STEPS), '--threads', '1'];
  [run, frozenRun] = await Promise.all([
    ganc(['run', TINY, ...common, '--out', out, '--sample-every', '20', '--ckpt-every', '20']),
    ganc(['run', join(MODELS, 'tiny_dcgan_lr0.ts'), ...common, '--out', frozen, '--sample-every', '1000', '--ckpt-every', '1000']),
  ]);
});

describe('ganc run: a short real training run', () => {
  test('exits 0', () => {
    assert.equal(run.code, 0, show(run));
    assert.equal(frozenRun.code, 0, show(frozenRun));
  });

  test('metrics.jsonl: one row per step, finite losses', () => {
    const rows = readMetrics(join(out, 'metrics.jsonl'));
    assert.deepEqual(rows.map((r) => r.step), Array.from({ length: STEPS }, (_, i) => i + 1));
    for (const r of rows) {
      for (const k of ['d_loss', 'g_loss']) assert.ok(Number.isFinite(r[k]), `step ${r.step}: ${k} = ${r[k]}`);
      assert.ok(Number.isInteger(r.epoch) && r.epoch >= 0);
    }
  });

  test('both losses move, by more than with a frozen optimizer (lr 0)', () => {
    const rows = readMetrics(join(out, 'metrics.jsonl'));
    const still = readMetrics(join(frozen, 'metrics.jsonl'));
    assert.equal(still.length, STEPS);
    // Same seed, first batch and initial parameters: step 1's D loss (computed before any update) is the same.
    assert.equal(rows[0].d_loss, still[0].d_loss);
    for (const k of ['d_loss', 'g_loss']) {
      assert.ok(moved(rows, k) > MARGIN, `${k} moved only ${moved(rows, k)} (first 10 vs last 10 steps)`);
      assert.ok(moved(still, k) < MARGIN, `${k} moved ${moved(still, k)} with lr 0: the margin proves nothing`);
    }
  });

  test('sample grids: 8×8 tiles of 16 px with 2 px padding, scaled ×4 to 584 px, not constant', async () => {
    const files = readdirSync(join(out, 'samples')).sort();
    assert.deepEqual(files, ['step_000020.png', 'step_000040.png', 'step_000060.png']);
    const F = 4;
    const side = (8 * 16 + 9 * 2) * F;
    const grids = await Promise.all([...files.map((f) => join(out, 'samples', f)), join(out, 'samples.png')].map(readPng));
    for (const g of grids) {
      assert.deepEqual([g.width, g.height], [side, side]);
      // Inside the tiles (the padding is plain grey): many distinct colours, and tiles that differ from each other.
      const colours = new Set<number>();
      const tileSums: number[] = [];
      for (let t = 0; t < 64; t++) {
        const x0 = 2 + (t % 8) * 18;
        const y0 = 2 + Math.floor(t / 8) * 18;
        let sum = 0;
        for (let y = 0; y < 16; y++) {
          for (let x = 0; x < 16; x++) {
            const o = ((y0 + y) * F * side + (x0 + x) * F + (x % F)) * 4; // any pixel of the generated pixel's square
            colours.add((g.rgba[o] << 16) | (g.rgba[o + 1] << 8) | g.rgba[o + 2]);
            sum += g.rgba[o] + g.rgba[o + 1] + g.rgba[o + 2];
          }
        }
        tileSums.push(sum);
      }
      assert.ok(colours.size > 100, `only ${colours.size} colours in the tiles`);
      assert.ok(new Set(tileSums).size > 32, 'the 64 samples look alike');
      assert.deepEqual([...g.rgba.subarray(0, 4)], [GRID_PAD_GREY, GRID_PAD_GREY, GRID_PAD_GREY, 255]);
    }
    // samples.png is the latest grid.
    assert.deepEqual(grids[3].rgba, grids[2].rgba);
    // Training changed the samples between step 20 and 60.
    assert.notDeepEqual(grids[0].rgba, grids[2].rgba);
  });

  test('loss.png and a finite checkpoint at the last step', async () => {
    const loss = await readPng(join(out, 'loss.png'));
    assert.ok(loss.width >= 200 && loss.height >= 100, `loss.png is ${loss.width}×${loss.height}`);
    const ckpt = join(out, 'checkpoint.bin');
    assert.ok(existsSync(ckpt) && statSync(ckpt).size > 0);
    const { meta, tensors } = readCheckpoint(ckpt);
    assert.equal(meta.step, STEPS);
    assert.ok(tensors.size > 10);
    for (const [name, t] of tensors) assert.ok((t.data as Float32Array).every(Number.isFinite), `${name} is not finite`);
    assert.ok(!existsSync(ckpt + '.tmp'), 'a temporary checkpoint was left behind');
  });

  test('not a TTY: progress is plain lines with it/s and ETA', () => {
    const err = run.stderr;
    assert.ok(!/[\r\x1b]/.test(err), 'progress output holds carriage returns or escape sequences');
    const progress = lines(err).filter((l) => l.startsWith('tiny-dcgan  step '));
    assert.ok(progress.length >= 1, `no progress line in:\n${err}`);
    // Below 1 it/s (a loaded machine) the rate reads "1.3 s/it".
    for (const l of progress) assert.match(l, /^tiny-dcgan {2}step \d+\/60 {2}[\d.]+ (it\/s|s\/it) {2}ETA \S+ {2}d_loss \S+ {2}g_loss \S+$/);
    assert.match(progress[progress.length - 1], /step 60\/60 .*ETA 0s/);
    assert.match(lines(err).at(-1)!, /^done at step 60\/60/);
  });
});
