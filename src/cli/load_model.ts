/**
 * Loading a model file: a TypeScript module whose default export is a gan({...}) definition — or `STUDY.ts#key`, the
 * model `key` of a study file (whose default export is study({...})).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GancError } from '../errors.ts';
import type { GanDef } from '../dsl/gan.ts';
import type { StudyDef } from '../dsl/study.ts';

/** Whether the nearest package.json above `file` declares "type": "module". */
function inEsmScope(file: string): boolean {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        return JSON.parse(readFileSync(pj, 'utf8')).type === 'module';
      } catch {
        return false;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

/** The model-file line an arbitrary error was thrown from, if any. */
function lineIn(err: unknown, file: string): number | undefined {
  const stack = err instanceof Error ? err.stack ?? '' : '';
  for (const line of stack.split('\n')) {
    const i = line.indexOf(file);
    if (i < 0) continue;
    const m = /:(\d+):\d+\)?\s*$/.exec(line.slice(i + file.length));
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** `STUDY.ts#key` → the study file and the key; a plain model file → the file alone. */
export function splitModelRef(ref: string): { file: string; key?: string } {
  const i = ref.lastIndexOf('#');
  return i < 0 ? { file: ref } : { file: ref.slice(0, i), key: ref.slice(i + 1) };
}

/** A TypeScript module's default export, with load errors as one line naming the file (and line). */
async function loadDefault(file: string, what: string): Promise<unknown> {
  const abs = path.resolve(file);
  const rel = path.relative(process.cwd(), abs) || abs;
  if (!existsSync(abs)) throw new GancError(`no such ${what}`, { file: rel });
  if (abs.endsWith('.ts') && !inEsmScope(abs)) {
    // Node would load it as CommonJS, with its own copy of ganc's DSL that the compiler cannot see.
    throw new GancError(`a ${what} must be an ES module: name it .mts, or keep it under a package.json with "type": "module" (like ganc's models/)`, { file: rel });
  }
  try {
    return ((await import(pathToFileURL(abs).href)) as { default?: unknown }).default;
  } catch (e) {
    if (e instanceof GancError) throw e;
    // esbuild's transform errors carry the location of the syntax error in their message: `<path>:<line>:<col>: ERROR: …`.
    // The path is that of the file with the error, which may be a module the model file imports.
    const msg = e instanceof Error ? e.message : String(e);
    const loc = /^(.*?):(\d+):(\d+): ERROR: (.*)$/m.exec(msg);
    if (loc) {
      const at = loc[1].startsWith('file://') ? fileURLToPath(loc[1]) : loc[1];
      const file = path.isAbsolute(at) ? path.relative(process.cwd(), at) || at : rel;
      throw new GancError(`syntax error: ${loc[4]}`, { file, line: Number(loc[2]) });
    }
    const first = msg.split('\n')[0];
    throw new GancError(`${e instanceof SyntaxError ? 'syntax error' : `error while loading the ${what}`}: ${first}`, { file: rel, line: lineIn(e, abs) });
  }
}

/** A study file's definition. */
export async function loadStudy(file: string): Promise<StudyDef> {
  const def = (await loadDefault(file, 'study file')) as StudyDef | undefined;
  if (def?.kind !== 'ganc.study') throw new GancError('exports no study: a study file needs `export default study({...})`', { file: path.relative(process.cwd(), path.resolve(file)) });
  return def;
}

/** A model file's GAN, or (`STUDY.ts#key`) a study's model `key` — a definition, or a model file relative to the study. */
export async function loadModel(ref: string): Promise<GanDef> {
  const { file, key } = splitModelRef(ref);
  const rel = path.relative(process.cwd(), path.resolve(file)) || file;
  if (key !== undefined) {
    const s = await loadStudy(file);
    const m = s.models[key];
    if (m === undefined) throw new GancError(`study ${s.name} has no model '${key}' (it has: ${Object.keys(s.models).join(', ')})`, { file: rel });
    return typeof m === 'string' ? loadModel(path.join(path.dirname(file), m)) : m;
  }
  const def = (await loadDefault(file, 'model file')) as GanDef | undefined;
  if (!def || def.kind !== 'ganc.gan') {
    throw new GancError('exports no GAN: the model file needs `export default gan({...})`', { file: rel });
  }
  return def;
}

/** Run model code (tracing), turning a plain error inside the model file into a one-line error with its line. */
export function inModel<T>(ref: string, fn: () => T): T {
  const { file } = splitModelRef(ref);
  try {
    return fn();
  } catch (e) {
    if (e instanceof GancError) throw e;
    const abs = path.resolve(file);
    const line = lineIn(e, abs);
    const msg = e instanceof Error ? e.message : String(e);
    throw new GancError(msg, { file: path.relative(process.cwd(), abs), line });
  }
}
