/**
 * `ganc data fashion-mnist` on the real files of Debian's dataset-fashion-mnist (skipped, saying so, where the package
 * is not installed; .ci/run installs it): the first 300 training and 300 test images with 3 labels per class, checked
 * against the IDX files decoded here independently — counts, file names, pixels, labels, the labelled subset (3 per
 * class, deterministic, recorded) — and the folder as the loader reads it (labelled + _unlabelled, grey, 28 → 32 px).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Jimp } from 'jimp';
import { chooseLabelled, FASHION_MNIST_SOURCE, MANIFEST, type FashionMnistManifest } from '../src/runtime/data/fashion_mnist.ts';
import { batchToFloat, loadImageFolder, unlabelledCount } from '../src/runtime/data/images.ts';
import { ganc, lines, logosFixture, show, tempDir, type GancResult } from './helpers/logos_fixture.ts';

const INSTALLED = existsSync(join(FASHION_MNIST_SOURCE, 'train-images-idx3-ubyte.gz'));
const SKIP = INSTALLED ? false : `${FASHION_MNIST_SOURCE} is missing (Debian: apt-get install dataset-fashion-mnist)`;
const CLASSES = ['0_t-shirt_top', '1_trouser', '2_pullover', '3_dress', '4_coat', '5_sandal', '6_shirt', '7_sneaker', '8_bag', '9_ankle_boot'];
const N_TRAIN = 300, N_TEST = 300, PER_CLASS = 3; // --limit 300: the first 300 of each split

/** The IDX file decoded here, by the format's definition (header of big-endian u32s after the magic 0 0 8 ndim). */
function idx(name: string): { dims: number[]; data: Buffer } {
  const b = gunzipSync(readFileSync(join(FASHION_MNIST_SOURCE, name)));
  assert.deepEqual([b[0], b[1], b[2]], [0, 0, 8]);
  const dims = Array.from({ length: b[3] }, (_, i) => b.readUInt32BE(4 + 4 * i));
  return { dims, data: b.subarray(4 + 4 * b[3]) };
}

const files = async (dir: string) => (await readdir(dir)).sort();

describe('ganc data fashion-mnist on the package\'s files', { skip: SKIP }, () => {
  let out: string, other: string;
  let trainImages: Buffer, trainLabels: Buffer, testImages: Buffer, testLabels: Buffer;
  const res: Record<string, GancResult> = {};
  const args = (dir: string, seed = 0) => ['data', 'fashion-mnist', '-o', dir, '--limit', String(N_TRAIN), '--labels-per-class', String(PER_CLASS), '--seed', String(seed)];

  before(async () => {
    const root = await tempDir('fmnist');
    out = join(root, 'fm');
    other = join(root, 'fm-seed1');
    [res.build, res.seed1] = await Promise.all([ganc(args(out)), ganc(args(other, 1))]);
    [res.again, res.conflict] = await Promise.all([ganc(args(out)), ganc(args(out, 2))]);
    const train = idx('train-images-idx3-ubyte.gz');
    assert.deepEqual(train.dims, [60000, 28, 28]);
    trainImages = train.data;
    trainLabels = idx('train-labels-idx1-ubyte.gz').data;
    const test = idx('t10k-images-idx3-ubyte.gz');
    assert.deepEqual(test.dims, [10000, 28, 28]);
    testImages = test.data;
    testLabels = idx('t10k-labels-idx1-ubyte.gz').data;
  });

  test('counts and names: 3 labelled per class, the other 270 training images in _unlabelled/, 300 test images by class', async () => {
    assert.equal(res.build.code, 0, show(res.build));
    assert.match(res.build.stdout, /train\/ 30 labelled \(3 per class, seed 0; listed in fashion-mnist\.json\) \+ 270 in _unlabelled\/, test\/ 300/);
    assert.deepEqual(await files(join(out, 'train')), [...CLASSES, '_unlabelled']);
    const seen: number[] = [];
    for (const [k, c] of CLASSES.entries()) {
      const names = await files(join(out, 'train', c));
      assert.equal(names.length, PER_CLASS, c);
      for (const n of names) {
        const i = Number(n.slice(0, 5));
        assert.match(n, /^\d{5}\.png$/);
        assert.equal(trainLabels[i], k, `train/${c}/${n} has IDX label ${trainLabels[i]}`);
        seen.push(i);
      }
    }
    for (const n of await files(join(out, 'train', '_unlabelled'))) seen.push(Number(n.slice(0, 5)));
    assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: N_TRAIN }, (_, i) => i), 'each of the first 300 training images once');
    let tests = 0;
    for (const [k, c] of CLASSES.entries()) {
      const names = await files(join(out, 'test', c));
      for (const n of names) assert.equal(testLabels[Number(n.slice(0, 5))], k, `test/${c}/${n}`);
      assert.equal(names.length, [...testLabels.subarray(0, N_TEST)].filter((l) => l === k).length, c);
      tests += names.length;
    }
    assert.equal(tests, N_TEST);
  });

  test('pixels: the PNGs are the IDX images exactly (grey, 28×28)', async () => {
    const check = async (file: string, images: Buffer, i: number) => {
      const { width, height, data } = (await Jimp.read(file)).bitmap;
      assert.deepEqual([width, height], [28, 28]);
      for (let p = 0; p < 784; p++) {
        const want = images[i * 784 + p];
        assert.deepEqual([data[4 * p], data[4 * p + 1], data[4 * p + 2]], [want, want, want], `${file} pixel ${p}`);
      }
    };
    const where = (split: 'train' | 'test', i: number, labels: Buffer) => {
      const name = `${String(i).padStart(5, '0')}.png`;
      const labelled = join(out, split, CLASSES[labels[i]], name);
      return existsSync(labelled) ? labelled : join(out, split, '_unlabelled', name);
    };
    for (const i of [0, 1, 137, N_TRAIN - 1]) await check(where('train', i, trainLabels), trainImages, i);
    for (const i of [0, 77, N_TEST - 1]) await check(where('test', i, testLabels), testImages, i);
  });

  test('the labelled subset: recorded in fashion-mnist.json, deterministic for a seed, another for another seed', async () => {
    const m = JSON.parse(readFileSync(join(out, MANIFEST), 'utf8')) as FashionMnistManifest;
    assert.deepEqual([m.labelsPerClass, m.seed, m.limit, m.classes], [PER_CLASS, 0, N_TRAIN, CLASSES]);
    assert.deepEqual(m.counts, { labelled: 30, unlabelled: 270, test: N_TEST });
    for (const [k, c] of CLASSES.entries()) {
      assert.deepEqual(m.labelled[k], (await files(join(out, 'train', c))).map((n) => Number(n.slice(0, 5))));
    }
    assert.deepEqual(m.labelled, chooseLabelled(new Uint8Array(trainLabels.subarray(0, N_TRAIN)), PER_CLASS, 0));
    assert.equal(res.seed1.code, 0, show(res.seed1));
    const m1 = JSON.parse(readFileSync(join(other, MANIFEST), 'utf8')) as FashionMnistManifest;
    assert.notDeepEqual(m1.labelled, m.labelled);
    assert.deepEqual(m1.labelled.map((l) => l.length), Array(10).fill(PER_CLASS));
    // The same options again: the folder is reused as it is; other options: refused, folder untouched.
    assert.equal(res.again.code, 0, show(res.again));
    assert.match(res.again.stdout, /^already there: /);
    assert.equal(res.conflict.code, 1, show(res.conflict));
    assert.match(lines(res.conflict.stderr).at(-1)!, /^error: .*fm: holds Fashion-MNIST written with other options \(seed 0\); choose another -o/);
    assert.deepEqual(JSON.parse(readFileSync(join(out, MANIFEST), 'utf8')), m);
  });

  test('the loader: 30 labelled + 270 unlabelled, 10 classes in label order, 28 px grey resized to 32, 1 channel', async () => {
    const { cache } = await logosFixture();
    const ds = await loadImageFolder(join(out, 'train'), { size: 32, labels: true, cacheDir: cache });
    assert.deepEqual([ds.count, unlabelledCount(ds), ds.size], [N_TRAIN, 270, 32]);
    assert.deepEqual(ds.classes, CLASSES);
    for (let k = 0; k < 10; k++) assert.equal([...ds.labels!].filter((l) => l === k).length, PER_CLASS);
    // Image 0 of train/0_t-shirt_top: background corners stay -1 (0), the garment is bright, 1 channel = its grey.
    const first = ds.labels!.indexOf(0);
    const x = new Float32Array(32 * 32);
    batchToFloat(ds, [first], x, 1);
    for (const p of [0, 31, 32 * 31, 32 * 32 - 1]) assert.equal(x[p], -1);
    assert.ok(Math.max(...x) > 0, 'the garment is brighter than mid-grey somewhere');
    const plane = 32 * 32, at = first * 3 * plane;
    for (let p = 0; p < plane; p++) assert.equal(x[p], Math.fround(ds.pixels[at + p] / 127.5 - 1));
    const test = await loadImageFolder(join(out, 'test'), { size: 32, labels: true, cacheDir: cache });
    assert.deepEqual([test.count, unlabelledCount(test)], [N_TEST, 0]);
    assert.deepEqual(test.classes, CLASSES);
  });
});

test('ganc data fashion-mnist without the files: one error line naming the file and the Debian package', async () => {
  const dir = await tempDir('fmnist-missing');
  const r = await ganc(['data', 'fashion-mnist', '-o', join(dir, 'out'), '--source', join(dir, 'none')]);
  assert.equal(r.code, 1, show(r));
  const err = lines(r.stderr).filter((l) => l.startsWith('error'));
  assert.deepEqual(err, [`error: ${join(dir, 'none', 'train-images-idx3-ubyte.gz')}: Fashion-MNIST is not here (Debian: apt-get install dataset-fashion-mnist)`]);
  assert.ok(!existsSync(join(dir, 'out')), 'nothing written');
});
