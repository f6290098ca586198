/** Loading a model file: a TypeScript module whose default export is a gan({...}) definition. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { GancError } from '../errors.ts';
import type { GanDef } from '../dsl/gan.ts';

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
  let mod: { default?: unknown };
  try {
    mod = await import(pathToFileURL(abs).href);
  } catch (e) {
    if (e instanceof GancError) throw e;
    // esbuild's transform errors carry the location of the syntax error in their message.
    const msg = e instanceof Error ? e.message : String(e);
    const loc = /:(\d+):(\d+): ERROR: (.*)/.exec(msg);
    if (loc) throw new GancError(`syntax error: ${loc[3]}`, { file: rel, line: Number(loc[1]) });
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
