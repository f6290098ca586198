/**
 * Built-in data sets rendered from icon packages: brand logos (the seed's subject) and app icons (its second
 * class for the semi-supervised model), as PNG folders that loadImageFolder reads like any user folder.
 */
import { readFile, readlink, readdir, rename, rm, symlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GancError } from '../../errors.ts';
import { defaultCacheRoot, writeFileAtomic } from './cache.ts';
import { renderAll } from './render.ts';
import { iconifyFlatColorIcons, iconifyLogos, PAPIRUS_APPS, papirusApps, simpleIcons, takeInTurn } from './sources.ts';
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
}

const COMPLETE = '.complete';

/** simple-icons (brand colour) and Iconify's full-colour `logos`: about 5,800 logos. */
export async function buildLogos(outDir: string, opts: BuildOptions = {}): Promise<BuildResult> {
  return buildFrom(outDir, { 'simple-icons': await simpleIcons(), 'iconify-logos': await iconifyLogos() }, opts);
}

/**
 * App icons: Debian's papirus-icon-theme when installed (about 3,600, `apt-get install papirus-icon-theme`),
 * otherwise Iconify's flat-color-icons (MIT, about 330 app-style icons) so that a bare machine still works.
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
  // The source is part of the check, so installing Papirus later replaces the small fallback set.
  const source = (await hasPapirus()) ? 'papirus' : 'flat-color-icons';
  return ensureBuilt(`apps-${size}`, [source], (dir) => buildApps(dir, { ...opts, size }));
}

/** The built-in training data at `size`: the logos, or logos and app icons as two classes for labelled models. */
export function ensureBuiltinData(size: number, labelled: boolean, opts: Omit<BuildOptions, 'size' | 'limit'> = {}): Promise<string> {
  return labelled ? ensureLabelledLogosApps(size, opts) : ensureBuiltinLogos(size, opts);
}

/** A folder with `logos/` and `apps/` (links to the built-in sets), for loadImageFolder(…, { labels: true }). */
export async function ensureLabelledLogosApps(size: number, opts: Omit<BuildOptions, 'size' | 'limit'> = {}): Promise<string> {
  const parts = { apps: await ensureBuiltinApps(size, opts), logos: await ensureBuiltinLogos(size, opts) };
  const dir = join(defaultCacheRoot(), `logos-apps-${size}`);
  await mkdir(dir, { recursive: true });
  for (const [name, target] of Object.entries(parts)) {
    const link = join(dir, name);
    if ((await readlink(link).catch(() => undefined)) === target) continue;
    await rm(link, { recursive: true, force: true });
    await symlink(target, link, 'dir');
  }
  return dir;
}

/** What a finished built-in folder holds (from its completion marker), or undefined for an unfinished one. */
export async function readBuildInfo(dir: string): Promise<{ sources: string[]; written: number; failed: string[] } | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, COMPLETE), 'utf8'));
  } catch {
    return undefined;
  }
}

async function appSources(): Promise<Record<string, SvgItem[]>> {
  const papirus = await papirusApps();
  return papirus?.length ? { papirus } : { 'flat-color-icons': await iconifyFlatColorIcons() };
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
  await writeFileAtomic(join(tmp, COMPLETE), JSON.stringify({ sources, written: r.written, failed: r.failed }));
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

/** Removes `.partial-PID` folders whose process is gone (a build that was killed). */
async function removeAbandoned(root: string, name: string): Promise<void> {
  for (const entry of await readdir(root)) {
    const m = entry.startsWith(`${name}.partial-`) ? /(\d+)$/.exec(entry) : null;
    if (m && !isAlive(Number(m[1]))) await rm(join(root, entry), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
