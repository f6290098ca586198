/** SVG icons → PNG tiles: each centred on a white square with a margin, rendered by resvg. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderAsync } from '@resvg/resvg-js';

export interface SvgItem {
  /** File name without extension; must be a safe file name. */
  name: string;
  /** The full SVG document, or a function that reads it (so big sets are not all held in memory). */
  svg: string | (() => Promise<string>);
}

export interface RenderResult {
  written: number;
  /** Names that failed to parse or render, or rendered blank. */
  failed: string[];
}

/** Share of the tile's side the icon is fitted into (aspect kept); the rest is white margin. */
export const ICON_FILL = 0.8;
/** Renders in flight: resvg renders on libuv's thread pool, so a few at once keep all cores busy. */
const IN_FLIGHT = 8;

/**
 * The icon as an <image> inside a white square: the nested document keeps its own viewBox, ids and
 * styles, and preserveAspectRatio's default (xMidYMid meet) does the fitting and centring.
 */
export function framedSvg(svg: string, size: number): string {
  const m = (size * (1 - ICON_FILL)) / 2;
  const inner = size - 2 * m;
  const href = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">` +
    `<rect width="${size}" height="${size}" fill="#fff"/>` +
    `<image x="${m}" y="${m}" width="${inner}" height="${inner}" href="${href}"/></svg>`
  );
}

/** Renders one framed icon; undefined when it fails or comes out blank (resvg drops a broken nested image silently). */
export async function renderTile(svg: string, size: number): Promise<Buffer | undefined> {
  try {
    const img = await renderAsync(framedSvg(svg, size), { font: { loadSystemFonts: false }, logLevel: 'off' });
    const px = img.pixels;
    let blank = true;
    for (let i = 0; i < px.length; i++) {
      if (px[i] !== 255) {
        blank = false;
        break;
      }
    }
    return blank ? undefined : img.asPng();
  } catch {
    return undefined;
  }
}

export async function renderAll(
  items: SvgItem[],
  outDir: string,
  size: number,
  onTile?: () => void,
): Promise<RenderResult> {
  await mkdir(outDir, { recursive: true });
  const result: RenderResult = { written: 0, failed: [] };
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      let png: Buffer | undefined;
      try {
        png = await renderTile(typeof item.svg === 'string' ? item.svg : await item.svg(), size);
      } catch {
        png = undefined; // an unreadable source file counts as a failed render
      }
      if (png) {
        await writeFile(join(outDir, `${item.name}.png`), png);
        result.written++;
      } else {
        result.failed.push(item.name);
      }
      onTile?.();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  result.failed.sort();
  return result;
}
