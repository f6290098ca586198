/**
 * The image data pipeline on real pictures: logos rendered by ganc's own renderer, and test/fixtures/odd/
 * (the same kind of logos saved in awkward formats by test/fixtures/make-odd.sh).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Jimp } from 'jimp';
import { siFirefoxbrowser, siSpotify } from 'simple-icons';
import { GancError } from '../src/errors.ts';
import { decodeSquare } from '../src/runtime/data/decode.ts';
import { batchToFloat, loadImageFolder, skippedSummary, unlabelledCount, type Dataset } from '../src/runtime/data/images.ts';
import { buildLogos, ensureBuiltinLogos } from '../src/runtime/data/logos.ts';
import { renderTile } from '../src/runtime/data/render.ts';

const ODD = resolve(import.meta.dirname, 'fixtures/odd');
let tmp: string;
let cache: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ganc-data-'));
  cache = join(tmp, 'cache');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** [r, g, b] of image i at (x, y). */
function rgb(ds: Dataset, i: number, x: number, y: number): number[] {
  const plane = ds.size * ds.size;
  const at = i * 3 * plane + y * ds.size + x;
  return [ds.pixels[at], ds.pixels[at + plane], ds.pixels[at + 2 * plane]];
}

function image(ds: Dataset, i: number): Uint8Array {
  const vol = 3 * ds.size * ds.size;
  return ds.pixels.subarray(i * vol, (i + 1) * vol);
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** The 64 px tile of a simple-icons logo, as the loader would see it. */
async function tile(icon: { hex: string; path: string }): Promise<Uint8Array> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#${icon.hex}" d="${icon.path}"/></svg>`;
  const r = await decodeSquare((await renderTile(svg, 64))!, 64);
  assert.ok(r.ok);
  return r.chw;
}

async function rejectsGanc(p: Promise<unknown>, ...parts: (string | RegExp)[]) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof GancError, `expected a GancError, got ${e}`);
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(e.line.includes(part), `"${e.line}" should mention ${part}`);
      else assert.match(e.line, part);
    }
    return true;
  });
}

describe('odd images (test/fixtures/odd)', () => {
  // Sorted order: anim.gif cmyk.jpg gray.png logo.bmp logo.tif palette.png rgba.png wide.png.
  const NAMES = ['anim.gif', 'cmyk.jpg', 'gray.png', 'logo.bmp', 'logo.tif', 'palette.png', 'rgba.png', 'wide.png'];
  let ds: Dataset;
  let spotify: Uint8Array;
  let firefox: Uint8Array;
  before(async () => {
    ds = await loadImageFolder(ODD, { size: 64, cacheDir: cache });
    spotify = await tile(siSpotify);
    firefox = await tile(siFirefoxbrowser);
  });
  const at = (name: string) => NAMES.indexOf(name);

  test('decodes the 8 images and skips the 3 unusable files with their reasons', () => {
    assert.equal(ds.count, 8);
    assert.equal(ds.pixels.length, 8 * 3 * 64 * 64);
    assert.equal(ds.source, ODD);
    const reasons = Object.fromEntries(ds.skipped.map((s) => [s.file, s.reason]));
    assert.deepEqual(Object.keys(reasons).sort(), ['corrupt.png', 'notes.txt', 'tiny.png']);
    assert.match(reasons['corrupt.png'], /^not decodable: /);
    assert.match(reasons['notes.txt'], /^not decodable: /);
    assert.equal(reasons['tiny.png'], 'too small: 1×1');
    assert.equal(
      skippedSummary(ds),
      `skipped 3 of 11 files in ${ODD}: 2 not decodable (corrupt.png, notes.txt), 1 too small (tiny.png 1×1)`,
    );
  });

  test('transparent pixels become white, opaque ones keep their colour', () => {
    const i = at('rgba.png'); // Spotify's logo filling the frame, transparent around the circle
    assert.deepEqual(rgb(ds, i, 0, 0), [255, 255, 255]);
    assert.deepEqual(rgb(ds, i, 63, 63), [255, 255, 255]);
    assert.deepEqual(rgb(ds, i, 0, 32), [0x1e, 0xd7, 0x60]); // the circle's edge at mid-height: #1ED760
  });

  test('grayscale becomes R = G = B, and keeps its dark parts', () => {
    const i = at('gray.png');
    let min = 255;
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) {
        const [r, g, b] = rgb(ds, i, x, y);
        assert.ok(r === g && g === b, `(${x},${y}) is ${r},${g},${b}`);
        min = Math.min(min, r);
      }
    }
    assert.ok(min < 160, `darkest grey ${min}`); // Firefox's orange, #FF7139, is a middle grey
  });

  test('centre crop of a 96×64 image keeps the centre (the logo, not the red and blue side bars)', () => {
    const i = at('wide.png');
    assert.equal(meanAbsDiff(image(ds, i), spotify), 0);
    for (let y = 0; y < 64; y++) assert.deepEqual([rgb(ds, i, 0, y), rgb(ds, i, 63, y)], [[255, 255, 255], [255, 255, 255]]);
  });

  test('CMYK JPEG: jimp converts it to RGB, close to the original logo', () => {
    // jimp (jpeg-js) decodes Adobe CMYK JPEGs itself, so the file is used, not skipped.
    assert.ok(meanAbsDiff(image(ds, at('cmyk.jpg')), spotify) < 4);
  });

  test('GIF gives its first frame; BMP, TIFF and palette PNG decode to the logo', () => {
    assert.ok(meanAbsDiff(image(ds, at('anim.gif')), spotify) < 1);
    assert.ok(meanAbsDiff(image(ds, at('anim.gif')), firefox) > 20);
    assert.equal(meanAbsDiff(image(ds, at('logo.bmp')), firefox), 0);
    assert.equal(meanAbsDiff(image(ds, at('logo.tif')), firefox), 0);
    assert.ok(meanAbsDiff(image(ds, at('palette.png')), firefox) < 2); // 16 colours
  });

  test('resizing to 16 px averages: white margin stays white, the result is close to the big one shrunk', async () => {
    const small = await loadImageFolder(ODD, { size: 16, cacheDir: cache });
    assert.equal(small.count, 8);
    assert.deepEqual(rgb(small, at('wide.png'), 0, 0), [255, 255, 255]);
    // Box-average the 64 px image by 4×4 and compare: a sampling resize would be far off on thin lines.
    const big = image(ds, at('gray.png'));
    const box = new Uint8Array(3 * 16 * 16);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          let s = 0;
          for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) s += big[c * 4096 + (4 * y + dy) * 64 + 4 * x + dx];
          box[c * 256 + y * 16 + x] = Math.round(s / 16);
        }
      }
    }
    assert.ok(meanAbsDiff(image(small, at('gray.png')), box) < 3);
  });

  test('batchToFloat maps 0..255 to [-1, 1] (0 → -1, 255 → 1), in the order of the indices', () => {
    const out = new Float32Array(2 * 3 * 64 * 64);
    batchToFloat(ds, [at('rgba.png'), at('gray.png')], out);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of out) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    assert.ok(lo >= -1 && hi <= 1, `range ${lo}..${hi}`);
    assert.equal(out[0], 1); // rgba.png's white corner
    assert.equal(out[32 * 64], Math.fround(0x1e / 127.5 - 1));

    const tiny: Dataset = { pixels: new Uint8Array([0, 255, 51, 127, 128, 204]), count: 2, size: 1, skipped: [], source: '' };
    const two = new Float32Array(6);
    batchToFloat(tiny, [1, 0], two);
    assert.deepEqual([...two], [127 / 127.5 - 1, 128 / 127.5 - 1, 204 / 127.5 - 1, -1, 1, 51 / 127.5 - 1].map(Math.fround));
    assert.throws(() => batchToFloat(tiny, [2], two), RangeError);
  });
});

test('batchToFloat to 1 channel: grey images give their grey value, colour gives the BT.601 luma', async () => {
  const grey = await loadImageFolder(ODD, { size: 16, cacheDir: cache });
  const g = grey.pixels.subarray(2 * 3 * 256, 3 * 3 * 256); // gray.png (sorted third)
  const one = new Float32Array(256);
  batchToFloat(grey, [2], one, 1);
  assert.deepEqual([...one], Array.from(g.subarray(0, 256), (v) => Math.fround(v / 127.5 - 1)));
  // Pure red, green, blue, white: 0.299·255, 0.587·255, 0.114·255, 255.
  const rgbDs: Dataset = { pixels: new Uint8Array([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255]), count: 1, size: 2, skipped: [], source: '' };
  const out = new Float32Array(4);
  batchToFloat(rgbDs, [0], out, 1);
  [0.299, 0.587, 0.114, 1].forEach((w, i) => assert.ok(Math.abs(out[i] - (w * 255) / 127.5 + 1) < 1e-5, `pixel ${i}: ${out[i]}`));
  assert.throws(() => batchToFloat(rgbDs, [0], new Float32Array(3), 1), RangeError);
});

test('a 28×28 grey PNG (as ganc data fashion-mnist writes them) loads resized to 32: background stays 0, R = G = B', async () => {
  const dir = join(tmp, 'grey28');
  await mkdir(dir);
  // A real picture: the grey logo, shrunk to 28 px and inverted onto black like Fashion-MNIST (0 = background).
  const img = (await Jimp.read(join(ODD, 'gray.png'))).resize({ w: 28, h: 28 }).invert();
  await writeFile(join(dir, 'x.png'), await img.getBuffer('image/png', { colorType: 0 }));
  const ds = await loadImageFolder(dir, { size: 32, cacheDir: cache });
  assert.equal(ds.size, 32);
  for (const [x, y] of [[0, 0], [31, 0], [0, 31], [31, 31]]) assert.deepEqual(rgb(ds, 0, x, y), [0, 0, 0]);
  let max = 0;
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
    const [r, g, b] = rgb(ds, 0, x, y);
    assert.ok(r === g && g === b);
    max = Math.max(max, r);
  }
  assert.ok(max > 100, `the inverted logo is bright (max ${max})`);
  // Resized, not padded: the centre of the 28 px picture lands on the centre of the 32 px one.
  const src = img.bitmap.data;
  const centre28 = src[(14 * 28 + 14) * 4];
  assert.ok(Math.abs(rgb(ds, 0, 16, 16)[0] - centre28) < 40, `centre ${rgb(ds, 0, 16, 16)[0]} vs ${centre28}`);
});

describe('folders', () => {
  test('an empty or missing folder, or one with no usable image, is a GancError naming it', async () => {
    const empty = join(tmp, 'empty');
    await mkdir(empty);
    await rejectsGanc(loadImageFolder(empty, { size: 32, cacheDir: cache }), empty, 'no images');
    await rejectsGanc(loadImageFolder(join(tmp, 'nope'), { size: 32, cacheDir: cache }), join(tmp, 'nope'), 'no such folder');
    const junk = join(tmp, 'junk');
    await mkdir(junk);
    await cp(join(ODD, 'notes.txt'), join(junk, 'notes.txt'));
    const cached = async () => (await readdir(cache).catch(() => [])).length;
    const before = await cached();
    await rejectsGanc(loadImageFolder(junk, { size: 32, cacheDir: cache }), junk, 'no images found (1 file, none a usable image)');
    assert.equal(await cached(), before, 'a folder with nothing usable is not cached (decoded afresh next time)');
    await rejectsGanc(loadImageFolder(ODD, { size: 32, minCount: 64, cacheDir: cache }), ODD, 'only 8 images, at least 64 needed');
  });

  test('hidden files and folders, and a cache inside the folder, are ignored', async () => {
    const dir = join(tmp, 'hidden');
    await mkdir(join(dir, '.git'), { recursive: true });
    await cp(join(ODD, 'gray.png'), join(dir, 'a.png'));
    await cp(join(ODD, 'gray.png'), join(dir, '.b.png'));
    await cp(join(ODD, 'gray.png'), join(dir, '.git', 'c.png'));
    const inner = join(dir, 'cache');
    const first = await loadImageFolder(dir, { size: 16, cacheDir: inner });
    const second = await loadImageFolder(dir, { size: 16, cacheDir: inner });
    assert.deepEqual([first.count, second.count, first.skipped.length, second.skipped.length], [1, 1, 0, 0]);
    assert.equal(second.fromCache, true);
  });
});

describe('rendered logos, labels and the cache', () => {
  let logos: string;
  before(async () => {
    logos = join(tmp, 'logos');
    const r = await buildLogos(logos, { size: 32, limit: 6 });
    assert.deepEqual([r.written, r.failed.length, r.sources], [6, 0, ['simple-icons', 'iconify-logos']]);
  });

  test('buildLogos writes PNG tiles from both sources, logo centred on white', async () => {
    assert.equal((await readdir(join(logos, 'simple-icons'))).length, 3);
    assert.equal((await readdir(join(logos, 'iconify-logos'))).length, 3);
    const ds = await loadImageFolder(logos, { size: 32, cacheDir: cache });
    assert.equal(ds.count, 6);
    for (let i = 0; i < ds.count; i++) {
      // The logo fills 80% of the side: the outer 3 pixels are margin, the middle is not all white.
      for (const [x, y] of [[0, 0], [31, 0], [0, 31], [31, 31], [2, 16], [29, 16]]) assert.deepEqual(rgb(ds, i, x, y), [255, 255, 255]);
      assert.ok(image(ds, i).some((v) => v < 200), `image ${i} is blank`);
    }
  });

  test('labels: each subfolder is a class, sorted', async () => {
    const ds = await loadImageFolder(logos, { size: 32, labels: true, cacheDir: cache });
    assert.deepEqual(ds.classes, ['iconify-logos', 'simple-icons']);
    assert.deepEqual([...ds.labels!], [0, 0, 0, 1, 1, 1]);
  });

  test('labels need at least 2 class folders and no images directly in the folder', async () => {
    const one = join(tmp, 'one-class');
    await cp(join(logos, 'simple-icons'), join(one, 'simple-icons'), { recursive: true });
    await rejectsGanc(loadImageFolder(one, { size: 32, labels: true, cacheDir: cache }), 'model needs labelled data: put each class in its own subfolder of', one);
    await cp(join(logos, 'iconify-logos'), join(one, 'iconify-logos'), { recursive: true });
    await cp(join(ODD, 'gray.png'), join(one, 'stray.png'));
    await rejectsGanc(loadImageFolder(one, { size: 32, labels: true, cacheDir: cache }), 'stray.png lies directly in the folder', one);
    await rm(join(one, 'stray.png'));
    assert.equal((await loadImageFolder(one, { size: 32, labels: true, cacheDir: cache })).count, 6);
  });

  test('labels: _unlabelled/ holds images without a label (−1), not a class; labelled and unlabelled load together', async () => {
    const dir = join(tmp, 'semi');
    await cp(logos, dir, { recursive: true });
    await mkdir(join(dir, '_unlabelled', 'more'), { recursive: true });
    await cp(join(ODD, 'gray.png'), join(dir, '_unlabelled', 'g.png'));
    await cp(join(ODD, 'rgba.png'), join(dir, '_unlabelled', 'more', 'r.png'));
    const ds = await loadImageFolder(dir, { size: 32, labels: true, cacheDir: cache });
    assert.deepEqual(ds.classes, ['iconify-logos', 'simple-icons']);
    // Images keep the order of their paths: '_unlabelled' sorts before the lower-case class folders.
    assert.deepEqual([...ds.labels!], [-1, -1, 0, 0, 0, 1, 1, 1]);
    assert.equal(unlabelledCount(ds), 2);
    const plain = await loadImageFolder(dir, { size: 32, cacheDir: cache });
    assert.equal(plain.count, 8, 'without labels every image is data');
    // Only unlabelled images is not labelled data.
    const none = join(tmp, 'only-unlabelled');
    await cp(join(dir, '_unlabelled'), join(none, '_unlabelled'), { recursive: true });
    await rejectsGanc(loadImageFolder(none, { size: 32, labels: true, cacheDir: cache }), 'found 0 subfolders', none);
  });

  test('the second load reads the cache (no decoding) and gives identical bytes; a changed file invalidates it', async () => {
    const dir = join(tmp, 'cached');
    await cp(logos, dir, { recursive: true });
    const c = join(tmp, 'cache2');
    const first = await loadImageFolder(dir, { size: 24, labels: true, cacheDir: c });
    let decoded = 0;
    const second = await loadImageFolder(dir, { size: 24, labels: true, cacheDir: c, onProgress: () => decoded++ });
    assert.equal(first.fromCache, undefined);
    assert.equal(second.fromCache, true);
    assert.equal(decoded, 0); // progress is reported only while decoding
    assert.deepEqual(second.pixels, first.pixels);
    assert.deepEqual(second.labels, first.labels);
    assert.deepEqual([second.classes, second.count, second.skipped], [first.classes, first.count, first.skipped]);
    assert.deepEqual((await readdir(c)).filter((f) => !f.endsWith('.bin')), []); // no temporary file left

    const f = join(dir, 'simple-icons', (await readdir(join(dir, 'simple-icons')))[0]);
    await utimes(f, new Date(), new Date(Date.now() + 5000));
    const third = await loadImageFolder(dir, { size: 24, labels: true, cacheDir: c, onProgress: () => decoded++ });
    assert.equal(third.fromCache, undefined);
    assert.ok(decoded > 0);
    assert.deepEqual(third.pixels, first.pixels);
  });
});

test('ensureBuiltinLogos reuses a finished folder (its completion marker) without rendering', async () => {
  const saved = process.env.GANC_CACHE;
  process.env.GANC_CACHE = join(tmp, 'ganc-cache');
  try {
    const done = join(tmp, 'ganc-cache', 'logos-16');
    await mkdir(join(done, 'simple-icons'), { recursive: true });
    await writeFile(join(done, '.complete'), JSON.stringify({ sources: ['simple-icons', 'iconify-logos'], written: 0, failed: [] }));
    assert.equal(await ensureBuiltinLogos(16), done);
  } finally {
    if (saved === undefined) delete process.env.GANC_CACHE;
    else process.env.GANC_CACHE = saved;
  }
});
