/**
 * PNG output for training runs: sample grids drawn into a plain RGBA buffer (fast, exact pixels), PNG reading and
 * writing through jimp. Charts (loss curves) are in loss_curve.ts.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Jimp } from 'jimp';
import { GancError } from '../errors.ts';

export interface RgbaImage {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** Grey of the padding between grid tiles: neutral, so neither dark nor light samples blend into it. */
export const GRID_PAD_GREY = 128;

// ---------------------------------------------------------------- sample grid

/** Tiles n NCHW images (values in [-1, 1], clamped) into one RGBA picture, row-major. */
export function imagesToGrid(
  images: Float32Array,
  n: number,
  channels: number,
  h: number,
  w: number,
  opts: { cols?: number; pad?: number } = {},
): RgbaImage {
  if (channels !== 1 && channels !== 3) throw new GancError(`sample grid: images must have 1 or 3 channels, got ${channels}`);
  if (!(n >= 1 && h >= 1 && w >= 1) || ![n, h, w].every(Number.isInteger)) {
    throw new GancError(`sample grid: bad image count or size (n=${n}, ${h}x${w})`);
  }
  const need = n * channels * h * w;
  if (images.length < need) {
    throw new GancError(`sample grid: expected ${need} values for ${n}x${channels}x${h}x${w}, got ${images.length}`);
  }
  const cols = Math.max(1, Math.min(n, Math.floor(opts.cols ?? Math.ceil(Math.sqrt(n)))));
  const rows = Math.ceil(n / cols);
  const pad = Math.max(0, Math.floor(opts.pad ?? 2));
  const width = cols * w + (cols + 1) * pad;
  const height = rows * h + (rows + 1) * pad;
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < rgba.length; i += 4) {
    rgba[i] = rgba[i + 1] = rgba[i + 2] = GRID_PAD_GREY;
    rgba[i + 3] = 255;
  }
  const plane = h * w;
  for (let k = 0; k < n; k++) {
    const x0 = pad + (k % cols) * (w + pad);
    const y0 = pad + Math.floor(k / cols) * (h + pad);
    const base = k * channels * plane;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = ((y0 + y) * width + x0 + x) * 4;
        const p = base + y * w + x;
        for (let c = 0; c < 3; c++) rgba[o + c] = toByte(images[p + (channels === 3 ? c * plane : 0)]);
      }
    }
  }
  return { width, height, rgba };
}

/** [-1, 1] → [0, 255]; NaN shows as black rather than poisoning the picture. */
function toByte(v: number): number {
  if (!(v > -1)) return 0;
  if (v >= 1) return 255;
  return Math.round((v + 1) * 127.5);
}

/**
 * Sample grids narrower than this are scaled up by a whole factor (8×8 tiles of 32 px would be 274 px wide, too small
 * to judge on a screen); nearest neighbour, so every generated pixel stays an exact square of one colour.
 */
export const GRID_MIN_WIDTH = 512;

/** The smallest whole factor that makes `width` at least `minWidth` (1 when it already is). */
export function gridScale(width: number, minWidth = GRID_MIN_WIDTH): number {
  return Math.max(1, Math.ceil(minWidth / width));
}

/** Each pixel becomes an f×f square. */
export function upscale(img: RgbaImage, f: number): RgbaImage {
  if (!(Number.isInteger(f) && f >= 1)) throw new GancError(`upscale: factor must be a positive integer, got ${f}`);
  if (f === 1) return img;
  const width = img.width * f;
  const height = img.height * f;
  const rgba = new Uint8Array(width * height * 4);
  const rowBytes = width * 4;
  for (let y = 0; y < img.height; y++) {
    const row = y * f * rowBytes;
    for (let x = 0; x < img.width; x++) {
      const src = img.rgba.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4);
      for (let k = 0; k < f; k++) rgba.set(src, row + (x * f + k) * 4);
    }
    for (let k = 1; k < f; k++) rgba.copyWithin(row + k * rowBytes, row, row + rowBytes);
  }
  return { width, height, rgba };
}

/** Writes the grid of imagesToGrid, scaled up to at least `minWidth` (default GRID_MIN_WIDTH) pixels wide. */
export async function writeSampleGrid(
  path: string,
  images: Float32Array,
  n: number,
  channels: number,
  h: number,
  w: number,
  opts: { cols?: number; pad?: number; minWidth?: number } = {},
): Promise<void> {
  const grid = imagesToGrid(images, n, channels, h, w, opts);
  await writePng(path, upscale(grid, gridScale(grid.width, opts.minWidth)));
}

// ---------------------------------------------------------------- PNG I/O

function toJimp(img: RgbaImage) {
  return Jimp.fromBitmap({
    width: img.width,
    height: img.height,
    data: Buffer.from(img.rgba.buffer, img.rgba.byteOffset, img.rgba.byteLength),
  });
}

/** Writes via a temporary file and rename, so a reader (or a crash) never sees half a PNG. */
export async function writePng(path: string, img: RgbaImage): Promise<void> {
  await writeFileAtomic(path, await toJimp(img).getBuffer('image/png'));
}

export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new GancError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

export async function readPng(path: string): Promise<RgbaImage> {
  let img;
  try {
    img = await Jimp.read(path);
  } catch (err) {
    throw new GancError(`cannot read image ${path}: ${(err as Error).message}`);
  }
  const { width, height, data } = img.bitmap;
  return { width, height, rgba: new Uint8Array(data) };
}

// Loss curves live in loss_curve.ts; re-exported so callers need one import for the run's pictures.
export * from './loss_curve.ts';
