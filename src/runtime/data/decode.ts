/** One image file → size×size RGB, CHW: decoded by jimp, alpha on white, centre-cropped, resized. */
import { Jimp } from 'jimp';

/** Images smaller than this on either side carry too little to learn from, and are skipped. */
export const MIN_SIDE = 8;

export type Decoded =
  | { ok: true; chw: Uint8Array }
  | { ok: false; kind: 'not decodable'; detail: string }
  | { ok: false; kind: 'too small'; detail: string };

export async function decodeSquare(bytes: Buffer, size: number): Promise<Decoded> {
  let bitmap: { data: Buffer; width: number; height: number };
  try {
    // jimp picks the codec from the magic bytes (PNG, JPEG, BMP, GIF's first frame, TIFF) and always
    // hands back 8-bit RGBA, whatever the file's own colour type (grey, palette, 16-bit, CMYK JPEG).
    bitmap = (await Jimp.fromBuffer(bytes)).bitmap;
  } catch (e) {
    // A codec module that cannot be loaded (e.g. node_modules being reinstalled) is no fault of the image: it must
    // not be cached as "not decodable".
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw e;
    return { ok: false, kind: 'not decodable', detail: e instanceof Error ? e.message : String(e) };
  }
  const { width: w, height: h, data } = bitmap;
  if (!(w >= MIN_SIDE && h >= MIN_SIDE)) return { ok: false, kind: 'too small', detail: `${w}×${h}` };

  // Centre crop and alpha-on-white in one pass, before resizing, so that the colour of transparent pixels
  // (often black) never bleeds into the edges of the resized picture.
  const side = Math.min(w, h);
  const x0 = (w - side) >> 1;
  const y0 = (h - side) >> 1;
  const square = Buffer.alloc(side * side * 4);
  for (let y = 0; y < side; y++) {
    let s = ((y0 + y) * w + x0) * 4;
    let d = y * side * 4;
    for (let x = 0; x < side; x++, s += 4, d += 4) {
      const a = data[s + 3];
      const t = 255 - a;
      square[d] = (data[s] * a + 255 * t + 127) / 255;
      square[d + 1] = (data[s + 1] * a + 255 * t + 127) / 255;
      square[d + 2] = (data[s + 2] * a + 255 * t + 127) / 255;
      square[d + 3] = 255;
    }
  }

  let rgba: Buffer = square;
  if (side !== size) {
    // jimp's default resize (two-pass, area-averaging when shrinking) is the good-quality one; its
    // named modes only sample, which aliases on large downscales.
    const img = new Jimp({ width: side, height: side, data: square });
    img.resize({ w: size, h: size });
    rgba = img.bitmap.data;
  }

  const plane = size * size;
  const chw = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    chw[i] = rgba[i * 4];
    chw[plane + i] = rgba[i * 4 + 1];
    chw[2 * plane + i] = rgba[i * 4 + 2];
  }
  return { ok: true, chw };
}
