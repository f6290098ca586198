import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GRID_PAD_GREY,
  SERIES_COLORS,
  gridScale,
  imagesToGrid,
  readPng,
  upscale,
  writeLossCurve,
  writeSampleGrid,
  type RgbaImage,
} from '../src/runtime/pictures.ts';
import { RAW_OPACITY, chartRows, robustRange } from '../web/shared/charts.js';
import { GancError } from '../src/errors.ts';

function pixel(img: RgbaImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 4;
  return Array.from(img.rgba.subarray(o, o + 4));
}

function countColor(img: RgbaImage, rgb: readonly number[], tol = 0): number {
  let n = 0;
  for (let i = 0; i < img.rgba.length; i += 4) {
    if (Math.abs(img.rgba[i] - rgb[0]) <= tol && Math.abs(img.rgba[i + 1] - rgb[1]) <= tol && Math.abs(img.rgba[i + 2] - rgb[2]) <= tol) n++;
  }
  return n;
}

async function withTmp<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ganc-pictures-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const G = GRID_PAD_GREY;

test('grid of four 2x2 grey images: values map to bytes at the right places, padding grey', () => {
  // image 0: all -1; image 1: all 1; image 2: 0, 2 (clamped), -5 (clamped), 0.5; image 3: -1, 1, 1, -1
  const images = new Float32Array([-1, -1, -1, -1, 1, 1, 1, 1, 0, 2, -5, 0.5, -1, 1, 1, -1]);
  const g = imagesToGrid(images, 4, 1, 2, 2);
  assert.equal(g.width, 2 * 2 + 3 * 2);
  assert.equal(g.height, 2 * 2 + 3 * 2);
  assert.equal(g.rgba.length, g.width * g.height * 4);
  // Tile k sits at (2 + col*4, 2 + row*4).
  assert.deepEqual(pixel(g, 2, 2), [0, 0, 0, 255]);
  assert.deepEqual(pixel(g, 3, 3), [0, 0, 0, 255]);
  assert.deepEqual(pixel(g, 6, 2), [255, 255, 255, 255]);
  assert.deepEqual(pixel(g, 7, 3), [255, 255, 255, 255]);
  assert.deepEqual(pixel(g, 2, 6), [128, 128, 128, 255]); // 0 → 127.5 → 128
  assert.deepEqual(pixel(g, 3, 6), [255, 255, 255, 255]);
  assert.deepEqual(pixel(g, 2, 7), [0, 0, 0, 255]);
  assert.deepEqual(pixel(g, 3, 7), [191, 191, 191, 255]); // 0.5 → 191.25
  assert.deepEqual(pixel(g, 6, 6), [0, 0, 0, 255]);
  assert.deepEqual(pixel(g, 7, 6), [255, 255, 255, 255]);
  assert.deepEqual(pixel(g, 6, 7), [255, 255, 255, 255]);
  assert.deepEqual(pixel(g, 7, 7), [0, 0, 0, 255]);
  // Border and gutters.
  for (const [x, y] of [[0, 0], [1, 5], [4, 2], [5, 3], [2, 4], [9, 9], [8, 6], [6, 9]]) {
    assert.deepEqual(pixel(g, x, y), [G, G, G, 255], `padding at ${x},${y}`);
  }
});

test('grid of RGB images reads channels from NCHW planes', () => {
  const h = 1;
  const w = 2;
  // one image, R plane [1, -1], G plane [-1, 1], B plane [0, 0.5]
  const g = imagesToGrid(new Float32Array([1, -1, -1, 1, 0, 0.5]), 1, 3, h, w, { pad: 1 });
  assert.equal(g.width, 4);
  assert.equal(g.height, 3);
  assert.deepEqual(pixel(g, 1, 1), [255, 0, 128, 255]);
  assert.deepEqual(pixel(g, 2, 1), [0, 255, 191, 255]);
  assert.deepEqual(pixel(g, 0, 0), [G, G, G, 255]);
});

test('grid layout: 64 images make 8x8 tiles; cols option; leftover cells stay grey', () => {
  const g = imagesToGrid(new Float32Array(64 * 3 * 4 * 4).fill(1), 64, 3, 4, 4);
  assert.equal(g.width, 8 * 4 + 9 * 2);
  assert.equal(g.height, 8 * 4 + 9 * 2);
  const g2 = imagesToGrid(new Float32Array(10 * 3 * 3).fill(1), 10, 1, 3, 3, { cols: 4, pad: 0 });
  assert.equal(g2.width, 12);
  assert.equal(g2.height, 9);
  assert.deepEqual(pixel(g2, 11, 8), [G, G, G, 255]); // 12th cell is empty
  assert.deepEqual(pixel(g2, 5, 8), [255, 255, 255, 255]); // 10th cell is image 9
});

test('grid rejects bad channels and short data with GancError', () => {
  assert.throws(() => imagesToGrid(new Float32Array(8), 1, 2, 2, 2), GancError);
  assert.throws(() => imagesToGrid(new Float32Array(11), 1, 3, 2, 2), GancError);
});

test('writeSampleGrid writes a PNG (creating folders) that reads back pixel-exact, scaled up, no temp files left', async () => {
  await withTmp(async (dir) => {
    const images = new Float32Array(16 * 3 * 5 * 5).map((_, i) => Math.sin(i));
    const path = join(dir, 'a', 'b', 'samples.png');
    await writeSampleGrid(path, images, 16, 3, 5, 5);
    const back = await readPng(path);
    const want = imagesToGrid(images, 16, 3, 5, 5);
    // 4×4 tiles of 5 px: 30 px wide, so scaled ×18 to 540 (the smallest whole factor reaching 512).
    assert.equal(want.width, 30);
    assert.deepEqual([back.width, back.height], [540, 540]);
    assert.deepEqual(back.rgba, upscale(want, 18).rgba);
    assert.deepEqual(await readdir(join(dir, 'a', 'b')), ['samples.png']);
  });
});

test('upscale: every pixel becomes an f×f square of its colour', () => {
  const img = { width: 3, height: 2, rgba: Uint8Array.from({ length: 24 }, (_, i) => i * 10) };
  const up = upscale(img, 3);
  assert.deepEqual([up.width, up.height], [9, 6]);
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 9; x++) assert.deepEqual(pixel(up, x, y), pixel(img, Math.floor(x / 3), Math.floor(y / 3)), `${x},${y}`);
  }
  assert.equal(upscale(img, 1), img);
  assert.throws(() => upscale(img, 1.5), GancError);
});

test('sample grids of small images are scaled up to at least 512 px wide by a whole factor; 64 px grids are not', () => {
  const width = (size: number, n = 64) => imagesToGrid(new Float32Array(n * 3 * size * size), n, 3, size, size).width;
  assert.equal(width(32), 274);
  assert.equal(gridScale(width(32)), 2); // 548 px
  assert.equal(gridScale(width(16)), 4); // 146 → 584 px
  assert.equal(gridScale(width(64)), 1); // 530 px already
  assert.equal(gridScale(width(128)), 1);
  for (const size of [8, 16, 24, 32, 48, 64]) {
    const w = width(size) * gridScale(width(size));
    assert.ok(w >= 512 && w < 512 + width(size), `${size} px: ${w}`);
  }
});

test('write and read failures are GancErrors', async () => {
  await withTmp(async (dir) => {
    const file = join(dir, 'plain.png');
    await writeSampleGrid(file, new Float32Array(4), 1, 1, 2, 2);
    // A folder cannot be created under a file.
    await assert.rejects(writeSampleGrid(join(file, 'x.png'), new Float32Array(4), 1, 1, 2, 2), GancError);
    await assert.rejects(readPng(join(dir, 'missing.png')), GancError);
  });
});

function noisy(n: number, f: (i: number) => number, seed = 7): [number, number][] {
  let s = seed;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) - 0.5;
  return Array.from({ length: n }, (_, i): [number, number] => [i, f(i) + 0.3 * rnd()]);
}

const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

/** Near-black pixels (text: title, tick labels, axis titles; the chart's lines and grid are coloured or grey). */
function darkPixels(img: RgbaImage, y0 = 0, y1 = img.height): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = 0; x < img.width; x++) if (Math.max(...pixel(img, x, y).slice(0, 3)) < 70) n++;
  return n;
}

test('loss curve: requested size, each series in its colour (bold EMA and light raw line), text drawn', async () => {
  await withTmp(async (dir) => {
    const path = join(dir, 'loss.png');
    const series = [
      { name: 'd_loss', points: noisy(600, (i) => 1.5 * Math.exp(-i / 200) + 0.3) },
      { name: 'g_loss', points: noisy(600, (i) => 0.7 + i / 1000, 3) },
    ];
    await writeLossCurve(path, series, { title: 'losses', width: 640, height: 360 });
    const img = await readPng(path);
    assert.equal(img.width, 640);
    assert.equal(img.height, 360);
    for (const hex of SERIES_COLORS.slice(0, 2)) {
      const c = rgb(hex);
      assert.ok(countColor(img, c, 8) > 100, `EMA colour ${hex} drawn`);
      const light = c.map((v) => Math.round(v * RAW_OPACITY + 255 * (1 - RAW_OPACITY)));
      assert.ok(countColor(img, light, 8) > 100, `raw colour ${light} drawn`);
    }
    assert.equal(countColor(img, rgb(SERIES_COLORS[2]), 8), 0, 'no third series colour');
    // The title (top rows) and the tick labels are text: resvg found a font.
    assert.ok(darkPixels(img, 0, 22) > 40, `title text drawn (${darkPixels(img, 0, 22)} dark pixels)`);
    assert.ok(darkPixels(img) > 400, `tick labels drawn (${darkPixels(img)} dark pixels)`);
  });
});

test('loss curve copes with NaN/Infinity, a single point, empty series and no series', async () => {
  await withTmp(async (dir) => {
    const bad: [number, number][] = [[0, 1], [1, NaN], [2, Infinity], [3, 0.5], [NaN, 2], [4, -Infinity], [5, 0.7]];
    await writeLossCurve(join(dir, 'nan.png'), [{ name: 'd', points: bad }, { name: 'one', points: [[2, 0.8]] }, { name: 'none', points: [] }]);
    const img = await readPng(join(dir, 'nan.png'));
    assert.equal(img.width, 800);
    assert.equal(img.height, 480);
    assert.ok(countColor(img, rgb(SERIES_COLORS[0]), 8) > 20);
    assert.ok(countColor(img, rgb(SERIES_COLORS[1]), 8) > 5, 'single point drawn as a dot');
    await writeLossCurve(join(dir, 'allnan.png'), [{ name: 'x', points: [[0, NaN], [1, NaN]] }]);
    await writeLossCurve(join(dir, 'empty.png'), [], { width: 300, height: 200 });
    assert.equal((await readPng(join(dir, 'empty.png'))).width, 300);
    assert.ok((await stat(join(dir, 'allnan.png'))).size > 0);
    await assert.rejects(writeLossCurve(join(dir, 'tiny.png'), [], { width: 50, height: 50 }), GancError);
  });
});

test('y range ignores a few huge outliers but keeps true extremes when they are close', () => {
  const vals = Array.from({ length: 1000 }, (_, i) => 1 + Math.sin(i));
  const r = robustRange([...vals, 1e6, -1e6]);
  assert.ok(r.hi < 3.2 && r.hi > 2, `hi ${r.hi}`);
  assert.ok(r.lo > -0.2 && r.lo < 0, `lo ${r.lo}`);
  const plain = robustRange(vals);
  assert.ok(plain.hi >= 2 && plain.lo <= 0);
  assert.deepEqual(robustRange([]), { lo: 0, hi: 1 });
  const flat = robustRange([2, 2, 2]);
  assert.ok(flat.lo < 2 && flat.hi > 2);
});

test('chart rows: non-finite values break the line; the EMA is debiased and runs over values clamped to the range', () => {
  const pts: [number, number][] = Array.from({ length: 300 }, (_, i) => [i, 1 + 0.01 * Math.sin(i)]);
  pts[0][1] = 1e6;
  pts[50][1] = NaN;
  const { rows, hi } = chartRows([{ name: 'd', points: pts }], 0.9);
  assert.equal(rows.length, 300);
  assert.equal(rows[50].value, null);
  assert.equal(rows[50].smooth, null);
  assert.ok(hi < 2, `range ignores the spike (hi ${hi})`);
  // Debiased EMA of constant values is that constant; the clamped spike fades within tens of steps, not thousands.
  assert.ok(Math.abs(rows[299].smooth! - 1) < 0.02, `smooth ${rows[299].smooth}`);
  const flat = chartRows([{ name: 'c', points: [[0, 3], [1, 3], [2, 3]] }], 0.99).rows;
  for (const r of flat) assert.ok(Math.abs(r.smooth! - 3) < 1e-12, `smooth ${r.smooth}`);
});
