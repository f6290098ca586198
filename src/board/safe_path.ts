/**
 * Mapping URL paths to files without leaving a root: every segment is decoded and checked on its own (no `..`, `.`,
 * hidden names, separators or NUL after decoding, so `%2e%2e` and `%2f` are refused too), and the real path — after
 * symlinks — must lie inside the root's real path.
 */
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { HttpError } from './http.ts';

/** The segments of a URL path, each percent-decoded (`decode`), or of an already decoded `path=` query value. */
export function splitSegments(raw: string, decode = true): string[] {
  const parts = raw.split('/').filter((s) => s !== '');
  return parts.map((p) => {
    let s = p;
    try {
      if (decode) s = decodeURIComponent(p);
    } catch {
      throw new HttpError(400, 'bad percent-encoding in the path');
    }
    if (s === '.' || s === '..' || s.startsWith('.') || /[/\\\0]/.test(s)) throw new HttpError(403, `refused path segment ${JSON.stringify(s)}`);
    return s;
  });
}

/** Real path of the root (404 when it does not exist). */
export function realRoot(root: string): string {
  try {
    return realpathSync(root);
  } catch {
    throw new HttpError(404, `${root} does not exist`);
  }
}

/** True when `real` is `root` or lies under it (both real paths). */
export function isInside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

/**
 * The real path of `segments` under `root`: 404 when missing, 403 when a symlink leads out of the root.
 * `kind` asks for a regular file or a folder (the other is a 404: the board lists no folders).
 */
export function resolveInside(root: string, segments: readonly string[], kind: 'file' | 'dir' = 'file'): string {
  const base = realRoot(root);
  let real: string;
  try {
    real = realpathSync(path.join(base, ...segments));
  } catch {
    throw new HttpError(404, 'not found');
  }
  if (!isInside(base, real)) throw new HttpError(403, 'outside the served folder');
  const st = statSync(real);
  if (kind === 'file' ? !st.isFile() : !st.isDirectory()) throw new HttpError(404, 'not found');
  return real;
}

/** A `path=` query value (a run or file relative to the board's folder) → its real path. */
export function resolveParam(root: string, rel: string | null, kind: 'file' | 'dir'): string {
  if (rel === null) throw new HttpError(400, 'missing path parameter');
  return resolveInside(root, splitSegments(rel, false), kind);
}
