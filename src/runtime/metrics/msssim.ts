// MS-SSIM (Wang, Simoncelli & Bovik 2003) and the MS-SSIM diversity score of Odena et al.
// (AC-GAN): mean MS-SSIM over random pairs of images from one set. Lower = more diverse.
//
// Follows tf.image.ssim_multiscale: per channel, 'VALID' Gaussian filtering, 2x2 average
// pooling between scales (odd sizes padded by repeating the last row/column, as TF's
// SYMMETRIC pad), mean contrast-structure at the first 4 scales and mean luminance*cs at the
// last, each clamped at 0 (relu) before the weighted geometric mean; channels averaged last.
//
// Small images: TF refuses images smaller than the window at any scale (5 scales of an
// 11-px window need 176 px). Instead, like the original tensorflow/models msssim.py used in
// the AC-GAN era, the window shrinks to fit: size = min(11, h, w) and
// sigma = 1.5 * size / 11 at that scale. For 64x64 inputs scales 64/32/16 use the full
// window; 8 and 4 use 8-px (sigma 1.09) and 4-px (sigma 0.55) windows.

import { makeRng } from './rng.ts';
import type { ImageSet } from './swd.ts';

export const MSSSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333] as const;
const FILTER_SIZE = 11;
const FILTER_SIGMA = 1.5;
const MAX_VAL = 255; // [-1, 1] is mapped to [0, 255] first
const C1 = (0.01 * MAX_VAL) ** 2;
const C2 = (0.03 * MAX_VAL) ** 2;
const CH = 3;

/**
 * 1-D normalized Gaussian of `size` taps centred at (size-1)/2. The 2-D window is its outer
 * product, identical to TF's softmax over -(x^2 + y^2) / (2 sigma^2).
 */
export function gaussianWindow(size: number, sigma: number): Float64Array {
  const g = new Float64Array(size);
  const centre = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) {
    g[i] = Math.exp(-((i - centre) ** 2) / (2 * sigma * sigma));
    sum += g[i];
  }
  for (let i = 0; i < size; i++) g[i] /= sum;
  return g;
}

/** Reused per-call buffers, so the per-scale work allocates nothing per pixel. */
interface Scratch {
  tmp: Float64Array; // horizontal pass output
  mx: Float64Array;
  my: Float64Array;
  exx: Float64Array;
  eyy: Float64Array;
  exy: Float64Array;
  prod: Float64Array; // x*x, y*y or x*y before filtering
}

function makeScratch(size: number): Scratch {
  const f = (): Float64Array => new Float64Array(size);
  return { tmp: f(), mx: f(), my: f(), exx: f(), eyy: f(), exy: f(), prod: f() };
}

/** Separable 'VALID' filtering of an h x w plane; output (h-k+1) x (w-k+1). */
function filterValid(src: Float64Array, h: number, w: number, g: Float64Array, tmp: Float64Array, dst: Float64Array): void {
  const k = g.length;
  const ow = w - k + 1;
  const oh = h - k + 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += g[t] * src[row + x + t];
      tmp[y * ow + x] = s;
    }
  }
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += g[t] * tmp[(y + t) * ow + x];
      dst[y * ow + x] = s;
    }
  }
}

/** Mean SSIM (luminance*cs) and mean cs of two h x w planes at one scale. */
function ssimOneScale(x: Float64Array, y: Float64Array, h: number, w: number, sc: Scratch): { ssim: number; cs: number } {
  const size = Math.min(FILTER_SIZE, h, w);
  const g = gaussianWindow(size, (FILTER_SIGMA * size) / FILTER_SIZE);
  const n = h * w;
  filterValid(x, h, w, g, sc.tmp, sc.mx);
  filterValid(y, h, w, g, sc.tmp, sc.my);
  for (let i = 0; i < n; i++) sc.prod[i] = x[i] * x[i];
  filterValid(sc.prod, h, w, g, sc.tmp, sc.exx);
  for (let i = 0; i < n; i++) sc.prod[i] = y[i] * y[i];
  filterValid(sc.prod, h, w, g, sc.tmp, sc.eyy);
  for (let i = 0; i < n; i++) sc.prod[i] = x[i] * y[i];
  filterValid(sc.prod, h, w, g, sc.tmp, sc.exy);
  const m = (h - size + 1) * (w - size + 1);
  let ssimSum = 0;
  let csSum = 0;
  for (let i = 0; i < m; i++) {
    // Same algebra as TF's _ssim_helper, so identical inputs give exactly 1.
    const num0 = sc.mx[i] * sc.my[i] * 2;
    const den0 = sc.mx[i] * sc.mx[i] + sc.my[i] * sc.my[i];
    const lum = (num0 + C1) / (den0 + C1);
    const cs = (sc.exy[i] * 2 - num0 + C2) / (sc.exx[i] + sc.eyy[i] - den0 + C2);
    ssimSum += lum * cs;
    csSum += cs;
  }
  return { ssim: ssimSum / m, cs: csSum / m };
}

/** 2x2 average pool into `dst`; an odd last row/column is averaged with itself. */
function avgPool2(src: Float64Array, h: number, w: number, dst: Float64Array): void {
  const oh = Math.ceil(h / 2);
  const ow = Math.ceil(w / 2);
  for (let y = 0; y < oh; y++) {
    const r0 = 2 * y * w;
    const r1 = Math.min(2 * y + 1, h - 1) * w;
    for (let x = 0; x < ow; x++) {
      const c0 = 2 * x;
      const c1 = Math.min(2 * x + 1, w - 1);
      dst[y * ow + x] = 0.25 * (src[r0 + c0] + src[r0 + c1] + src[r1 + c0] + src[r1 + c1]);
    }
  }
}

/** MS-SSIM of one pair of planes already in [0, 255]; the planes are overwritten. */
function msssimPlane(x: Float64Array, y: Float64Array, h: number, w: number, sc: Scratch, px: Float64Array, py: Float64Array): number {
  let result = 1;
  let cx = x;
  let cy = y;
  for (let s = 0; s < MSSSIM_WEIGHTS.length; s++) {
    if (s > 0) {
      avgPool2(cx, h, w, px);
      avgPool2(cy, h, w, py);
      h = Math.ceil(h / 2);
      w = Math.ceil(w / 2);
      // Ping-pong between the input planes and the pool buffers.
      [cx, px] = [px, cx];
      [cy, py] = [py, cy];
    }
    const { ssim, cs } = ssimOneScale(cx, cy, h, w, sc);
    const v = s === MSSSIM_WEIGHTS.length - 1 ? ssim : cs;
    result *= Math.max(v, 0) ** MSSSIM_WEIGHTS[s];
  }
  return result;
}

/** MS-SSIM of two 3 x h x w images (CHW, values in [-1, 1]); channels averaged. */
export function msssim(x: Float32Array, y: Float32Array, h: number, w: number): number {
  const n = h * w;
  if (x.length !== CH * n || y.length !== CH * n) {
    throw new RangeError(`msssim: expected two arrays of 3*${h}*${w} = ${CH * n}, got ${x.length} and ${y.length}`);
  }
  return msssimAt(x, 0, y, 0, h, w, makeScratch(n));
}

function msssimAt(xs: Float32Array, xOff: number, ys: Float32Array, yOff: number, h: number, w: number, sc: Scratch): number {
  const n = h * w;
  const px = new Float64Array(n);
  const py = new Float64Array(n);
  const qx = new Float64Array(Math.ceil(h / 2) * Math.ceil(w / 2));
  const qy = new Float64Array(qx.length);
  let total = 0;
  for (let c = 0; c < CH; c++) {
    for (let i = 0; i < n; i++) {
      px[i] = (xs[xOff + c * n + i] + 1) * 127.5;
      py[i] = (ys[yOff + c * n + i] + 1) * 127.5;
    }
    total += msssimPlane(px, py, h, w, sc, qx, qy);
  }
  return total / CH;
}

export interface DiversityResult {
  /** Mean MS-SSIM over the pairs: lower = more diverse. */
  mean: number;
  /** Population standard deviation over the pairs. */
  std: number;
  pairs: number;
}

/**
 * Mean MS-SSIM over random distinct pairs (i != j, no pair twice) of a set; all pairs when
 * the set has no more than `pairs` of them. Seeded, so repeatable.
 */
export function msssimDiversity(set: ImageSet, opts: { pairs?: number; seed?: number } = {}): DiversityResult {
  const { n, h, w, data } = set;
  const want = opts.pairs ?? 1000;
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`msssimDiversity: need at least 2 images, got ${n}`);
  if (!Number.isInteger(want) || want < 1) throw new RangeError(`msssimDiversity: pairs must be a positive integer, got ${want}`);
  const size = CH * h * w;
  if (data.length !== n * size) throw new RangeError(`msssimDiversity: data length ${data.length} != n*3*h*w = ${n * size}`);

  const pairs = choosePairs(n, want, opts.seed ?? 0);
  const sc = makeScratch(h * w);
  const values = new Float64Array(pairs.length / 2);
  for (let p = 0; p < values.length; p++) {
    values[p] = msssimAt(data, pairs[2 * p] * size, data, pairs[2 * p + 1] * size, h, w, sc);
  }
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { mean, std: Math.sqrt(sq / values.length), pairs: values.length };
}

/** Flat [i0, j0, i1, j1, ...] with i < j: every pair, or `want` distinct random ones. */
function choosePairs(n: number, want: number, seed: number): Int32Array {
  const total = (n * (n - 1)) / 2;
  if (total <= want) {
    const out = new Int32Array(2 * total);
    let k = 0;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        out[k++] = i;
        out[k++] = j;
      }
    }
    return out;
  }
  // Rejection sampling: want < total, so even near total it needs only O(total log total) draws.
  const rng = makeRng(seed);
  const seen = new Set<number>();
  const out = new Int32Array(2 * want);
  let k = 0;
  while (k < 2 * want) {
    const a = rng.int(n);
    const b = rng.int(n);
    if (a === b) continue;
    const i = Math.min(a, b);
    const j = Math.max(a, b);
    const key = i * n + j;
    if (seen.has(key)) continue;
    seen.add(key);
    out[k++] = i;
    out[k++] = j;
  }
  return out;
}
