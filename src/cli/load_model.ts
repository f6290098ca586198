/** Loading a model file: a TypeScript module whose default export is a gan({...}) definition. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { GancError } from '../errors.ts';
import type { GanDef } from '../dsl/gan.ts';

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

export async function loadModel(file: string): Promise<GanDef> {
  const abs = path.resolve(file);
  const rel = path.relative(process.cwd(), abs) || abs;
  if (!existsSync(abs)) throw new GancError('no such model file', { file: rel });
  if (abs.endsWith('.ts') && !inEsmScope(abs)) {
    // Node would load it as CommonJS, with its own copy of ganc's DSL that the compiler cannot see.
    throw new GancError('a model file must be an ES module: name it .mts, or keep it under a package.json with "type": "module" (like ganc\'s models/)', { file: rel });
  }
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(abs).href);
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
    throw new GancError(`${e instanceof SyntaxError ? 'syntax error' : 'error while loading the model'}: ${first}`, { file: rel, line: lineIn(e, abs) });
  }
  const def = mod.default as GanDef | undefined;
  if (!def || def.kind !== 'ganc.gan') {
    throw new GancError('exports no GAN: the model file needs `export default gan({...})`', { file: rel });
  }
  return def;
}

/** Run model code (tracing), turning a plain error inside the model file into a one-line error with its line. */
export function inModel<T>(file: string, fn: () => T): T {
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
