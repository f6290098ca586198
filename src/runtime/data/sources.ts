/** The icon sets npm and Debian ship, as lists of SVG documents for render.ts. */
import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { IconifyJSON } from '@iconify/types';
import type { SvgItem } from './render.ts';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** simple-icons (CC0): one 24×24 path per brand, filled with the brand's colour. */
export async function simpleIcons(): Promise<SvgItem[]> {
  // Imported on demand: the module is several MB and only `ganc data` / first use needs it.
  const si = await import('simple-icons');
  type Icon = { slug: string; path: string; hex: string };
  const icons = (Object.values(si) as unknown[]).filter(
    (v): v is Icon => typeof v === 'object' && v !== null && 'path' in v && 'hex' in v,
  );
  return icons
    .map((icon) => ({ name: icon.slug, svg: `<svg xmlns="${SVG_NS}" viewBox="0 0 24 24"><path fill="#${visibleOnWhite(icon.hex)}" d="${icon.path}"/></svg>` }))
    .sort(byName);
}

/** A few brands' colour is white or nearly so: drawn as such on the white tile they would vanish, so they get black. */
function visibleOnWhite(hex: string): string {
  const n = parseInt(hex, 16);
  return [16, 8, 0].every((shift) => ((n >> shift) & 255) >= 0xe0) ? '000000' : hex;
}

/** An Iconify JSON set (full colour sets such as `logos`), each icon built into a standalone SVG. */
export function iconifyIcons(set: IconifyJSON): SvgItem[] {
  const out: SvgItem[] = [];
  for (const [name, icon] of Object.entries(set.icons)) {
    // Aliases are left out (they repeat an icon); so are the rare flipped or rotated icons, which no set
    // used here has, rather than carrying Iconify's transform code for them.
    if (icon.hFlip || icon.vFlip || icon.rotate) continue;
    const w = icon.width ?? set.width ?? 16;
    const h = icon.height ?? set.height ?? 16;
    const l = icon.left ?? set.left ?? 0;
    const t = icon.top ?? set.top ?? 0;
    out.push({ name, svg: `<svg xmlns="${SVG_NS}" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="${l} ${t} ${w} ${h}">${icon.body}</svg>` });
  }
  return out.sort(byName);
}

export async function iconifyLogos(): Promise<SvgItem[]> {
  const { icons } = await import('@iconify-json/logos');
  return iconifyIcons(icons);
}

export async function iconifyFlatColorIcons(): Promise<SvgItem[]> {
  const { icons } = await import('@iconify-json/flat-color-icons');
  return iconifyIcons(icons);
}

export const ICONIFY_APP_SETS = ['flat-color-icons', 'fluent-color', 'streamline-ultimate-color', 'fluent-emoji-flat'] as const;

/**
 * App-icon-like full-colour sets from npm, for a machine without Papirus: about 3,070 icons that are not brand logos —
 * flat-color-icons (MIT, 322), Fluent UI System Color Icons (MIT, 199 drawings), Streamline's Ultimate color icons
 * (CC BY 4.0, 958) and Fluent Emoji Flat (MIT, 1,593 without skin-tone variants).
 */
export async function iconifyAppSets(): Promise<Record<(typeof ICONIFY_APP_SETS)[number], SvgItem[]>> {
  return {
    'flat-color-icons': withoutBrandLogos(await iconifyFlatColorIcons()),
    'fluent-color': largestSizeEach(iconifyIcons((await import('@iconify-json/fluent-color')).icons)),
    'streamline-ultimate-color': withoutBrandLogos(iconifyIcons((await import('@iconify-json/streamline-ultimate-color')).icons)),
    'fluent-emoji-flat': withoutSkinTones(iconifyIcons((await import('@iconify-json/fluent-emoji-flat')).icons)),
  };
}

/** The few brand marks among those sets (`github-logo-1`, flat-color-icons' `debian`): they belong to the other class. */
export function withoutBrandLogos(items: SvgItem[]): SvgItem[] {
  const brands = new Set(['android-os', 'debian', 'google', 'linux']);
  return items.filter((i) => !/(^|-)logo(-\d+)?$/.test(i.name) && !brands.has(i.name));
}

/** Fluent's icons come in several sizes of one drawing (`add-circle-16` … `-32`): keep the largest of each. */
export function largestSizeEach(items: SvgItem[]): SvgItem[] {
  const best = new Map<string, { size: number; item: SvgItem }>();
  for (const item of items) {
    const m = /^(.*)-(\d+)$/.exec(item.name);
    const [base, size] = m ? [m[1], Number(m[2])] : [item.name, 0];
    const seen = best.get(base);
    if (!seen || seen.size < size) best.set(base, { size, item });
  }
  return [...best.values()].map((b) => b.item).sort(byName);
}

/** Emoji of people come in five skin tones besides the default (`…-light`, `…-medium-dark`, …): keep the default
 * (a name is a variant only if the name without its tone is in the set: `traffic-light` stays). */
export function withoutSkinTones(items: SvgItem[]): SvgItem[] {
  const names = new Set(items.map((i) => i.name));
  const tones = ['-medium-light', '-medium-dark', '-light', '-medium', '-dark'];
  return items.filter((i) => !tones.some((t) => i.name.endsWith(t) && names.has(i.name.slice(0, -t.length))));
}

/** Debian's papirus-icon-theme: ~3,600 application icons (after removing the symlinked aliases). */
export const PAPIRUS_APPS = '/usr/share/icons/Papirus/64x64/apps';

export async function papirusApps(dir = PAPIRUS_APPS): Promise<SvgItem[] | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.svg'));
  } catch {
    return undefined; // not installed
  }
  // Most entries are links naming the same picture under another app id; keep each picture once.
  const real = new Set<string>();
  for (const n of names) real.add(await realpath(join(dir, n)).catch(() => ''));
  real.delete('');
  return [...real]
    .map((file) => ({ name: basename(file, '.svg'), svg: () => readFile(file, 'utf8') }))
    .sort(byName);
}

function byName(a: SvgItem, b: SvgItem): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The first `limit` items of several lists taken in turn, so a limited set still mixes all sources. */
export function takeInTurn<T>(lists: T[][], limit = Infinity): T[][] {
  const taken: T[][] = lists.map(() => []);
  let n = 0;
  for (let i = 0; n < limit; i++) {
    let any = false;
    for (let k = 0; k < lists.length && n < limit; k++) {
      if (i < lists[k].length) {
        taken[k].push(lists[k][i]);
        n++;
        any = true;
      }
    }
    if (!any) break;
  }
  return taken;
}
