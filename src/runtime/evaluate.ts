/**
 * Numbers instead of eyeballing (`ganc eval`): sliced Wasserstein distance between generated and real images, MS-SSIM
 * diversity of generated pairs beside the same figure for real pairs, and — for models with `classes` — D's
 * classification accuracy on a held-out labelled split.
 *
 * The held-out split lives here so that training (which must leave those images out) and evaluation share one
 * definition: `heldOutSplit`.
 */
import ort from 'onnxruntime-node';
import type { Compiled } from '../compiler/compile.ts';
import { toOnnx } from '../compiler/onnx.ts';
import { GancError } from '../errors.ts';
import { Rng } from '../random.ts';
import { batchToFloat, type Dataset, imageChannels } from './data/images.ts';
import { msssimDiversity, type DiversityResult } from './metrics/msssim.ts';
import { slicedWasserstein, type ImageSet, type SwdResult } from './metrics/swd.ts';
import { createSession, type SessionOptions } from './ort.ts';
import { sampleNoise } from './batches.ts';
import type { GeneratorInfo } from './onnx_meta.ts';

// ---------------------------------------------------------------- defaults

/** Images per side (generated and real). */
export const DEFAULT_EVAL_N = 1000;
/**
 * 7×7 patches per image and pyramid level for SWD. ProGAN uses 128 (with 16,384 images); 64 halves the time
 * (1,000 64×64 images per side: about 20 s instead of 40 s on one core) and still gives 64,000 descriptors per level.
 */
export const DEFAULT_SWD_PATCHES = 64;
/** Random pairs for MS-SSIM diversity (per set). */
export const DEFAULT_MSSSIM_PAIRS = 1000;
/** The held-out labelled split: this fraction of each class, chosen by a seeded hash of the image's pixels. */
export { HELD_OUT_FRACTION, HELD_OUT_SEED, heldOutSplit, type Split, type SplitOptions } from './data/split.ts';

// ---------------------------------------------------------------- image sets

/** Images at `indices` of a data set as an ImageSet in [-1, 1], as a model with `channels` sees them (1: grey, then
 * repeated to 3 channels like generated grey images, so that both sides of a metric are alike). */
export function datasetImages(data: Dataset, indices: ArrayLike<number>, channels: number = 3): ImageSet {
  const c = imageChannels(channels, 'evaluation');
  const out = new Float32Array(indices.length * c * data.size * data.size);
  batchToFloat(data, indices, out, c);
  return toRgbSet(out, indices.length, c, data.size, data.size);
}

/** A seeded random subset of `n` distinct indices out of `from` (all of them, shuffled, when n ≥ from.length). */
export function seededSubset(from: ArrayLike<number>, n: number, seed: number | string): Uint32Array {
  const perm = new Rng(`${seed}/eval/real`).shuffle(Uint32Array.from(from));
  return perm.subarray(0, Math.min(n, perm.length));
}

/** 1- or 3-channel NCHW images as a 3-channel ImageSet (grey repeated), as the metrics need. */
export function toRgbSet(data: Float32Array, n: number, channels: number, h: number, w: number): ImageSet {
  if (channels === 3) return { data, n, h, w };
  if (channels !== 1) throw new GancError(`the metrics need 1- or 3-channel images, got ${channels} channels`);
  const out = new Float32Array(n * 3 * h * w);
  const plane = h * w;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out.set(data.subarray(i * plane, (i + 1) * plane), (i * 3 + c) * plane);
  return { data: out, n, h, w };
}

export type { GeneratorInfo } from './onnx_meta.ts';

/**
 * `n` images from a generator session (z [N, zdim] → image [N, C, H, W], any N: an exported generator), in batches
 * of `batch`; the noise is seeded (`<seed>/eval`), so the same seed gives the same images.
 */
export async function generateImages(session: ort.InferenceSession, info: GeneratorInfo, n: number, seed: number, batch = 64): Promise<ImageSet> {
  const { zSize, zDist, channels, size } = info;
  const z = sampleNoise(new Rng(`${seed}/eval`), n * zSize, zDist);
  const vol = channels * size * size;
  const out = new Float32Array(n * vol);
  for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    const r = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', z.subarray(start * zSize, (start + m) * zSize), [m, zSize]) });
    const img = r[session.outputNames[0]];
    const dims = img.dims as readonly number[];
    if (dims.join() !== [m, channels, size, size].join()) {
      throw new GancError(`the generator made images of shape [${dims}], expected [${[m, channels, size, size]}]`);
    }
    out.set(img.data as Float32Array, start * vol);
  }
  return toRgbSet(out, n, channels, size, size);
}

// ---------------------------------------------------------------- set metrics

export interface SetsOptions {
  seed?: number;
  swdPatches?: number;
  pairs?: number;
}

export interface SetsEvaluation {
  /** Per level (finest first) and average, ×1e3, as ProGAN reports it. */
  swd: SwdResult & { patchesPerImage: number; dirsPerRepeat: number; repeats: number };
  /** Mean MS-SSIM over random pairs within each set: lower = more diverse. */
  msssim: { generated: DiversityResult; real: DiversityResult };
  seconds: { swd: number; msssim: number };
}

/** SWD between the sets and MS-SSIM diversity of each: everything `ganc eval` measures on images. */
export function evaluateSets(gen: ImageSet, real: ImageSet, opts: SetsOptions = {}): SetsEvaluation {
  const seed = opts.seed ?? 0;
  const patchesPerImage = opts.swdPatches ?? DEFAULT_SWD_PATCHES;
  const pairs = opts.pairs ?? DEFAULT_MSSSIM_PAIRS;
  const dirsPerRepeat = 128, repeats = 4;
  let t = performance.now();
  const swd = slicedWasserstein(gen, real, { seed, patchesPerImage, dirsPerRepeat, repeats });
  const tSwd = (performance.now() - t) / 1000;
  t = performance.now();
  const msssim = { generated: msssimDiversity(gen, { pairs, seed }), real: msssimDiversity(real, { pairs, seed }) };
  const tMs = (performance.now() - t) / 1000;
  return { swd: { ...swd, patchesPerImage, dirsPerRepeat, repeats }, msssim, seconds: { swd: tSwd, msssim: tMs } };
}

// ---------------------------------------------------------------- classification

export interface Accuracy {
  accuracy: number;
  correct: number;
  total: number;
  /** Accuracy per class (NaN for a class with no images). */
  perClass: number[];
  /** confusion[true][predicted]. */
  confusion: number[][];
}

/**
 * Accuracy of logits [N, cols] against class labels: the prediction is the argmax over the first K columns (the K
 * real classes of a K+1 model; its fixed zero "generated" logit is not a candidate). Ties go to the lower class.
 */
export function classificationAccuracy(logits: Float32Array, labels: ArrayLike<number>, k: number, cols = k): Accuracy {
  const n = labels.length;
  if (!(Number.isInteger(k) && k >= 1 && cols >= k)) throw new RangeError(`classificationAccuracy: need 1 ≤ K ≤ cols, got K ${k}, cols ${cols}`);
  if (logits.length !== n * cols) throw new RangeError(`classificationAccuracy: ${logits.length} logits for ${n} labels × ${cols} columns`);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < k)) throw new RangeError(`classificationAccuracy: label ${y} of row ${i} is not a class 0..${k - 1}`);
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[i * cols + c] > logits[i * cols + best]) best = c;
    confusion[y][best]++;
    if (best === y) correct++;
  }
  const perClass = confusion.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total ? row[c] / total : NaN;
  });
  return { accuracy: n ? correct / n : NaN, correct, total: n, perClass, confusion };
}

/**
 * D's class logits [N, K] for images [N, 3, H, W] through the compiled `classify` graph with the given state
 * (parameters and BN running statistics, e.g. a checkpoint). The graph's batch is the model's; a last partial batch is
 * filled up with images from the start of the set and the extra rows are dropped.
 */
export async function classifyImages(c: Compiled, state: ReadonlyMap<string, Float32Array>, images: ImageSet, opts: SessionOptions = {}): Promise<Float32Array> {
  const graph = c.graphs.find((g) => g.name === 'classify');
  const entry = c.manifest.graphs.classify;
  if (!graph || !entry) throw new GancError(`model ${c.def.name} has no classify graph (only models with \`classes\` have one)`);
  const { batch: B, image } = c.def;
  if (image.channels !== 3 && image.channels !== 1) throw new GancError(`classify: ${image.channels}-channel models are not supported`);
  if (images.h !== image.size || images.w !== image.size) throw new GancError(`classify: images are ${images.h}×${images.w}, the model takes ${image.size}×${image.size}`);
  if (images.n < 1) throw new GancError('classify: no images');
  const K = entry.outputs[0].shape[1];
  const session = await createSession(toOnnx(graph), opts);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const i of entry.inputs) {
      if (i.role === 'data') continue;
      const data = state.get(i.name);
      if (!data) throw new GancError(`the checkpoint has no ${i.name}`);
      feeds[i.name] = new ort.Tensor('float32', data, i.shape);
    }
    const plane = image.size * image.size;
    const vol = image.channels * plane;
    const x = new Float32Array(B * vol);
    const out = new Float32Array(images.n * K);
    for (let start = 0; start < images.n; start += B) {
      for (let j = 0; j < B; j++) {
        const src = (start + j) % images.n;
        // 3-channel sets into a 1-channel model: the first channel (the sets are grey repeated).
        for (let ch = 0; ch < image.channels; ch++) x.set(images.data.subarray((src * 3 + ch) * plane, (src * 3 + ch + 1) * plane), j * vol + ch * plane);
      }
      const r = await session.run({ ...feeds, x: new ort.Tensor('float32', x, [B, image.channels, image.size, image.size]) });
      const logits = r.logits.data as Float32Array;
      const m = Math.min(B, images.n - start);
      out.set(logits.subarray(0, m * K), start * K);
    }
    return out;
  } finally {
    await session.release();
  }
}

// ---------------------------------------------------------------- the whole evaluation

export interface EvalReport {
  format: 'ganc-eval/1';
  /** What was evaluated: a run folder or a generator file. */
  source: string;
  model: string;
  step: number | null;
  /** For models that keep a moving average of G's weights: which weights were evaluated. */
  weights?: 'ema' | 'raw';
  /** The real images' folder. */
  data: string;
  size: number;
  /** Images per side. */
  n: { generated: number; real: number };
  seed: number;
  swd: SetsEvaluation['swd'];
  msssim: SetsEvaluation['msssim'];
  classification?: Accuracy & {
    classes: string[];
    /** What was scored: the held-out split of the training data (excludedFromTraining: whether the run's run.json
     * records that training left it out, see heldOutSplit), or every labelled image of a separate folder (--test). */
    heldOut?: { fraction: number; seed: number; images: number; excludedFromTraining: boolean };
    test?: { folder: string; images: number };
  };
  seconds: { generate: number; swd: number; msssim: number; classify?: number; total: number };
  time: string;
}

const fmt = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** The table `ganc eval` prints. */
export function formatEval(r: EvalReport): string {
  const rows: [string, string, string][] = [];
  for (const l of r.swd.levels) rows.push([`SWD ${l.resolution}×${l.resolution} (×1e3)`, fmt(l.swd, 2), '']);
  rows.push(['SWD average (×1e3)', fmt(r.swd.average, 2), 'lower = closer to the real images']);
  rows.push(['MS-SSIM generated', fmt(r.msssim.generated.mean, 4), `± ${fmt(r.msssim.generated.std, 4)} over ${r.msssim.generated.pairs} pairs; lower = more diverse`]);
  rows.push(['MS-SSIM real', fmt(r.msssim.real.mean, 4), `± ${fmt(r.msssim.real.std, 4)} over ${r.msssim.real.pairs} pairs; generated far above it: mode collapse`]);
  const c = r.classification;
  if (c) {
    if (c.test) rows.push(['accuracy (test)', fmt(c.accuracy, 4), `${c.correct}/${c.total} images of ${c.test.folder}`]);
    else if (c.heldOut) {
      rows.push(['accuracy (held-out)', fmt(c.accuracy, 4), `${c.correct}/${c.total} images, ${+(c.heldOut.fraction * 100).toFixed(2)}% of each class` +
        (c.heldOut.excludedFromTraining ? '' : '; the run trained on them too: optimistic')]);
    }
    c.classes.forEach((name, k) => rows.push([`  ${name}`, fmt(c.perClass[k], 4), `${c.confusion[k][k]}/${c.confusion[k].reduce((a, b) => a + b, 0)}`]));
  }
  const w0 = Math.max(...rows.map((x) => x[0].length), 'metric'.length);
  const w1 = Math.max(...rows.map((x) => x[1].length), 'value'.length);
  const head = `${r.source}: ${r.model}${r.step !== null ? ` at step ${r.step}` : ''}${r.weights ? ` (${r.weights === 'ema' ? 'averaged' : 'raw'} weights)` : ''}, ${r.n.generated} generated vs ${r.n.real} real ${r.size}×${r.size} images from ${r.data} (seed ${r.seed}, SWD ${r.swd.patchesPerImage} patches/image)`;
  const lines = [head, `${'metric'.padEnd(w0)}  ${'value'.padStart(w1)}`, `${'-'.repeat(w0)}  ${'-'.repeat(w1)}`];
  for (const [a, b, note] of rows) lines.push(`${a.padEnd(w0)}  ${b.padStart(w1)}${note ? `  ${note}` : ''}`);
  const s = r.seconds;
  lines.push(`time: generate ${s.generate.toFixed(1)} s, SWD ${s.swd.toFixed(1)} s, MS-SSIM ${s.msssim.toFixed(1)} s${s.classify !== undefined ? `, classify ${s.classify.toFixed(1)} s` : ''}`);
  return lines.join('\n');
}
