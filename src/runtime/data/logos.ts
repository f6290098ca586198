/**
 * Built-in data sets rendered from icon packages: brand logos (the seed's subject) and app icons (its second
 * class for the semi-supervised model), as PNG folders that loadImageFolder reads like any user folder.
 */
import { copyFile, link, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GancError } from '../../errors.ts';
import { Rng } from '../../random.ts';
import { defaultCacheRoot, removeAbandoned, writeFileAtomic } from './cache.ts';
import { renderAll } from './render.ts';
import type { Dataset } from './images.ts';
import { ICONIFY_APP_SETS, iconifyAppSets, iconifyLogos, PAPIRUS_APPS, papirusApps, simpleIcons, takeInTurn } from './sources.ts';
import type { SvgItem } from './render.ts';

export interface BuildOptions {
  size?: number;
  /** At most this many images, taken from the sources in turn. */
  limit?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface BuildResult {
  dir: string;
  written: number;
  /** Icons that failed to render, as `source/name`. */
  failed: string[];
  /** Where the images came from, one name per subfolder. */
  sources: string[];
  /** Balanced labelled sets: each class. */
  classes?: Record<string, ClassInfo>;
}

const COMPLETE = '.complete';

/** simple-icons (brand colour) and Iconify's full-colour `logos`: about 5,800 logos. */
export async function buildLogos(outDir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  return buildFrom(outDir, { 'simple-icons': await simpleIcons(), 'iconify-logos': await iconifyLogos() }, opts);
}

/**
 * App icons: Debian's papirus-icon-theme when installed (about 3,600, `apt-get install papirus-icon-theme`),
 * otherwise about 3,070 from four full-colour icon sets on npm (iconifyAppSets), so that a bare machine has
 * thousands too.
 */
export async function buildApps(outDir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  return buildFrom(outDir, await appSources(), opts);
}

export async function ensureBuiltinLogos(size: number, opts: Omit<BuildOptions, 'size' | 'limit'> = {}): Promise<string> {
  return ensureBuilt(`logos-${size}`, ['simple-icons', 'iconify-logos'], (dir) => buildLogos(dir, { ...opts, size }));
}

/** The first `limit` built-in logos at `size`, taken from both sources in turn: a small set (the browser's). */
export async function ensureLogoSubset(size: number, limit: number, opts: Omit<BuildOptions, 'size' | 'limit'> = {}): Promise<string> {
  return ensureBuilt(`logos-${size}-first${limit}`, ['simple-icons', 'iconify-logos'], (dir) => buildLogos(dir, { ...opts, size, limit }));
}

export async function ensureBuiltinApps(size: number, opts: Omit<BuildOptions, 'size' | 'limit'> = {}): Promise<string> {
  // The sources are part of the check, so installing Papirus later replaces the npm sets.
  return ensureBuilt(`apps-${size}`, await appSourceNames(), (dir) => buildApps(dir, { ...opts, size }));
}

/** Where the app icons come from on this machine (what `buildApps` would use). */
export async function appSourceNames(): Promise<string[]> {
  return (await hasPapirus()) ? ['papirus'] : [...ICONIFY_APP_SETS];
}

/** The built-in training data at `size`: the logos, or logos and app icons as two classes for labelled models. */
export function ensureBuiltinData(size: number, labelled: boolean, opts: Omit<BuildOptions, 'size' | 'limit'> = {}): Promise<string> {
  return labelled ? ensureLabelledLogosApps(size, opts) : ensureBuiltinLogos(size, opts);
}

/**
 * A folder with `apps/` and `logos/` holding equally many images, for loadImageFolder(…, { labels: true }): a
 * semi-supervised model trained on lopsided classes learns to answer the larger one. The larger class is sampled
 * down to the smaller's count (seeded, so every machine with the same sources gets the same set); the images are
 * hard links into the built-in sets.
 */
export async function ensureLabelledLogosApps(size: number, opts: Omit<BuildOptions, 'size' | 'limit'> = {}): Promise<string> {
  const classes = { apps: await ensureBuiltinApps(size, opts), logos: await ensureBuiltinLogos(size, opts) };
  // The key names each class's sources and count: a rebuilt class (Papirus installed) rebuilds the balanced set.
  const key = [`balanced (${BALANCE_SEED})`];
  for (const [name, dir] of Object.entries(classes)) {
    const info = await readBuildInfo(dir);
    key.push(`${name}: ${info?.sources.join(' + ')} (${info?.written})`);
  }
  return ensureBuilt(`logos-apps-${size}`, key, (dir) => linkBalanced(classes, dir));
}

/** Seed of the sampling that balances the built-in labelled set. */
export const BALANCE_SEED = 'logos-apps/1';

/** Links every class folder's images into `outDir/<class>/`, the larger classes sampled down to the smallest's count. */
export async function linkBalanced(classes: Record<string, string>, outDir: string, seed = BALANCE_SEED): Promise<BuildResult> {
  const files = Object.fromEntries(await Promise.all(Object.entries(classes).map(async ([name, dir]) => [name, await pngsUnder(dir)] as const)));
  const n = Math.min(...Object.values(files).map((f) => f.length));
  const result: BuildResult = { dir: outDir, written: 0, failed: [], sources: Object.keys(classes), classes: {} };
  for (const [name, list] of Object.entries(files)) {
    const keep = [...new Rng(`${seed}/${name}`).shuffle(Uint32Array.from(list, (_, i) => i)).subarray(0, n)].sort((a, b) => a - b);
    const sources = (await readBuildInfo(classes[name]))?.sources ?? [];
    result.classes![name] = { count: n, of: list.length, sources };
    for (const i of keep) await linkOrCopy(join(classes[name], list[i]), join(outDir, name, list[i]));
    result.written += keep.length;
  }
  return result;
}

/** Paths (relative, sorted) of the PNG files under a folder. */
async function pngsUnder(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.isDirectory()) out.push(...(await pngsUnder(dir, join(rel, e.name))));
    else if (e.name.endsWith('.png')) out.push(join(rel, e.name));
  }
  return out;
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await link(from, to).catch(() => copyFile(from, to)); // another file system, or one without hard links
}

/** One class of a balanced set: the images it has, out of how many, from which sources. */
export interface ClassInfo {
  count: number;
  of: number;
  sources: string[];
}

export interface BuildInfo {
  sources: string[];
  written: number;
  failed: string[];
  /** Balanced labelled sets: each class. */
  classes?: Record<string, ClassInfo>;
}

const CLASS_NOUNS: Record<string, string> = { apps: 'app icons', logos: 'logos' };

/**
 * The line a run prints about its data: for labelled data the images of each class (so lopsided classes show), and
 * for the built-in balanced set how it was balanced and where each class comes from.
 */
export async function describeData(data: Dataset, dir: string): Promise<string> {
  const fmt = (n: number) => n.toLocaleString('en-US');
  if (!data.labels || !data.classes) return `data: ${fmt(data.count)} images from ${dir}`;
  const counts = data.classes.map(() => 0);
  for (const l of data.labels) if (l >= 0) counts[l]++;
  const info = (await readBuildInfo(dir))?.classes;
  if (!info) return `data: ${fmt(data.count)} images from ${dir} (classes: ${data.classes.map((c, k) => `${c} ${fmt(counts[k])}`).join(', ')})`;
  const parts = data.classes.map((c, k) => `${fmt(counts[k])} ${CLASS_NOUNS[c] ?? c}`);
  const down = data.classes.filter((c) => info[c] && info[c].of > info[c].count).map((c) => `${CLASS_NOUNS[c] ?? c} sampled down from ${fmt(info[c].of)}`);
  const from = data.classes.map((c) => `${CLASS_NOUNS[c] ?? c} from ${info[c]?.sources.join(' + ')}`);
  return `data: ${parts.join(' + ')} (balanced${down.length ? `: ${down.join(', ')}` : ''}; ${from.join(', ')}) in ${dir}`;
}

/** What a finished built-in folder holds (from its completion marker), or undefined for an unfinished one. */
export async function readBuildInfo(dir: string): Promise<BuildInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, COMPLETE), 'utf8'));
  } catch {
    return undefined;
  }
}

async function appSources(): Promise<Record<string, SvgItem[]>> {
  const papirus = await papirusApps();
  return papirus?.length ? { papirus } : iconifyAppSets();
}

async function hasPapirus(): Promise<boolean> {
  return !!(await readdir(PAPIRUS_APPS).catch(() => [])).some((n) => n.endsWith('.svg'));
}

async function buildFrom(outDir: string, sources: Record<string, SvgItem[]>, opts: BuildOptions): Promise<BuildResult> {
  const size = opts.size ?? 64;
  if (!(Number.isInteger(size) && size >= 8)) throw new GancError(`image size must be an integer of at least 8, got ${size}`);
  const names = Object.keys(sources);
  const lists = takeInTurn(Object.values(sources), opts.limit ?? Infinity);
  const total = lists.reduce((n, l) => n + l.length, 0);
  const result: BuildResult = { dir: outDir, written: 0, failed: [], sources: names };
  let done = 0;
  for (const [k, name] of names.entries()) {
    const r = await renderAll(lists[k], join(outDir, name), size, () => opts.onProgress?.(++done, total));
    result.written += r.written;
    result.failed.push(...r.failed.map((f) => `${name}/${f}`));
  }
  return result;
}

/**
 * Builds into a private temporary folder and renames it into place with a completion marker, so an
 * interrupted build is never taken for a finished one and two processes never write the same folder.
 */
async function ensureBuilt(name: string, sources: string[], build: (dir: string) => Promise<BuildResult>): Promise<string> {
  const root = defaultCacheRoot();
  const dir = join(root, name);
  if (await isComplete(dir, sources)) return dir;
  await mkdir(root, { recursive: true });
  await removeAbandoned(root, name);
  const tmp = join(root, `${name}.partial-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  const r = await build(tmp);
  if (r.written === 0) throw new GancError(`no image could be rendered for ${name}`, { file: tmp });
  await writeFileAtomic(join(tmp, COMPLETE), JSON.stringify({ sources, written: r.written, failed: r.failed, ...(r.classes ? { classes: r.classes } : {}) } satisfies BuildInfo));
  await rm(dir, { recursive: true, force: true });
  try {
    await rename(tmp, dir);
  } catch (e) {
    // Another process finished first: its folder is as good as ours.
    await rm(tmp, { recursive: true, force: true });
    if (!(await isComplete(dir, sources))) throw e;
  }
  return dir;
}

async function isComplete(dir: string, sources: string[]): Promise<boolean> {
  return JSON.stringify((await readBuildInfo(dir))?.sources) === JSON.stringify(sources);
}
