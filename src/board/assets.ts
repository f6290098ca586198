/**
 * The page's own files (web/) and the packages it runs on, served from node_modules under fixed prefixes that map to
 * those packages' dist folders alone: nothing comes from a CDN, the board works offline.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** web/ of this ganc: index.html, the views, shared/ (also imported by node: the chart specs). */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

/** URL prefix /vendor/<name>/ → that package folder's subfolder. */
export const VENDOR: Record<string, { pkg: string; dir: string }> = {
  vega: { pkg: 'vega', dir: 'build' },
  'vega-lite': { pkg: 'vega-lite', dir: 'build' },
  'vega-embed': { pkg: 'vega-embed', dir: 'build' },
  ort: { pkg: 'onnxruntime-web', dir: 'dist' },
};

/**
 * A package's folder, found as node finds packages: node_modules/<pkg> in this file's folder or the nearest one above
 * (hoisted when ganc is itself a dependency). Not require.resolve: these packages do not export package.json.
 */
export function packageDir(pkg: string): string | undefined {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', pkg);
    if (existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The folder served under /vendor/<name>/, or undefined for an unknown name or a missing package. */
export function vendorDir(name: string): string | undefined {
  const v = Object.hasOwn(VENDOR, name) ? VENDOR[name] : undefined;
  const dir = v && packageDir(v.pkg);
  return dir && path.join(dir, v.dir);
}
