/**
 * `ganc eval` and `ganc compare`, and what they rest on: the held-out split, the accuracy rule, the classify graph
 * (checked against a naive inference-mode discriminator), the set metrics (real vs itself is 0, vs noise is not), and
 * the CLI on two short real runs (a DCGAN and a K+1 model) — eval.json, the same figures from the exported generator,
 * the compare table and HTML.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { compileGan, type Compiled } from '../src/compiler/compile.ts';
import { loadModel } from '../src/cli/load_model.ts';
import { loadImageFolder, type Dataset } from '../src/runtime/data/images.ts';
import {
  HELD_OUT_FRACTION, HELD_OUT_SEED, classificationAccuracy, classifyImages, datasetImages, evaluateSets, heldOutSplit,
  type EvalReport,
} from '../src/runtime/evaluate.ts';
import { finalSmoothed, wallTime } from '../src/runtime/report.ts';
import type { MetricsRow } from '../src/runtime/run_folder.ts';
import type { ImageSet } from '../src/runtime/metrics/swd.ts';
import * as naive from './reference/naive.ts';
import { ganc, lines, logosFixture, MODELS, show, tempDir, TINY, type GancResult } from './helpers/logos_fixture.ts';
import { readCheckpoint } from '../src/runtime/checkpoint.ts';

const SSL = join(MODELS, 'tiny_ssl.ts');

// ---------------------------------------------------------------- held-out split

/** A synthetic labelled data set of 2×2 images with distinct random pixels. */
function synthetic(labels: number[], seed = 1): Dataset {
  const r = naive.rng(seed);
  const vol = 3 * 2 * 2;
  const pixels = Uint8Array.from({ length: labels.length * vol }, () => Math.floor(r() * 256));
  return { pixels, count: labels.length, size: 2, labels: Int32Array.from(labels), classes: ['a', 'b', 'c'], skipped: [], source: '/synthetic' };
}

describe('heldOutSplit', () => {
  const labels = [...Array(30).fill(0), ...Array(17).fill(1), 2, -1, -1];
  const ds = synthetic(labels);

  test('per class round(10%) held out (none of a 1-image class), unlabelled images train, a partition', () => {
    const { train, heldOut } = heldOutSplit(ds);
    const held = [...heldOut].map((i) => labels[i]);
    assert.equal(held.filter((c) => c === 0).length, 3);
    assert.equal(held.filter((c) => c === 1).length, 2);
    assert.equal(held.filter((c) => c === 2 || c === -1).length, 0);
    assert.deepEqual([...train, ...heldOut].sort((a, b) => a - b), labels.map((_, i) => i));
    assert.equal(new Set([...train, ...heldOut]).size, labels.length);
  });

  test('deterministic, keyed by the pixels (not by position), and by the seed', () => {
    const a = heldOutSplit(ds);
    assert.deepEqual([...heldOutSplit(ds).heldOut], [...a.heldOut]);
    // The same images in reverse order: the same images are held out.
    const n = ds.count, vol = 12;
    const rev: Dataset = { ...ds, pixels: new Uint8Array(ds.pixels.length), labels: Int32Array.from(labels).reverse() };
    for (let i = 0; i < n; i++) rev.pixels.set(ds.pixels.subarray(i * vol, (i + 1) * vol), (n - 1 - i) * vol);
    assert.deepEqual([...heldOutSplit(rev).heldOut].map((i) => n - 1 - i).sort((x, y) => x - y), [...a.heldOut]);
    const other = heldOutSplit(ds, { seed: 7 });
    assert.notDeepEqual([...other.heldOut], [...a.heldOut], 'another seed picks other images');
    assert.equal(other.heldOut.length, a.heldOut.length);
  });

  test('no labels: everything trains', () => {
    const { labels: _l, ...plain } = ds;
    const s = heldOutSplit(plain);
    assert.equal(s.heldOut.length, 0);
    assert.equal(s.train.length, ds.count);
  });
});

// ---------------------------------------------------------------- accuracy rule

test('classificationAccuracy: argmax over the K real-class logits (the extra column is ignored), ties to the lower class', () => {
  // K = 2, three columns: the third (a "generated" logit) is the largest in rows 0 and 4 and must not count.
  const logits = Float32Array.from([
    2, 1, 9, // label 0 → 0 right
    0, 3, 0, // label 1 → 1 right
    5, 4, -1, // label 1 → 0 wrong
    1, 1, 0, // label 0 → tie → 0 right
    -2, -1, 0, // label 0 → 1 wrong
  ]);
  const r = classificationAccuracy(logits, [0, 1, 1, 0, 0], 2, 3);
  assert.equal(r.correct, 3);
  assert.equal(r.total, 5);
  assert.equal(r.accuracy, 0.6);
  assert.deepEqual(r.confusion, [[2, 1], [1, 1]]);
  assert.deepEqual(r.perClass, [2 / 3, 1 / 2]);
  assert.throws(() => classificationAccuracy(Float32Array.from([1, 2]), [2], 2), /label 2/);
  assert.throws(() => classificationAccuracy(Float32Array.from([1, 2, 3]), [0], 2), /3 logits/);
});

test('compare: wall time sums resumed segments; final losses are the debiased EMA', () => {
  const row = (step: number, time: number, d: number) => ({ step, epoch: 0, time, d_loss: d }) as MetricsRow;
  // A run killed after step 2 (2.0 s) and resumed: its clock restarts.
  assert.equal(wallTime([row(1, 1, 0), row(2, 2, 0), row(3, 0.5, 0), row(4, 1.5, 0)]), 3.5);
  assert.equal(wallTime([]), null);
  assert.equal(finalSmoothed([row(1, 1, 2), row(2, 2, 2)]).d_loss, 2, 'a constant stays itself (debiased)');
  const f = finalSmoothed([row(1, 1, 0), row(2, 2, 1)], 0.5).d_loss; // (0.5·0.5·0 + 0.5·1) / (0.5·0.5 + 0.5)
  assert.ok(Math.abs(f - 2 / 3) < 1e-12, String(f));
});

// ---------------------------------------------------------------- classify graph

/** The tiny DCGAN discriminator in inference mode (BN from running statistics), naively, from the state map. */
function naiveLogits(x: naive.Tensor, state: Map<string, Float32Array>, shapes: Map<string, number[]>): naive.Tensor {
  const t = (name: string) => naive.fromFloat32(state.get(name)!, shapes.get(name)!);
  let h = x;
  for (let l = 0; l < 4; l++) {
    const [b, e] = naive.samePads(h.shape[2]!, 5, 2);
    h = naive.conv2d(h, t(`d/conv2d_${l}/w`), { stride: [2, 2], pads: [b, b, e, e] }, t(`d/conv2d_${l}/b`));
    if (l > 0) {
      const bn = `d/batch_norm_${l - 1}`;
      const [rm, rv, g, bt] = ['running_mean', 'running_var', 'gamma', 'beta'].map((k) => state.get(`${bn}/${k}`)!);
      const [, C, H, W] = h.shape as number[];
      for (let i = 0; i < h.data.length; i++) {
        const c = Math.floor(i / (H * W)) % C;
        h.data[i] = ((h.data[i]! - rm[c]) / Math.sqrt(rv[c] + 1e-5)) * g[c] + bt[c];
      }
    }
    h = naive.leakyRelu(h, 0.2);
  }
  return naive.linear(naive.flatten(h), t('d/linear_0/w'), t('d/linear_0/b'));
}

describe('the classify graph', () => {
  let ssl: Compiled;
  before(async () => {
    ssl = compileGan(await loadModel(SSL));
  });

  test('only models with classes have one: x [B, C, H, W] → logits [B, K], reading D\'s parameters and BN statistics', async () => {
    const plain = compileGan(await loadModel(TINY));
    assert.deepEqual(plain.graphs.map((g) => g.name), ['d_step', 'g_step', 'generate']);
    assert.deepEqual(ssl.graphs.map((g) => g.name), ['d_step', 'g_step', 'generate', 'classify']);
    const e = ssl.manifest.graphs.classify;
    assert.deepEqual(e.inputs.filter((i) => i.role === 'data').map((i) => [i.name, i.shape]), [['x', [16, 3, 16, 16]]]);
    assert.deepEqual(e.outputs.map((o) => [o.name, o.shape, o.role]), [['logits', [16, 2], 'output']]);
    const roles = new Set(e.inputs.map((i) => i.role));
    assert.deepEqual([...roles].sort(), ['bn_state', 'data', 'param']);
    assert.ok(e.inputs.every((i) => i.role === 'data' || i.name.startsWith('d/')), 'only D\'s state');
    // Same state as the training graphs (no tensor of its own).
    const stateNames = new Set(ssl.manifest.state.map((s) => s.name));
    assert.ok(e.inputs.every((i) => i.role === 'data' || stateNames.has(i.name)));
  });

  test('its logits match a naive inference-mode D (BN from running statistics), with a partial last batch', async () => {
    const r = naive.rng(3);
    const state = new Map<string, Float32Array>();
    const shapes = new Map<string, number[]>();
    for (const s of ssl.manifest.state) {
      if (s.network !== 'd' || s.role === 'optimizer_state') continue;
      const n = s.shape.reduce((a, b) => a * b, 1);
      const fanIn = s.shape.length === 4 ? s.shape[1] * s.shape[2] * s.shape[3] : s.shape[0];
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const u = r() * 2 - 1;
        v[i] = s.name.endsWith('/w') ? (u * 1.7) / Math.sqrt(fanIn)
          : s.name.endsWith('running_var') ? 0.3 + 2 * r()
            : s.name.endsWith('gamma') ? 1 + 0.5 * u
              : 0.3 * u; // biases, beta, running_mean
      }
      state.set(s.name, v);
      shapes.set(s.name, s.shape);
    }
    const n = 20; // one full batch of 16 and a partial one
    const x = naive.uniform([n, 3, 16, 16], r);
    const images: ImageSet = { data: naive.toFloat32(x), n, h: 16, w: 16 };
    const got = await classifyImages(ssl, state, images, { threads: 1 });
    const want = naiveLogits(x, state, shapes);
    assert.equal(got.length, n * 2);
    const scale = Math.max(...Array.from(want.data, Math.abs));
    assert.ok(scale > 0.1, `logits too small to compare (${scale})`);
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i] - want.data[i]!) <= 1e-4 * scale + 1e-5, `logit ${i}: ${got[i]} vs naive ${want.data[i]}`);
    }
    // Inference mode: an image's logits do not depend on its batch (row 0 alone gives the same).
    const one = await classifyImages(ssl, state, { data: images.data.slice(0, 3 * 256), n: 1, h: 16, w: 16 }, { threads: 1 });
    assert.ok(Math.abs(one[0] - got[0]) < 1e-5 && Math.abs(one[1] - got[1]) < 1e-5);
  });
});

// ---------------------------------------------------------------- set metrics

describe('evaluateSets', () => {
  let real: ImageSet;
  before(async () => {
    const { logos, cache } = await logosFixture();
    const ds = await loadImageFolder(logos, { size: 16, cacheDir: cache });
    real = datasetImages(ds, Array.from({ length: ds.count }, (_, i) => i));
  });

  test('real images against themselves: SWD 0 at every level, equal MS-SSIM; against noise: far from 0', () => {
    const same = evaluateSets(real, real, { swdPatches: 32, pairs: 200 });
    assert.ok(same.swd.levels.length >= 1);
    for (const l of same.swd.levels) assert.ok(Math.abs(l.swd) < 1e-6, `SWD at ${l.resolution}px: ${l.swd}`);
    assert.equal(same.msssim.generated.mean, same.msssim.real.mean);
    const r = naive.rng(5);
    const noise: ImageSet = { ...real, data: Float32Array.from(real.data, () => r() * 2 - 1) };
    const far = evaluateSets(noise, real, { swdPatches: 32, pairs: 200 });
    assert.ok(far.swd.average > 50, `SWD(noise, logos) = ${far.swd.average}`);
    assert.ok(far.msssim.generated.mean < same.msssim.real.mean, 'noise pairs are less alike than logo pairs');
    for (const v of [far.msssim.generated.mean, far.msssim.real.mean]) assert.ok(v >= 0 && v <= 1);
  });
});

// ---------------------------------------------------------------- the CLI on real runs

describe('ganc eval / compare on two short runs', () => {
  let dcganRun: string, sslRun: string, sslRun0: string, outDir: string, logos: string, count: number, otherClasses: string;
  const res: Record<string, GancResult> = {};
  const evalArgs = ['-n', '48', '--swd-patches', '16', '--pairs', '200', '--threads', '1'];

  before(async () => {
    ({ logos, count } = await logosFixture());
    outDir = await tempDir('eval');
    dcganRun = join(outDir, 'dcgan-run');
    sslRun = join(outDir, 'ssl-run');
    sslRun0 = join(outDir, 'ssl-run-held-out-0');
    otherClasses = join(outDir, 'other-classes');
    await cp(join(logos, 'simple-icons'), join(otherClasses, 'a'), { recursive: true });
    await cp(join(logos, 'iconify-logos'), join(otherClasses, 'b'), { recursive: true });
    const common = ['--data', logos, '--steps', '20', '--threads', '1', '--sample-every', '10'];
    [res.trainA, res.trainB, res.trainB0] = await Promise.all([
      ganc(['run', TINY, ...common, '--out', dcganRun]),
      ganc(['run', SSL, ...common, '--out', sslRun]),
      ganc(['run', SSL, ...common, '--out', sslRun0, '--held-out', '0']),
    ]);
    for (const r of [res.trainA, res.trainB, res.trainB0]) assert.equal(r.code, 0, show(r));
    [res.evalA, res.evalB, res.export, res.evalB0, res.evalTest] = await Promise.all([
      ganc(['eval', dcganRun, ...evalArgs]),
      ganc(['eval', sslRun, ...evalArgs]),
      ganc(['export', dcganRun]),
      ganc(['eval', sslRun0, ...evalArgs]),
      ganc(['eval', sslRun0, '--test', logos, '--json', join(outDir, 'test-eval.json'), ...evalArgs]),
    ]);
    [res.evalOnnx, res.compare, res.testNoClasses, res.testOtherClasses] = await Promise.all([
      ganc(['eval', join(dcganRun, 'generator.onnx'), '--data', logos, ...evalArgs]),
      ganc(['compare', dcganRun, sslRun, '-o', join(outDir, 'cmp', 'report.html')]),
      ganc(['eval', dcganRun, '--test', logos, ...evalArgs]),
      ganc(['eval', sslRun0, '--test', otherClasses, ...evalArgs]),
    ]);
  });

  const readEval = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as EvalReport;

  test('ganc eval RUN writes RUN/eval.json: finite SWD per level, MS-SSIM in [0, 1], and prints the table', () => {
    assert.equal(res.evalA.code, 0, show(res.evalA));
    const r = readEval(join(dcganRun, 'eval.json'));
    assert.equal(r.model, 'tiny-dcgan');
    assert.equal(r.step, 20);
    assert.deepEqual(r.n, { generated: 48, real: 48 });
    assert.ok(r.swd.levels.length >= 1);
    for (const l of r.swd.levels) assert.ok(Number.isFinite(l.swd) && l.swd > 0, `SWD ${l.resolution}px = ${l.swd}`);
    assert.ok(Number.isFinite(r.swd.average));
    for (const m of [r.msssim.generated, r.msssim.real]) assert.ok(m.mean >= 0 && m.mean <= 1, `MS-SSIM ${m.mean}`);
    assert.equal(r.classification, undefined, 'no classes, no accuracy');
    assert.match(res.evalA.stdout, /SWD average \(×1e3\)\s+[\d.]+/);
    assert.match(res.evalA.stdout, /MS-SSIM generated\s+[\d.]+/);
    assert.match(res.evalA.stdout, /wrote .*eval\.json/);
  });

  test('the exported generator gives the same figures as its run (same noise, same images)', () => {
    assert.equal(res.export.code, 0, show(res.export));
    assert.equal(res.evalOnnx.code, 0, show(res.evalOnnx));
    const fromRun = readEval(join(dcganRun, 'eval.json'));
    const fromOnnx = readEval(join(dcganRun, 'generator.eval.json'));
    assert.equal(fromOnnx.model, 'tiny-dcgan');
    assert.equal(fromOnnx.step, 20);
    fromRun.swd.levels.forEach((l, i) => assert.ok(Math.abs(l.swd - fromOnnx.swd.levels[i].swd) < 1e-3 * l.swd, `${l.swd} vs ${fromOnnx.swd.levels[i].swd}`));
    assert.ok(Math.abs(fromRun.msssim.generated.mean - fromOnnx.msssim.generated.mean) < 1e-5);
  });

  test('a K+1 model: held-out accuracy of D on the labelled split', async () => {
    assert.equal(res.evalB.code, 0, show(res.evalB));
    const r = readEval(join(sslRun, 'eval.json'));
    const c = r.classification;
    assert.ok(c, 'classification in eval.json');
    const ds = await loadImageFolder(logos, { size: 16, labels: true, cacheDir: (await logosFixture()).cache });
    const split = heldOutSplit(ds);
    assert.ok(split.heldOut.length >= 4);
    assert.equal(c.total, split.heldOut.length);
    assert.equal(c.heldOut?.images, split.heldOut.length);
    assert.deepEqual(c.classes, ds.classes);
    assert.equal(c.accuracy, c.correct / c.total);
    assert.ok(c.accuracy >= 0 && c.accuracy <= 1);
    assert.equal(c.confusion.flat().reduce((a, b) => a + b, 0), c.total);
    assert.match(res.evalB.stdout, /accuracy \(held-out\)\s+[\d.]+\s+\d+\/\d+ images/);
    // Whether training left the split out is read from run.json (written by ganc run once it does).
    const saved = (JSON.parse(readFileSync(join(sslRun, 'run.json'), 'utf8')) as { heldOut?: { fraction?: number; seed?: number } }).heldOut;
    assert.equal(c.heldOut?.excludedFromTraining, saved?.fraction === HELD_OUT_FRACTION && saved?.seed === HELD_OUT_SEED);
  });

  test('--held-out 0: run.json records it, training used every labelled image, and eval has no held-out accuracy', () => {
    const saved = (JSON.parse(readFileSync(join(sslRun0, 'run.json'), 'utf8')) as { heldOut?: unknown }).heldOut;
    assert.deepEqual(saved, { fraction: 0, seed: HELD_OUT_SEED, images: 0 });
    assert.ok(!/held out for ganc eval/.test(res.trainB0.stderr), show(res.trainB0));
    assert.equal(res.evalB0.code, 0, show(res.evalB0));
    assert.equal(readEval(join(sslRun0, 'eval.json')).classification, undefined);
    assert.match(res.evalB0.stderr, /held no labelled images out \(--held-out 0\): no accuracy; pass --test DIR/);
  });

  test('eval --test DIR: accuracy on every image of a separate labelled folder, matching D on those images', async () => {
    assert.equal(res.evalTest.code, 0, show(res.evalTest));
    const c = readEval(join(outDir, 'test-eval.json')).classification;
    assert.ok(c, 'classification in the report');
    assert.equal(c.heldOut, undefined);
    assert.deepEqual(c.test, { folder: logos, images: count });
    assert.equal(c.total, count);
    assert.equal(c.accuracy, c.correct / c.total);
    assert.deepEqual(c.classes, ['iconify-logos', 'simple-icons']);
    assert.match(res.evalTest.stdout, new RegExp(`accuracy \\(test\\)\\s+[\\d.]+\\s+${c.correct}/${count} images of ${logos}`));
    // The same figure from the run's checkpoint through the classify graph directly.
    const model = compileGan(await loadModel(SSL));
    const { tensors } = readCheckpoint(join(sslRun0, 'checkpoint.bin'));
    const state = new Map([...tensors].map(([k, t]) => [k, t.data as Float32Array]));
    const ds = await loadImageFolder(logos, { size: 16, labels: true, cacheDir: (await logosFixture()).cache });
    const all = Array.from({ length: ds.count }, (_, i) => i);
    const direct = classificationAccuracy(await classifyImages(model, state, datasetImages(ds, all), { threads: 1 }), ds.labels!, 2);
    assert.deepEqual(direct.confusion, c.confusion);
  });

  test('eval --test: one-line errors for a model without classes and for a folder with other classes', () => {
    for (const [r, what] of [[res.testNoClasses, /^error: .*dcgan-run: --test: model tiny-dcgan has no classes/m], [res.testOtherClasses, /^error: .*other-classes: its classes \(a, b\) are not the training data's \(iconify-logos, simple-icons\)/m]] as const) {
      assert.equal(r.code, 1, show(r));
      assert.match(r.stderr, what);
      assert.equal(lines(r.stderr).filter((l) => l.startsWith('error')).length, 1, show(r));
    }
  });

  test('ganc compare: an HTML report naming both runs, with its images beside it, and the table as text', () => {
    assert.equal(res.compare.code, 0, show(res.compare));
    const file = join(outDir, 'cmp', 'report.html');
    const html = readFileSync(file, 'utf8');
    for (const name of ['dcgan-run', 'ssl-run', 'tiny-dcgan', 'tiny-ssl']) assert.ok(html.includes(name), `report names ${name}`);
    const srcs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => decodeURI(m[1]));
    const shared = srcs.filter((s) => s.startsWith('report-all-'));
    assert.equal(srcs.length - shared.length, 4, 'a sample grid and a loss curve per run');
    assert.ok(shared.includes('report-all-d_loss.png') && shared.includes('report-all-g_loss.png'), `a chart of every run per loss: ${shared}`);
    for (const s of srcs) {
      assert.ok(!s.startsWith('/') && !s.includes('..'), `relative path ${s}`);
      assert.ok(existsSync(join(dirname(file), s)), `${s} exists`);
    }
    const swd = readEval(join(dcganRun, 'eval.json')).swd.average.toFixed(2);
    assert.ok(html.includes(swd), 'the eval SWD is in the report');
    const out = res.compare.stdout;
    assert.match(out, /^run\s+model\s+steps\s+wall\s+d_loss\s+g_loss\s+SWD avg/m);
    assert.match(out, /^dcgan-run\s+tiny-dcgan\s+20\s/m);
    assert.match(out, /^ssl-run\s+tiny-ssl\s+20\s/m);
    assert.ok(out.includes(swd));
  });

  test('a missing source is a one-line error', async () => {
    const r = await ganc(['eval', join(outDir, 'nope')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*nope.*no such run folder or generator file/m);
    assert.equal(r.stderr.trim().split('\n').length, 1, show(r));
  });
});
