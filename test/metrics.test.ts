// Tests for the pretrained-network-free metrics (SWD, MS-SSIM) on real logos rendered with
// resvg, plus reference values computed once with scipy/numpy (see the comments by them).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resvg } from '@resvg/resvg-js';
import {
  siAndroid, siApple, siDocker, siFirefox, siGit, siGithub, siGoogle, siLinux,
  siNodedotjs, siNpm, siPython, siReact, siRust, siSpotify, siTypescript, siUbuntu,
} from 'simple-icons';
import { pyrDown, pyrUp, pyramidLevels, radixSortFloat32, slicedWasserstein, type ImageSet } from '../src/runtime/metrics/swd.ts';
import { gaussianWindow, msssim, msssimDiversity } from '../src/runtime/metrics/msssim.ts';
import { makeRng } from '../src/runtime/metrics/rng.ts';

type Icon = { hex: string; path: string };
const LOGOS: Icon[] = [
  siGithub, siPython, siDocker, siFirefox, siNodedotjs, siTypescript, siReact, siGoogle,
  siLinux, siGit, siRust, siApple, siAndroid, siSpotify, siUbuntu, siNpm,
];

/** One logo on white as CHW floats in [-1, 1]; `pad` (viewBox units) shrinks it in the frame. */
function renderLogo(icon: Icon, size: number, pad = 0): Float32Array {
  const vb = `${-pad} ${-pad} ${24 + 2 * pad} ${24 + 2 * pad}`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${vb}"><path fill="#${icon.hex}" d="${icon.path}"/></svg>`;
  const img = new Resvg(svg, { fitTo: { mode: 'width', value: size }, background: 'white' }).render();
  assert.equal(img.width, size);
  assert.equal(img.height, size);
  const px = img.pixels;
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    const a = px[4 * i + 3] / 255; // 1 with a white background; composite anyway
    for (let c = 0; c < 3; c++) out[c * plane + i] = (px[4 * i + c] * a + 255 * (1 - a)) / 127.5 - 1;
  }
  return out;
}

function stack(images: Float32Array[], h: number, w: number): ImageSet {
  const data = new Float32Array(images.length * 3 * h * w);
  images.forEach((im, k) => data.set(im, k * im.length));
  return { data, n: images.length, h, w };
}

const logoCache = new Map<string, Float32Array>();
function logo(i: number, size = 64, pad = 0): Float32Array {
  const key = `${i}/${size}/${pad}`;
  if (!logoCache.has(key)) logoCache.set(key, renderLogo(LOGOS[i], size, pad));
  return logoCache.get(key)!;
}

const logoSet = (size = 64): ImageSet => stack(LOGOS.map((_, i) => logo(i, size)), size, size);

function withNoise(x: Float32Array, sigma: number, seed = 7): Float32Array {
  const rng = makeRng(seed);
  return x.map((v) => Math.max(-1, Math.min(1, v + sigma * rng.normal())));
}

const noisySet = (s: ImageSet, sigma: number): ImageSet => ({ ...s, data: withNoise(s.data, sigma) });

/** Separable [1, 2, 1]/4 blur applied twice, clamped edges: a plain camera-style blur. */
function blurred(s: ImageSet): ImageSet {
  const { h, w } = s;
  let src = s.data;
  for (let pass = 0; pass < 4; pass++) {
    const dst = new Float32Array(src.length);
    const horizontal = pass % 2 === 0;
    for (let p = 0; p < s.n * 3; p++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const at = (yy: number, xx: number): number =>
            src[p * h * w + Math.min(h - 1, Math.max(0, yy)) * w + Math.min(w - 1, Math.max(0, xx))];
          dst[p * h * w + y * w + x] = horizontal
            ? (at(y, x - 1) + 2 * at(y, x) + at(y, x + 1)) / 4
            : (at(y - 1, x) + 2 * at(y, x) + at(y + 1, x)) / 4;
        }
      }
    }
    src = dst;
  }
  return { ...s, data: src };
}

/** Exact-arithmetic test pattern shared with the numpy cross-checks below. */
function pattern(h: number, w: number, amp: number, k = 0): Float32Array {
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        out[(c * h + i) * w + j] =
          (((i + 2 * j + c * 5 + k * 11) % 32) / 16 - 1) * 0.5 + ((i * j + k) % 17) / 34 - 0.25 +
          amp * (((i * 5 + j * 9 + c * 3) % 13) / 13 - 0.5);
      }
    }
  }
  return out;
}

function assertClose(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

// ------------------------------------------------------------------ SWD

test('swd: pyramid levels run from full size down to 16', () => {
  assert.equal(pyramidLevels(64, 64), 3);
  assert.equal(pyramidLevels(128, 128), 4);
  assert.equal(pyramidLevels(32, 32), 2);
  assert.equal(pyramidLevels(12, 12), 1);
  assert.throws(() => pyramidLevels(6, 6), RangeError);
  const r = slicedWasserstein(logoSet(), logoSet(), { dirsPerRepeat: 8, repeats: 1 });
  assert.deepEqual(r.levels.map((l) => l.resolution), [64, 32, 16]);
  const small = slicedWasserstein(logoSet(32), logoSet(32), { dirsPerRepeat: 8, repeats: 1 });
  assert.deepEqual(small.levels.map((l) => l.resolution), [32, 16]);
});

test('swd: pyrDown / pyrUp match the reference scipy.ndimage mirror convolution', () => {
  // numpy/scipy, with pyr_down / pyr_up copied from progressive_growing_of_gans
  // metrics/sliced_wasserstein.py, on pattern(8, 8, 0) channel 0: the first 8 values of
  // pyr_down, of pyr_up(pyr_down) and of the Laplacian band's second row.
  const img = { data: pattern(8, 8, 0).subarray(0, 64), planes: 1, h: 8, w: 8 };
  const down = pyrDown(img);
  const up = pyrUp(down, 8, 8);
  assert.equal(down.h, 4);
  const refDown = [-0.663143, -0.557445, -0.388327, -0.229779, -0.596507, -0.444853, -0.219784, -0.089959];
  const refUp = [-0.617188, -0.587891, -0.521057, -0.437744, -0.350159, -0.270508, -0.213745, -0.194824];
  const refBand = [-0.121094, -0.061351, -0.04233, -0.040412, -0.040434, -0.027229, 0.010613, 0.084501];
  refDown.forEach((v, i) => assertClose(down.data[i], v, 2e-6, `down[${i}]`));
  refUp.forEach((v, i) => assertClose(up.data[i], v, 2e-6, `up[${i}]`));
  refBand.forEach((v, i) => assertClose(img.data[8 + i] - up.data[8 + i], v, 2e-6, `band[${i}]`));
  // A constant image stays constant through both (mirror borders, filter sums to 1).
  const flat = { data: new Float32Array(9 * 7).fill(0.3), planes: 1, h: 9, w: 7 };
  const d = pyrDown(flat);
  assert.deepEqual([d.h, d.w], [5, 4]);
  for (const v of pyrUp(d, 9, 7).data) assertClose(v, 0.3, 1e-6, 'flat');
});

test('swd: a set against itself is 0 at every level', () => {
  const set = logoSet();
  const r = slicedWasserstein(set, set, { seed: 3 });
  for (const l of r.levels) assert.ok(l.swd < 1e-9, `level ${l.resolution}: ${l.swd}`);
  assert.ok(r.average < 1e-9);
});

test('swd: grows with Gaussian noise, at every level', () => {
  const set = logoSet();
  const rs = [0.05, 0.2, 0.5].map((s) => slicedWasserstein(set, noisySet(set, s), { seed: 1 }));
  for (let k = 1; k < rs.length; k++) {
    assert.ok(rs[k].average > rs[k - 1].average, `average ${rs.map((r) => r.average)}`);
    rs[k].levels.forEach((l, i) => assert.ok(l.swd > rs[k - 1].levels[i].swd, `level ${l.resolution}`));
  }
  assert.ok(rs[0].average > 1, `noise 0.05 average ${rs[0].average}`);
});

test('swd: a cache of the second set gives the same values, and is refilled when the options change', () => {
  const real = logoSet();
  const cache = { levels: [] as Float32Array[] };
  for (const [sigma, seed] of [[0.1, 1], [0.3, 1], [0.3, 2]] as const) {
    const gen = noisySet(real, sigma);
    const plain = slicedWasserstein(gen, real, { seed, dirsPerRepeat: 16, repeats: 2 });
    const first = slicedWasserstein(gen, real, { seed, dirsPerRepeat: 16, repeats: 2, cacheB: cache });
    const cached = slicedWasserstein(gen, real, { seed, dirsPerRepeat: 16, repeats: 2, cacheB: cache });
    assert.deepEqual(first, plain);
    assert.deepEqual(cached, plain);
  }
  assert.equal(cache.levels.length, pyramidLevels(real.h, real.w));
});

test('swd: a blurred copy is far from the original, mostly at the finest level', () => {
  const set = logoSet();
  const r = slicedWasserstein(set, blurred(set), { seed: 1 });
  const fine = r.levels[0].swd;
  const coarse = r.levels[r.levels.length - 1].swd;
  assert.ok(fine > 20, `finest ${fine}`);
  assert.ok(fine > coarse, `finest ${fine} vs coarsest ${coarse}`);
});

test('swd: deterministic per seed; seeds agree roughly', () => {
  const set = logoSet();
  const noisy = noisySet(set, 0.2);
  const opts = { repeats: 1, dirsPerRepeat: 64 }; // fewer directions: this test is about seeding
  const a = slicedWasserstein(set, noisy, { seed: 11, ...opts });
  const b = slicedWasserstein(set, noisy, { seed: 11, ...opts });
  const c = slicedWasserstein(set, noisy, { seed: 12, ...opts });
  assert.deepEqual(a, b);
  assert.notEqual(a.average, c.average);
  assert.ok(Math.abs(a.average - c.average) < 0.3 * a.average, `${a.average} vs ${c.average}`);
});

test('swd: sets of different sizes are subsampled to equal count', () => {
  const set = logoSet();
  const half = stack(LOGOS.slice(0, 8).map((_, i) => logo(i)), 64, 64);
  const opts = { seed: 2, repeats: 1, dirsPerRepeat: 64 };
  const r = slicedWasserstein(set, half, opts);
  const swapped = slicedWasserstein(half, set, opts);
  assert.equal(r.levels.length, 3);
  for (const l of [...r.levels, ...swapped.levels]) assert.ok(Number.isFinite(l.swd) && l.swd > 0);
  // Half the same logos is closer than heavy noise on all of them.
  assert.ok(r.average < slicedWasserstein(set, noisySet(set, 0.5), opts).average);
  assert.throws(() => slicedWasserstein(set, logoSet(32)), RangeError);
  assert.throws(() => slicedWasserstein({ ...set, n: 3 }, set), RangeError);
});

test('swd: radix sort orders floats like TypedArray.prototype.sort', () => {
  const rng = makeRng(5);
  const n = 5000;
  const a = new Float32Array(n).map((_, i) => (i % 97 === 0 ? 0 : (rng.next() - 0.5) * 10 ** (rng.int(8) - 4)));
  a[1] = -0;
  a[2] = -Infinity;
  a[3] = Infinity;
  const expected = a.slice().sort();
  radixSortFloat32(a, new Uint32Array(n), new Uint32Array(2048));
  assert.deepEqual(a, expected);
});

// ------------------------------------------------------------------ MS-SSIM

test('msssim: Gaussian window is normalized with the hand-computed centre', () => {
  // 3 taps, sigma 1: centre = 1 / (1 + 2 e^-0.5) = 0.451863, sides e^-0.5 times that.
  const g3 = gaussianWindow(3, 1);
  assertClose(g3[1], 1 / (1 + 2 * Math.exp(-0.5)), 1e-12, 'g3 centre');
  assertClose(g3[1], 0.4518627619, 1e-9, 'g3 centre value');
  assertClose(g3[0], 0.2740686191, 1e-9, 'g3 side');
  // 11 taps, sigma 1.5: centre = 1 / (1 + 2 sum_k e^(-k^2/4.5)) = 0.266012, 2-D 0.070762.
  const g = gaussianWindow(11, 1.5);
  assertClose(g.reduce((s, v) => s + v, 0), 1, 1e-12, 'sum');
  assertClose(g[5], 0.2660117249, 1e-9, 'centre');
  assertClose(g[5] * g[5], 0.0707622378, 1e-9, '2-D centre');
  for (let i = 0; i < 5; i++) assert.equal(g[i], g[10 - i]);
});

test('msssim: matches an independent numpy implementation', () => {
  // Computed once with numpy + scipy.signal.convolve2d ('valid'), same formulas and
  // window-shrinking rule, on the exact pattern() images (amplitudes 0 vs 1, 0 vs 2, 1 vs 2):
  //   64: 0.9494930255 0.8576217064 0.9721736934
  //   32: 0.9486815902 0.8530914298 0.9706701404
  //   23: 0.9451775439 0.8444338208 0.9690229047   (odd sizes: symmetric-pad pooling)
  // The same script agreed to 1e-10 on four rendered logos at 64 and 32 px.
  const ref: Record<number, number[]> = {
    64: [0.9494930255, 0.8576217064, 0.9721736934],
    32: [0.9486815902, 0.8530914298, 0.9706701404],
    23: [0.9451775439, 0.8444338208, 0.9690229047],
  };
  for (const [size, vals] of Object.entries(ref).map(([k, v]) => [Number(k), v] as const)) {
    const [x, y, z] = [0, 1, 2].map((amp) => pattern(size, size, amp));
    assertClose(msssim(x, y, size, size), vals[0], 1e-8, `${size} x,y`);
    assertClose(msssim(x, z, size, size), vals[1], 1e-8, `${size} x,z`);
    assertClose(msssim(y, z, size, size), vals[2], 1e-8, `${size} y,z`);
  }
});

test('msssim: identity is 1, and the measure is symmetric', () => {
  for (const size of [64, 32, 23]) {
    const x = logo(3, size);
    assertClose(msssim(x, x, size, size), 1, 1e-6, `identity ${size}`);
  }
  for (const [i, j] of [[0, 1], [2, 3], [4, 9]]) {
    assertClose(msssim(logo(i), logo(j), 64, 64), msssim(logo(j), logo(i), 64, 64), 1e-12, `sym ${i},${j}`);
  }
  assert.throws(() => msssim(logo(0), logo(0, 32), 64, 64), RangeError);
});

test('msssim: different logos score in [0, 1), some strictly inside (0, 1)', () => {
  // relu on cs (as in TF) sends anti-correlated pairs to exactly 0 (e.g. GitHub vs Python).
  for (let i = 0; i < 6; i++) {
    for (let j = i + 1; j < 6; j++) {
      const v = msssim(logo(i), logo(j), 64, 64);
      assert.ok(v >= 0 && v < 1, `${i},${j}: ${v}`);
    }
  }
  for (const [i, j] of [[1, 2], [2, 3], [0, 3]]) {
    const v = msssim(logo(i), logo(j), 64, 64);
    assert.ok(v > 0.02 && v < 0.5, `${i},${j}: ${v}`);
  }
});

test('msssim: decreases as noise grows', () => {
  for (const i of [0, 5, 10]) {
    const x = logo(i);
    const vals = [0.05, 0.2, 0.5].map((s) => msssim(x, withNoise(x, s, i), 64, 64));
    assert.ok(vals[0] < 1 && vals[0] > vals[1] && vals[1] > vals[2], `${LOGOS[i].hex}: ${vals}`);
  }
});

test('msssim diversity: copies score 1, distinct logos much lower', () => {
  const copies = stack(Array.from({ length: 6 }, () => logo(7)), 64, 64);
  const same = msssimDiversity(copies);
  assert.equal(same.pairs, 15);
  assertClose(same.mean, 1, 1e-6, 'copies mean');
  assertClose(same.std, 0, 1e-6, 'copies std');

  const distinct = msssimDiversity(logoSet());
  assert.equal(distinct.pairs, (16 * 15) / 2); // fewer than 1000: all pairs
  assert.ok(distinct.mean < 0.3 && distinct.std > 0, `distinct ${distinct.mean} ± ${distinct.std}`);

  // Near-copies (slight noise) sit in between.
  const near = msssimDiversity({ ...copies, data: withNoise(copies.data, 0.1) });
  assert.ok(near.mean < same.mean && near.mean > distinct.mean, `near ${near.mean}`);
});

test('msssim diversity: random pair subset is seeded and sized', () => {
  const set = logoSet(32);
  const a = msssimDiversity(set, { pairs: 40, seed: 9 });
  const b = msssimDiversity(set, { pairs: 40, seed: 9 });
  const c = msssimDiversity(set, { pairs: 40, seed: 10 });
  assert.equal(a.pairs, 40);
  assert.deepEqual(a, b);
  assert.notEqual(a.mean, c.mean);
  assert.ok(Math.abs(a.mean - msssimDiversity(set).mean) < 0.1);
  assert.throws(() => msssimDiversity({ ...set, n: 1, data: set.data.subarray(0, 3 * 32 * 32) }), RangeError);
});
