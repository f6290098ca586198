/**
 * Fashion-MNIST (Xiao et al. 2017; Debian's `dataset-fashion-mnist` installs its IDX files) as a labelled image
 * folder for semi-supervised training, which loadImageFolder reads like any other:
 *
 *   train/<k>_<class>/NNNNN.png   N labelled images per class, chosen with a seed (recorded in fashion-mnist.json)
 *   train/_unlabelled/NNNNN.png   every other training image, without its label
 *   test/<k>_<class>/NNNNN.png    the test images (10,000), all labelled
 *
 * NNNNN is the image's index in its IDX file; the images stay 28×28 grey PNGs (the loader resizes them to the model's
 * size). Class folders are prefixed with the Fashion-MNIST label so that their sorted order is the label order.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Jimp } from 'jimp';
import { GancError } from '../../errors.ts';
import { Rng } from '../../random.ts';
import { removeAbandoned, writeFileAtomic } from './cache.ts';
import { UNLABELLED_FOLDER } from './images.ts';

/** Where Debian's dataset-fashion-mnist puts the files. */
export const FASHION_MNIST_SOURCE = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = ['t-shirt_top', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle_boot'];
export const classFolder = (k: number) => `${k}_${FASHION_MNIST_CLASSES[k]}`;
/** The manifest: options, source files, the labelled indices. Written last, so a folder that has it is complete. */
export const MANIFEST = 'fashion-mnist.json';

// ---------------------------------------------------------------- IDX files

export interface Idx {
  dims: number[];
  data: Uint8Array;
}

/** An IDX file of unsigned bytes (gzipped or not): magic 0 0 0x08 ndim, ndim big-endian u32 sizes, the bytes. */
export async function readIdx(file: string): Promise<Idx> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
    if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  } catch (e) {
    throw new GancError(`cannot read: ${(e as Error).message.split('\n')[0]}`, { file });
  }
  const ndim = buf[3];
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08 || ndim < 1 || buf.length < 4 + 4 * ndim) {
    throw new GancError('not an IDX file of unsigned bytes (magic 00 00 08 ndim)', { file });
  }
  const dims = Array.from({ length: ndim }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const start = 4 + 4 * ndim;
  const size = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== start + size) throw new GancError(`IDX sizes [${dims}] need ${size} bytes of data, the file has ${buf.length - start}`, { file });
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + start, size) };
}

export interface FashionMnistSplit {
  count: number;
  rows: number;
  cols: number;
  /** count × rows × cols grey values, 0 = background. */
  images: Uint8Array;
  labels: Uint8Array;
}

/** One split ('train' or 't10k') of the IDX files in `dir`. */
export async function readFashionMnist(dir: string, split: 'train' | 't10k'): Promise<FashionMnistSplit> {
  const imgFile = join(dir, `${split}-images-idx3-ubyte.gz`);
  const lblFile = join(dir, `${split}-labels-idx1-ubyte.gz`);
  for (const f of [imgFile, lblFile]) {
    if (!existsSync(f)) throw new GancError('Fashion-MNIST is not here (Debian: apt-get install dataset-fashion-mnist)', { file: f });
  }
  const img = await readIdx(imgFile);
  const lbl = await readIdx(lblFile);
  if (img.dims.length !== 3) throw new GancError(`expected images [N, rows, cols], got [${img.dims}]`, { file: imgFile });
  if (lbl.dims.length !== 1 || lbl.dims[0] !== img.dims[0]) throw new GancError(`expected ${img.dims[0]} labels, got [${lbl.dims}]`, { file: lblFile });
  const bad = lbl.data.findIndex((l) => l >= FASHION_MNIST_CLASSES.length);
  if (bad >= 0) throw new GancError(`label ${lbl.data[bad]} of image ${bad} is not a class 0..9`, { file: lblFile });
  return { count: img.dims[0], rows: img.dims[1], cols: img.dims[2], images: img.data, labels: lbl.data };
}

// ---------------------------------------------------------------- the labelled subset

/**
 * `perClass` indices of each class (ascending within a class): the first of a seeded shuffle of that class's images.
 * Depends only on the labels, the seed and perClass.
 */
export function chooseLabelled(labels: Uint8Array, perClass: number, seed: number, classes = FASHION_MNIST_CLASSES.length): number[][] {
  return Array.from({ length: classes }, (_, k) => {
    const of = Uint32Array.from(labels.keys()).filter((i) => labels[i] === k);
    if (of.length < perClass) throw new GancError(`class ${classFolder(k)} has ${of.length} training images, fewer than --labels-per-class ${perClass}`);
    const picked = new Rng(`fashion-mnist/labelled/${seed}/${k}`).shuffle(of).subarray(0, perClass);
    return [...picked].sort((a, b) => a - b);
  });
}

// ---------------------------------------------------------------- the folder

export interface FashionMnistOptions {
  /** Labelled training images per class (default 10: 100 labels). */
  labelsPerClass?: number;
  seed?: number;
  /** Only the first N training and the first N test images (for tests). */
  limit?: number;
  /** Folder of the IDX files (default FASHION_MNIST_SOURCE). */
  source?: string;
  onProgress?: (done: number, total: number) => void;
}

export interface FashionMnistManifest {
  format: 'ganc-fashion-mnist/1';
  source: string;
  labelsPerClass: number;
  seed: number;
  limit: number | null;
  /** Class folder names, in label order. */
  classes: string[];
  /** Indices (into the training IDX file) of the labelled images, per class. */
  labelled: number[][];
  counts: { labelled: number; unlabelled: number; test: number };
  size: { rows: number; cols: number };
}

export interface FashionMnistBuild {
  dir: string;
  manifest: FashionMnistManifest;
  /** True when the folder was already there, built with the same options. */
  reused: boolean;
}

/** Files written at a time: encoding is synchronous work, the writes overlap. */
const WRITE_WINDOW = 64;

/**
 * Writes the folder `out` (see the top of this file). Built in a `.partial-PID` sibling and renamed into place, so an
 * interrupted build leaves nothing that looks finished. An existing `out` is reused when it was built with the same
 * options and is otherwise left alone (an error).
 */
export async function buildFashionMnist(out: string, opts: FashionMnistOptions = {}): Promise<FashionMnistBuild> {
  const dir = resolve(out);
  const labelsPerClass = opts.labelsPerClass ?? 10;
  const seed = opts.seed ?? 0;
  const source = resolve(opts.source ?? FASHION_MNIST_SOURCE);
  const wanted = { source, labelsPerClass, seed, limit: opts.limit ?? null };
  if (existsSync(dir)) return { dir, manifest: await existing(dir, wanted), reused: true };

  const [train, test] = [await readFashionMnist(source, 'train'), await readFashionMnist(source, 't10k')];
  const nTrain = Math.min(train.count, opts.limit ?? Infinity);
  const nTest = Math.min(test.count, opts.limit ?? Infinity);
  const labelled = chooseLabelled(train.labels.subarray(0, nTrain), labelsPerClass, seed);
  const classOf = new Map(labelled.flatMap((idx, k) => idx.map((i) => [i, k] as const)));

  const files: { path: string; split: FashionMnistSplit; i: number }[] = [];
  const name = (i: number) => `${String(i).padStart(5, '0')}.png`;
  for (let i = 0; i < nTrain; i++) {
    const k = classOf.get(i);
    files.push({ path: join('train', k === undefined ? UNLABELLED_FOLDER : classFolder(k), name(i)), split: train, i });
  }
  for (let i = 0; i < nTest; i++) files.push({ path: join('test', classFolder(test.labels[i]), name(i)), split: test, i });

  await mkdir(dirname(dir), { recursive: true });
  await removeAbandoned(dirname(dir), basename(dir));
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    for (const d of new Set(files.map((f) => dirname(f.path)))) await mkdir(join(tmp, d), { recursive: true });
    for (let w = 0; w < files.length; w += WRITE_WINDOW) {
      const window = files.slice(w, w + WRITE_WINDOW);
      await Promise.all(window.map(async (f) => writeFile(join(tmp, f.path), await greyPng(f.split, f.i))));
      opts.onProgress?.(w + window.length, files.length);
    }
    const manifest: FashionMnistManifest = {
      format: 'ganc-fashion-mnist/1', ...wanted, classes: FASHION_MNIST_CLASSES.map((_, k) => classFolder(k)), labelled,
      counts: { labelled: classOf.size, unlabelled: nTrain - classOf.size, test: nTest }, size: { rows: train.rows, cols: train.cols },
    };
    // One line per list of numbers, so the file reads as a table of the labelled indices.
    const json = JSON.stringify(manifest, null, 2).replace(/\[\s+([\d,\s]+?)\s+\]/g, (_, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`);
    await writeFileAtomic(join(tmp, MANIFEST), json + '\n');
    await rename(tmp, dir);
    return { dir, manifest, reused: false };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    if (existsSync(join(dir, MANIFEST))) return { dir, manifest: await existing(dir, wanted), reused: true }; // another process won
    throw e;
  }
}

/** A finished folder built with these options, or an error that leaves the folder as it is. */
async function existing(dir: string, wanted: Pick<FashionMnistManifest, 'source' | 'labelsPerClass' | 'seed' | 'limit'>): Promise<FashionMnistManifest> {
  let m: FashionMnistManifest | undefined;
  try {
    m = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8'));
  } catch {
    m = undefined;
  }
  if (m?.format !== 'ganc-fashion-mnist/1') throw new GancError(`exists and is not a Fashion-MNIST folder written by ganc (no ${MANIFEST}); choose another -o`, { file: dir });
  const differs = (Object.keys(wanted) as (keyof typeof wanted)[]).filter((k) => m[k] !== wanted[k]);
  if (differs.length) {
    throw new GancError(`holds Fashion-MNIST written with other options (${differs.map((k) => `${k} ${m[k]}`).join(', ')}); choose another -o or delete it`, { file: dir });
  }
  return m;
}

/** Image i of a split as an 8-bit grey PNG. */
async function greyPng(s: FashionMnistSplit, i: number): Promise<Buffer> {
  const plane = s.rows * s.cols;
  const rgba = Buffer.alloc(plane * 4);
  for (let p = 0; p < plane; p++) {
    const v = s.images[i * plane + p];
    rgba[4 * p] = rgba[4 * p + 1] = rgba[4 * p + 2] = v;
    rgba[4 * p + 3] = 255;
  }
  // colorType 0: one grey byte per pixel in the file (jimp reads it back as R = G = B).
  return Jimp.fromBitmap({ width: s.cols, height: s.rows, data: rgba }).getBuffer('image/png', { colorType: 0 });
}
