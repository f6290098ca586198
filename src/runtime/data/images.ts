/**
 * Image folders as training data: every image under a folder, decoded once to size×size RGB and cached,
 * then served as float batches in [-1, 1] with the model's channels (grey: BT.601 luma).
 *
 * With labels, each subfolder is a class, except `_unlabelled` (UNLABELLED_FOLDER), whose images get label −1: the
 * unlabelled pool of semi-supervised training.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { GancError } from '../../errors.ts';
import { defaultCacheRoot, writeFileAtomic } from './cache.ts';
import { decodeSquare, type Decoded } from './decode.ts';

export { defaultCacheRoot } from './cache.ts';

export interface Dataset {
  /** N × 3 × size × size, NCHW, RGB 0..255. */
  pixels: Uint8Array;
  count: number;
  size: number;
  /** Class index per image, when loaded with labels; −1 for the images of the `_unlabelled` folder. */
  labels?: Int32Array;
  /** Class names (sorted subfolder names). */
  classes?: string[];
  /** Files that are not usable images; `file` is relative to `source`, `reason` starts with its kind. */
  skipped: { file: string; reason: string }[];
  /** The folder (absolute). */
  source: string;
  /** True when the pixels came from the cache rather than from decoding. */
  fromCache?: boolean;
}

export interface LoadOptions {
  size: number;
  labels?: boolean;
  minCount?: number;
  cacheDir?: string;
  onProgress?: (done: number, total: number) => void;
}

/** Bump when decoding changes (crop, resize, alpha handling, file layout) so old caches are not reused. */
const FORMAT_VERSION = 2;
/** With labels: the subfolder of images that have none (label −1), not a class. */
export const UNLABELLED_FOLDER = '_unlabelled';
/** Files decoded concurrently (see decodeAll). */
const DECODE_WINDOW = 32;

interface FileEntry {
  path: string;
  bytes: number;
  mtimeMs: number;
  /** Index into the class list; -1 for unlabelled images (with labels: in UNLABELLED_FOLDER). */
  cls: number;
  /** Lies directly in the folder (an error with labels, unless it is no image). */
  loose?: boolean;
}

export async function loadImageFolder(dir: string, opts: LoadOptions): Promise<Dataset> {
  const { size } = opts;
  if (!(Number.isInteger(size) && size >= 1)) throw new GancError(`image size must be a positive integer, got ${size}`);
  const source = resolve(dir);
  const cacheDir = resolve(opts.cacheDir ?? join(defaultCacheRoot(), 'data'));
  const { files, classes } = await listImageFolder(source, cacheDir, !!opts.labels);

  const key = createHash('sha256')
    .update(JSON.stringify({ v: FORMAT_VERSION, size, labels: !!opts.labels, files: files.map((f) => [f.path, f.bytes, f.mtimeMs]) }))
    .digest('hex')
    .slice(0, 32);
  const cacheFile = join(cacheDir, `${key}.bin`);
  let ds = await readCache(cacheFile, source);
  if (!ds) {
    ds = await decodeAll(files, classes, source, opts);
    if (ds.count > 0) await writeCache(cacheFile, ds); // nothing usable: an error below, tried afresh next time
  }
  checkCounts(ds, opts.minCount ?? 1);
  return ds;
}

/**
 * Fill `out` (length indices.length·channels·size²) with the images at `indices`, scaled to [-1, 1]: RGB for 3
 * channels; for 1 channel the BT.601 luma 0.299 R + 0.587 G + 0.114 B (exactly the grey value of a grey image,
 * whose R = G = B).
 */
export function batchToFloat(ds: Dataset, indices: ArrayLike<number>, out: Float32Array, channels: 1 | 3 = 3): void {
  const plane = ds.size * ds.size;
  const vol = 3 * plane;
  const outVol = channels * plane;
  if (out.length < indices.length * outVol) {
    throw new RangeError(`batchToFloat: out holds ${out.length} values, ${indices.length} images need ${indices.length * outVol}`);
  }
  const px = ds.pixels;
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (!(Number.isInteger(i) && i >= 0 && i < ds.count)) throw new RangeError(`batchToFloat: index ${i} outside 0..${ds.count - 1}`);
    const src = i * vol;
    const dst = j * outVol;
    if (channels === 3) for (let k = 0; k < vol; k++) out[dst + k] = px[src + k] / 127.5 - 1;
    else {
      for (let k = 0; k < plane; k++) {
        const luma = 0.299 * px[src + k] + 0.587 * px[src + plane + k] + 0.114 * px[src + 2 * plane + k];
        out[dst + k] = luma / 127.5 - 1;
      }
    }
  }
}

/** The channel counts batchToFloat serves, checked for a model. */
export function imageChannels(channels: number, what: string): 1 | 3 {
  if (channels !== 1 && channels !== 3) throw new GancError(`${what}: images have 1 (grey) or 3 (RGB) channels, not ${channels}`);
  return channels;
}

/** Images of the `_unlabelled` folder (label −1) in a labelled data set. */
export function unlabelledCount(ds: Pick<Dataset, 'labels'>): number {
  let n = 0;
  for (const l of ds.labels ?? []) if (l < 0) n++;
  return n;
}

/** The one line to print about skipped files, or undefined when none were skipped. */
export function skippedSummary(ds: Dataset, maxNames = 4): string | undefined {
  if (ds.skipped.length === 0) return undefined;
  const groups = new Map<string, string[]>();
  for (const { file, reason } of ds.skipped) {
    const cut = reason.indexOf(': ');
    const kind = cut < 0 ? reason : reason.slice(0, cut);
    // Sizes are worth showing ("c.png 1×1"); decoder messages are too long for one line.
    const name = kind === 'too small' && cut >= 0 ? `${file} ${reason.slice(cut + 2)}` : file;
    groups.set(kind, [...(groups.get(kind) ?? []), name]);
  }
  const parts = [...groups].map(([kind, names]) => {
    const shown = names.slice(0, maxNames).join(', ') + (names.length > maxNames ? ', …' : '');
    return `${names.length} ${kind} (${shown})`;
  });
  return `skipped ${ds.skipped.length} of ${ds.count + ds.skipped.length} files in ${ds.source}: ${parts.join(', ')}`;
}

// ---------------------------------------------------------------- listing

async function listImageFolder(source: string, cacheDir: string, labels: boolean): Promise<{ files: FileEntry[]; classes?: string[] }> {
  let top;
  try {
    top = await stat(source);
  } catch {
    throw new GancError('no such folder', { file: source });
  }
  if (!top.isDirectory()) throw new GancError('not a folder (expected a folder of images)', { file: source });

  const skipDirs = new Set([await realpath(cacheDir).catch(() => cacheDir)]);
  const seen = new Set<string>();
  if (!labels) return { files: await walk(source, -1, skipDirs, seen) };

  const files: FileEntry[] = [];
  const classes: string[] = [];
  for (const { name, path, st } of await sortedEntries(source, skipDirs)) {
    if (st.isDirectory() && name === UNLABELLED_FOLDER) {
      files.push(...(await walk(path, -1, skipDirs, seen)));
    } else if (st.isDirectory()) {
      classes.push(name);
      files.push(...(await walk(path, classes.length - 1, skipDirs, seen)));
    } else if (st.isFile()) {
      files.push({ path, bytes: st.size, mtimeMs: st.mtimeMs, cls: -1, loose: true });
    }
  }
  if (classes.length < 2) {
    throw new GancError(`model needs labelled data: put each class in its own subfolder of ${source} (found ${classes.length} subfolder${classes.length === 1 ? '' : 's'})`, { file: source });
  }
  return { files, classes };
}

async function walk(dir: string, cls: number, skipDirs: Set<string>, seen: Set<string>): Promise<FileEntry[]> {
  // Symlinked folders are followed (built-in labelled sets are made of links) but each real folder once.
  const real = await realpath(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  const out: FileEntry[] = [];
  for (const { path, st } of await sortedEntries(dir, skipDirs)) {
    if (st.isDirectory()) out.push(...(await walk(path, cls, skipDirs, seen)));
    else if (st.isFile()) out.push({ path, bytes: st.size, mtimeMs: st.mtimeMs, cls });
  }
  return out;
}

async function sortedEntries(dir: string, skipDirs: Set<string>) {
  // Code-unit order, not locale order, so the image order is the same on every machine.
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const entries = await Promise.all(
    names.map(async (name) => {
      const path = join(dir, name);
      const st = await stat(path).catch(() => undefined); // a dangling link is no image
      const skip = !st || (st.isDirectory() && skipDirs.has(await realpath(path)));
      return skip ? undefined : { name, path, st };
    }),
  );
  return entries.filter((e) => e !== undefined);
}

// ---------------------------------------------------------------- decoding

async function decodeAll(files: FileEntry[], classes: string[] | undefined, source: string, opts: LoadOptions): Promise<Dataset> {
  const { size } = opts;
  const vol = 3 * size * size;
  const pixels = new Uint8Array(files.length * vol);
  const labels = classes ? new Int32Array(files.length) : undefined;
  const skipped: Dataset['skipped'] = [];

  // Files go through the decoder a window at a time: each decode starts with awaits (the file read, and
  // jimp's own import() of its type sniffer, which under tsx's loader costs a round trip to the loader
  // thread), so a window lets those waits overlap instead of adding up. Results are kept in file order.
  const decodeFile = (f: FileEntry): Promise<Decoded | { ok: false; kind: string; detail: string }> =>
    readFile(f.path).then(
      (bytes) => decodeSquare(bytes, size),
      (e: Error) => ({ ok: false, kind: 'not readable', detail: e.message }),
    );
  let count = 0;
  for (let w = 0; w < files.length; w += DECODE_WINDOW) {
    const window = files.slice(w, w + DECODE_WINDOW);
    const results = await Promise.all(window.map(decodeFile));
    for (const [k, r] of results.entries()) {
      const f = window[k];
      const rel = relative(source, f.path);
      if (!r.ok) {
        skipped.push({ file: rel, reason: `${r.kind}: ${r.detail}` });
      } else if (f.loose && classes) {
        throw new GancError(`image ${rel} lies directly in the folder: with labels, each class must be its own subfolder (images without a label go in ${UNLABELLED_FOLDER}/)`, { file: source });
      } else {
        pixels.set(r.chw, count * vol);
        if (labels) labels[count] = f.cls;
        count++;
      }
    }
    opts.onProgress?.(w + window.length, files.length);
  }
  return {
    pixels: pixels.subarray(0, count * vol),
    count,
    size,
    ...(labels && classes ? { labels: labels.slice(0, count), classes } : {}),
    skipped,
    source,
  };
}

function checkCounts(ds: Dataset, minCount: number): void {
  const { source } = ds;
  if (ds.count === 0) {
    const what = ds.skipped.length ? ` (${ds.skipped.length} file${ds.skipped.length === 1 ? '' : 's'}, none a usable image)` : '';
    throw new GancError(`no images found${what}`, { file: source });
  }
  if (ds.count < minCount) throw new GancError(`only ${ds.count} images, at least ${minCount} needed`, { file: source });
  if (ds.classes && ds.labels) {
    const per = new Array<number>(ds.classes.length).fill(0);
    for (const l of ds.labels) if (l >= 0) per[l]++;
    const empty = ds.classes.filter((_, c) => per[c] === 0);
    if (empty.length) throw new GancError(`class folder${empty.length === 1 ? '' : 's'} without images: ${empty.join(', ')}`, { file: source });
  }
}

// ---------------------------------------------------------------- cache file
// Layout: u32 LE header length, JSON header, zero padding to 4 bytes, labels (i32 LE × count, if any), pixels.

interface CacheHeader {
  count: number;
  size: number;
  classes?: string[];
  skipped: Dataset['skipped'];
}

async function writeCache(file: string, ds: Dataset): Promise<void> {
  const header: CacheHeader = { count: ds.count, size: ds.size, classes: ds.classes, skipped: ds.skipped };
  const json = Buffer.from(JSON.stringify(header));
  const lead = Buffer.alloc(4 + json.length + ((4 - (json.length % 4)) % 4));
  lead.writeUInt32LE(json.length, 0);
  json.copy(lead, 4);
  const chunks: Uint8Array[] = [lead];
  if (ds.labels) chunks.push(new Uint8Array(ds.labels.buffer, ds.labels.byteOffset, ds.labels.byteLength));
  chunks.push(ds.pixels);
  try {
    await writeFileAtomic(file, chunks);
  } catch {
    // A cache that cannot be written (read-only home, full disk) only costs a re-decode next time.
  }
}

async function readCache(file: string, source: string): Promise<Dataset | undefined> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch {
    return undefined;
  }
  try {
    const len = buf.readUInt32LE(0);
    const header = JSON.parse(buf.subarray(4, 4 + len).toString('utf8')) as CacheHeader;
    let at = 4 + len + ((4 - (len % 4)) % 4);
    const vol = 3 * header.size * header.size;
    const labelBytes = header.classes ? header.count * 4 : 0;
    if (buf.length !== at + labelBytes + header.count * vol) return undefined;
    let labels: Int32Array | undefined;
    if (header.classes) {
      // Copied out: Int32Array needs 4-byte alignment, which a Buffer's offset does not promise.
      labels = new Int32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + labelBytes));
      at += labelBytes;
    }
    const pixels = new Uint8Array(buf.buffer, buf.byteOffset + at, header.count * vol);
    return {
      pixels,
      count: header.count,
      size: header.size,
      ...(labels ? { labels, classes: header.classes } : {}),
      skipped: header.skipped,
      source,
      fromCache: true,
    };
  } catch {
    return undefined; // a damaged cache file is simply decoded again
  }
}
