// Sliced Wasserstein distance between two image sets, after ProGAN (Karras et al. 2018,
// tkarras/progressive_growing_of_gans metrics/sliced_wasserstein.py). Needs no pretrained
// network: it compares the distributions of 7x7 Laplacian-pyramid patches per scale.
//
// Choices where the reference is silent or cannot apply:
// - Patch positions, subsampling and directions come from seeded sub-streams keyed by
//   (seed, level, purpose), so a result is reproducible for a seed.
// - Common random numbers: image i of either set gets the same patch positions (the
//   reference draws them independently per set). Each set's own descriptor distribution is
//   unchanged, but position-sampling noise cancels, which matters at the small n GAN runs
//   evaluate (with 16 logos, independent positions put SWD(a, a) near 40 at every level,
//   as high as sigma-0.05 noise; shared ones make it exactly 0).
// - Sets of different sizes: the larger descriptor set is subsampled (seeded, without
//   replacement) after normalization, so both sort to the same length.
// - A channel whose descriptors are constant (std 0) is only mean-centred instead of giving NaN.
// - Images smaller than 16 px (but at least 7) get a single full-resolution level.

import { deriveSeed, makeRng } from './rng.ts';
import { radixSortFloat32 } from './radix_sort.ts';

export { radixSortFloat32 };

/** NCHW, 3 channels, values in [-1, 1]. */
export interface ImageSet {
  data: Float32Array;
  n: number;
  h: number;
  w: number;
}

export interface SwdOptions {
  seed?: number;
  patchesPerImage?: number;
  dirsPerRepeat?: number;
  repeats?: number;
  /**
   * Keep set b's sorted projections in this object and reuse them on later calls with the same b, seed and options
   * (evaluation along training scores many generated sets against one real set: half the work). Results are
   * identical with or without it.
   */
  cacheB?: SwdCache;
}

/** Sorted projections of a fixed set b, per pyramid level (see SwdOptions.cacheB). */
export interface SwdCache {
  key?: string;
  levels: Float32Array[];
}

export interface SwdResult {
  /** Finest level first; resolution is the level's height. Each swd is x1e3. */
  levels: { resolution: number; swd: number }[];
  average: number;
}

const NHOOD = 7;
const HALF = NHOOD >> 1;
const CH = 3;
const DESC = CH * NHOOD * NHOOD; // 147
/** Directions projected per pass: bounds scratch memory to N x DIR_CHUNK floats per side. */
const DIR_CHUNK = 32;
// Stream tags, so each purpose draws from its own sub-stream.
const TAG_PATCH = 1;
const TAG_SUBSAMPLE = 2;
const TAG_DIRS = 3;

export function slicedWasserstein(a: ImageSet, b: ImageSet, opts: SwdOptions = {}): SwdResult {
  const seed = opts.seed ?? 0;
  const patchesPerImage = opts.patchesPerImage ?? 128;
  const dirsPerRepeat = opts.dirsPerRepeat ?? 128;
  const repeats = opts.repeats ?? 4;
  checkSet(a, 'a');
  checkSet(b, 'b');
  if (a.h !== b.h || a.w !== b.w) {
    throw new RangeError(`slicedWasserstein: image sizes differ (${a.h}x${a.w} vs ${b.h}x${b.w})`);
  }
  for (const [name, v] of [['patchesPerImage', patchesPerImage], ['dirsPerRepeat', dirsPerRepeat], ['repeats', repeats]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`slicedWasserstein: ${name} must be a positive integer, got ${v}`);
  }
  const numLevels = pyramidLevels(a.h, a.w);

  const levels: { resolution: number; swd: number }[] = [];
  // Walk the pyramid one level at a time so only two Gaussian levels per side are alive.
  let gA: Level = { data: a.data, planes: a.n * CH, h: a.h, w: a.w };
  let gB: Level = { data: b.data, planes: b.n * CH, h: b.h, w: b.w };
  for (let lvl = 0; lvl < numLevels; lvl++) {
    const last = lvl === numLevels - 1;
    const [bandA, nextA] = laplacianStep(gA, last);
    const [bandB, nextB] = laplacianStep(gB, last);
    const patchSeed = deriveSeed(seed, lvl, TAG_PATCH);
    const descA = normalizeDescriptors(extractDescriptors(bandA, a.n, patchesPerImage, patchSeed));
    const descB = normalizeDescriptors(extractDescriptors(bandB, b.n, patchesPerImage, patchSeed));
    const cache = opts.cacheB && a.n === b.n ? opts.cacheB : undefined;
    const dist = swdDescriptors(descA, descB, repeats, dirsPerRepeat, deriveSeed(seed, lvl, TAG_SUBSAMPLE), deriveSeed(seed, lvl, TAG_DIRS), cache && sortedSlot(cache, lvl, [seed, patchesPerImage, dirsPerRepeat, repeats, b.n]));
    levels.push({ resolution: bandA.h, swd: dist * 1e3 });
    gA = nextA;
    gB = nextB;
  }
  const average = levels.reduce((s, l) => s + l.swd, 0) / levels.length;
  return { levels, average };
}

/** The cache's holder for one level's sorted projections of b; a cache filled with other options is emptied. */
function sortedSlot(cache: SwdCache, lvl: number, options: number[]): { sorted?: Float32Array; store: (a: Float32Array) => void } {
  const key = options.join('/');
  if (cache.key !== key) Object.assign(cache, { key, levels: [] });
  return { sorted: cache.levels[lvl], store: (a) => (cache.levels[lvl] = a) };
}

function checkSet(s: ImageSet, name: string): void {
  if (!Number.isInteger(s.n) || s.n < 1) throw new RangeError(`slicedWasserstein: set ${name} needs n >= 1, got ${s.n}`);
  if (s.data.length !== s.n * CH * s.h * s.w) {
    throw new RangeError(`slicedWasserstein: set ${name} data length ${s.data.length} != n*3*h*w = ${s.n * CH * s.h * s.w}`);
  }
}

/** Level count as in the reference: halve while >= 16 (one level for 7..15 px). */
export function pyramidLevels(h: number, w: number): number {
  let res = Math.min(h, w);
  if (res < NHOOD) throw new RangeError(`slicedWasserstein: images must be at least ${NHOOD}x${NHOOD}, got ${h}x${w}`);
  let count = 0;
  while (res >= 16) {
    count++;
    res = Math.floor(res / 2);
  }
  return Math.max(count, 1);
}

// ---------------------------------------------------------------- pyramid

/** A stack of planes (n*3 of them) of h x w floats. */
export type Level = { data: Float32Array; planes: number; h: number; w: number };

/** 1-D resampling table: output o = sum over t < 5 of wt[5o+t] * source[idx[5o+t]]. */
type Taps = { out: number; idx: Int32Array; wt: Float32Array };

const BINOMIAL = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16]; // separable factor of the 5x5 /256 filter

/** scipy.ndimage 'mirror' (OpenCV REFLECT_101): d c b | a b c d | c b a. */
function mirror(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  i = ((i % period) + period) % period;
  return i < n ? i : period - i;
}

/** Blur then keep even samples (cv2.pyrDown along one axis). */
function downTaps(n: number): Taps {
  const out = Math.ceil(n / 2);
  const idx = new Int32Array(out * 5);
  const wt = new Float32Array(out * 5);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < 5; k++) {
      idx[o * 5 + k] = mirror(2 * o + k - 2, n);
      wt[o * 5 + k] = BINOMIAL[k];
    }
  }
  return { out, idx, wt };
}

/** Zero-insert to length `out`, then blur with 2x the filter (cv2.pyrUp along one axis). */
function upTaps(src: number, out: number): Taps {
  const idx = new Int32Array(out * 5);
  const wt = new Float32Array(out * 5);
  for (let o = 0; o < out; o++) {
    for (let k = 0; k < 5; k++) {
      const m = mirror(o + k - 2, out);
      // Odd positions of the zero-inserted signal are 0: weight 0, any valid index.
      if (m % 2 === 0 && m / 2 < src) {
        idx[o * 5 + k] = m / 2;
        wt[o * 5 + k] = 2 * BINOMIAL[k];
      }
    }
  }
  return { out, idx, wt };
}

/** Separable resampling of every plane: `cols` acts along w, then `rows` along h. */
function separable(src: Level, rows: Taps, cols: Taps): Level {
  const { planes, h, w, data: s } = src;
  const ow = cols.out;
  const oh = rows.out;
  const ci = cols.idx, cw = cols.wt, ri = rows.idx, rw = rows.wt;
  const tmp = new Float32Array(h * ow); // one plane at a time
  const dst = new Float32Array(planes * oh * ow);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < h; y++) {
      const row = p * h * w + y * w;
      for (let x = 0, t = 0; x < ow; x++, t += 5) {
        tmp[y * ow + x] = cw[t] * s[row + ci[t]] + cw[t + 1] * s[row + ci[t + 1]] + cw[t + 2] * s[row + ci[t + 2]] +
          cw[t + 3] * s[row + ci[t + 3]] + cw[t + 4] * s[row + ci[t + 4]];
      }
    }
    for (let y = 0, t = 0; y < oh; y++, t += 5) {
      const r0 = ri[t] * ow, r1 = ri[t + 1] * ow, r2 = ri[t + 2] * ow, r3 = ri[t + 3] * ow, r4 = ri[t + 4] * ow;
      const w0 = rw[t], w1 = rw[t + 1], w2 = rw[t + 2], w3 = rw[t + 3], w4 = rw[t + 4];
      const o = (p * oh + y) * ow;
      for (let x = 0; x < ow; x++) {
        dst[o + x] = w0 * tmp[r0 + x] + w1 * tmp[r1 + x] + w2 * tmp[r2 + x] + w3 * tmp[r3 + x] + w4 * tmp[r4 + x];
      }
    }
  }
  return { data: dst, planes, h: oh, w: ow };
}

export function pyrDown(src: Level): Level {
  return separable(src, downTaps(src.h), downTaps(src.w));
}

/** Upsample to exactly h x w (the finer level's size, which may be odd). */
export function pyrUp(src: Level, h: number, w: number): Level {
  return separable(src, upTaps(src.h, h), upTaps(src.w, w));
}

/** [Laplacian band, next Gaussian level]; the coarsest level is its own band, as in the reference. */
function laplacianStep(g: Level, last: boolean): [Level, Level] {
  if (last) return [g, g];
  const next = pyrDown(g);
  const up = pyrUp(next, g.h, g.w).data;
  for (let i = 0; i < up.length; i++) up[i] = g.data[i] - up[i];
  return [{ data: up, planes: g.planes, h: g.h, w: g.w }, next];
}

// ---------------------------------------------------------------- descriptors

/**
 * Random 7x7x3 neighbourhoods, fully inside the level; row layout (channel, y, x).
 * Positions for image i depend only on (seed, i), so both sets share them.
 */
export function extractDescriptors(level: Level, n: number, perImage: number, seed: number): Float32Array {
  const { h, w, data } = level;
  const out = new Float32Array(n * perImage * DESC);
  let o = 0;
  for (let img = 0; img < n; img++) {
    const rng = makeRng(deriveSeed(seed, img));
    for (let p = 0; p < perImage; p++) {
      const cy = HALF + rng.int(h - 2 * HALF);
      const cx = HALF + rng.int(w - 2 * HALF);
      for (let c = 0; c < CH; c++) {
        let row = (img * CH + c) * h * w + (cy - HALF) * w + cx - HALF;
        for (let dy = 0; dy < NHOOD; dy++, row += w, o += NHOOD) {
          // Unrolled 7-wide copy: subarray()+set() would allocate per row.
          out[o] = data[row]; out[o + 1] = data[row + 1]; out[o + 2] = data[row + 2]; out[o + 3] = data[row + 3];
          out[o + 4] = data[row + 4]; out[o + 5] = data[row + 5]; out[o + 6] = data[row + 6];
        }
      }
    }
  }
  return out;
}

/** In place (and returned): per channel, subtract the set's mean, divide by its population std. */
export function normalizeDescriptors(desc: Float32Array): Float32Array {
  const count = desc.length / DESC;
  const per = NHOOD * NHOOD;
  for (let c = 0; c < CH; c++) {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < count; i++) {
      const base = i * DESC + c * per;
      for (let k = 0; k < per; k++) {
        const v = desc[base + k];
        sum += v;
        sq += v * v;
      }
    }
    const mean = sum / (count * per);
    const std = Math.sqrt(Math.max(sq / (count * per) - mean * mean, 0));
    // Constant channel: the reference would divide by 0; centring alone keeps it finite.
    const inv = std > 1e-12 * Math.max(1, Math.abs(mean)) ? 1 / std : 1;
    for (let i = 0; i < count; i++) {
      const base = i * DESC + c * per;
      for (let k = 0; k < per; k++) desc[base + k] = (desc[base + k] - mean) * inv;
    }
  }
  return desc;
}

// ---------------------------------------------------------------- distance

/** Unit random directions, [dir][component] layout. */
function randomDirections(count: number, rng: ReturnType<typeof makeRng>): Float32Array {
  const dirs = new Float32Array(count * DESC);
  for (let j = 0; j < count; j++) {
    let norm = 0;
    for (let k = 0; k < DESC; k++) {
      const v = rng.normal();
      dirs[j * DESC + k] = v;
      norm += v * v;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let k = 0; k < DESC; k++) dirs[j * DESC + k] *= inv;
  }
  return dirs;
}

/** Rows to use from a set of `count` descriptors: all of them, or a seeded subset of `keep`. */
function pickRows(count: number, keep: number, rng: ReturnType<typeof makeRng>): Int32Array {
  const rows = new Int32Array(count);
  for (let i = 0; i < count; i++) rows[i] = i;
  if (keep === count) return rows;
  for (let i = 0; i < keep; i++) {
    const j = i + rng.int(count - i);
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  return rows.subarray(0, keep).sort(); // ascending: sequential memory access
}

/**
 * Projections of the chosen rows on directions [d0, d0+nd), written [dir][row] so each
 * direction's values are contiguous for sorting. Blocks of 4 rows x 2 directions keep eight
 * accumulators in registers: about 2.5x the throughput of a plain dot-product loop in V8.
 */
function project(desc: Float32Array, rows: Int32Array, dirs: Float32Array, d0: number, nd: number, out: Float32Array): void {
  const n = rows.length;
  const n4 = n - (n % 4);
  const nd2 = nd - (nd % 2);
  for (let r = 0; r < n4; r += 4) {
    const b0 = rows[r] * DESC, b1 = rows[r + 1] * DESC, b2 = rows[r + 2] * DESC, b3 = rows[r + 3] * DESC;
    for (let j = 0; j < nd2; j += 2) {
      const a0 = (d0 + j) * DESC, a1 = a0 + DESC;
      let p0 = 0, p1 = 0, q0 = 0, q1 = 0, s0 = 0, s1 = 0, t0 = 0, t1 = 0;
      for (let k = 0; k < DESC; k++) {
        const u0 = dirs[a0 + k], u1 = dirs[a1 + k];
        const v0 = desc[b0 + k], v1 = desc[b1 + k], v2 = desc[b2 + k], v3 = desc[b3 + k];
        p0 += v0 * u0; p1 += v0 * u1;
        q0 += v1 * u0; q1 += v1 * u1;
        s0 += v2 * u0; s1 += v2 * u1;
        t0 += v3 * u0; t1 += v3 * u1;
      }
      const o0 = j * n + r, o1 = o0 + n;
      out[o0] = p0; out[o0 + 1] = q0; out[o0 + 2] = s0; out[o0 + 3] = t0;
      out[o1] = p1; out[o1 + 1] = q1; out[o1 + 2] = s1; out[o1 + 3] = t1;
    }
  }
  // Leftover rows and directions: plain dot products.
  for (let r = 0; r < n; r++) {
    const base = rows[r] * DESC;
    for (let j = r < n4 ? nd2 : 0; j < nd; j++) {
      const a = (d0 + j) * DESC;
      let s = 0;
      for (let k = 0; k < DESC; k++) s += desc[base + k] * dirs[a + k];
      out[j * n + r] = s;
    }
  }
}

/**
 * SWD between two normalized descriptor sets (not yet x1e3): per repeat, mean over
 * directions and sorted positions of |projA - projB|; then the mean over repeats.
 */
export function swdDescriptors(
  descA: Float32Array, descB: Float32Array, repeats: number, dirsPerRepeat: number, subsampleSeed: number, dirSeed: number,
  cacheB?: { sorted?: Float32Array; store: (a: Float32Array) => void },
): number {
  const countA = descA.length / DESC;
  const countB = descB.length / DESC;
  const n = Math.min(countA, countB);
  const sub = makeRng(subsampleSeed);
  const rowsA = pickRows(countA, n, sub);
  const rowsB = pickRows(countB, n, sub);
  const dirRng = makeRng(dirSeed);
  const chunk = Math.min(DIR_CHUNK, dirsPerRepeat);
  const projA = new Float32Array(chunk * n);
  // With a cache (only for sets of equal size, so no subsampling), b's sorted projections of every direction are kept.
  const cached = cacheB && countA === countB ? cacheB : undefined;
  const allB = cached ? cached.sorted ?? new Float32Array(repeats * dirsPerRepeat * n) : undefined;
  const fresh = !cached?.sorted;
  const projB = new Float32Array(chunk * n);
  const scratch = new Uint32Array(n);
  const counts = new Uint32Array(2048);
  let total = 0;
  for (let rep = 0; rep < repeats; rep++) {
    const dirs = randomDirections(dirsPerRepeat, dirRng);
    let sum = 0;
    for (let d0 = 0; d0 < dirsPerRepeat; d0 += chunk) {
      const nd = Math.min(chunk, dirsPerRepeat - d0);
      project(descA, rowsA, dirs, d0, nd, projA);
      if (fresh) project(descB, rowsB, dirs, d0, nd, projB);
      for (let j = 0; j < nd; j++) {
        const pa = projA.subarray(j * n, (j + 1) * n);
        radixSortFloat32(pa, scratch, counts);
        let pb: Float32Array;
        if (allB) {
          const at = (rep * dirsPerRepeat + d0 + j) * n;
          pb = allB.subarray(at, at + n);
          if (fresh) {
            pb.set(projB.subarray(j * n, (j + 1) * n));
            radixSortFloat32(pb, scratch, counts);
          }
        } else {
          pb = projB.subarray(j * n, (j + 1) * n);
          radixSortFloat32(pb, scratch, counts);
        }
        for (let i = 0; i < n; i++) sum += Math.abs(pa[i] - pb[i]);
      }
    }
    total += sum / (n * dirsPerRepeat);
  }
  if (cached && fresh) cached.store(allB!);
  return total / repeats;
}
