/** `ganc compile <model.ts>`: write the ONNX training graphs and print a summary. */
import type { CommandModule } from 'yargs';
import { createHash } from 'node:crypto';
import { compileGan, type Compiled, writeCompiled } from '../compiler/compile.ts';
import { graphToText } from '../compiler/text.ts';
import { type GanDef, variant } from '../dsl/gan.ts';
import { inModel, loadModel } from './load_model.ts';

/** A hash of everything that shapes the training graphs, so a checkpoint can tell it came from the same model. */
export function modelHash(c: Compiled): string {
  const h = createHash('sha256');
  for (const g of c.graphs) h.update(graphToText(g));
  h.update(JSON.stringify({ ...c.manifest, state: c.manifest.state.map((s) => [s.name, s.shape, s.init]) }));
  return h.digest('hex').slice(0, 16);
}

export interface CompileOverrides {
  emitGrads?: boolean;
  /** A run's batch size and seed, where they differ from the model file's (ganc run --batch/--seed, run.json). */
  batch?: number;
  seed?: number;
}

/** Compile a loaded model file with a run's overrides, and hash the result (ganc run, export, eval). */
export function compileWith(file: string, def: GanDef, { emitGrads, batch, seed }: CompileOverrides = {}): Compiled & { hash: string } {
  if (batch !== undefined && batch !== def.batch) def = variant(def, { batch });
  if (seed !== undefined && seed !== def.seed) def = variant(def, { seed });
  const c = inModel(file, () => compileGan(def, { emitGrads }));
  return { ...c, hash: modelHash(c) };
}

export async function compileModelFile(file: string, opts: CompileOverrides = {}): Promise<Compiled & { hash: string }> {
  return compileWith(file, await loadModel(file), opts);
}

function fmtCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

export function summary(c: Compiled): string {
  const lines = [`model ${c.def.name}: ${c.def.image.channels}×${c.def.image.size}×${c.def.image.size}, z ${c.def.z.size} (${c.def.z.dist}), batch ${c.def.batch}`];
  for (const net of ['g', 'd']) {
    const ps = c.manifest.state.filter((s) => s.role === 'param' && s.network === net);
    const n = ps.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    lines.push(`  ${net === 'g' ? 'generator    ' : 'discriminator'} ${fmtCount(n).padStart(7)} parameters in ${ps.length} tensors`);
  }
  for (const [name, g] of Object.entries(c.manifest.graphs)) {
    lines.push(`  ${name.padEnd(13)} ${String(g.nodes).padStart(7)} nodes  ${(g.flops / 1e9).toFixed(1).padStart(7)} GFLOP`);
  }
  lines.push(`  one iteration (${c.def.dUpdatesPerG} D + ${c.def.gUpdatesPerD} G updates): ${(c.manifest.flopsPerIteration / 1e9).toFixed(1)} GFLOP`);
  return lines.join('\n');
}

export const compileCommand: CommandModule<object, { model: string; out?: string; emitGrads: boolean; print: boolean }> = {
  command: 'compile <model>',
  describe: 'compile a model file into ONNX training graphs',
  builder: (y) => y
    .positional('model', { type: 'string', demandOption: true, describe: 'model file (.ts)' })
    .option('out', { alias: 'o', type: 'string', describe: 'output folder (default: out/<model name>)' })
    .option('emit-grads', { type: 'boolean', default: false, describe: 'add every parameter gradient as an output grad/<name>' })
    .option('print', { type: 'boolean', default: false, describe: 'also write the readable text form of each graph (<graph>.txt)' }) as never,
  handler: async (args) => {
    const t0 = performance.now();
    const c = await compileModelFile(args.model, { emitGrads: args.emitGrads });
    const dir = args.out ?? `out/${c.def.name}`;
    const written = writeCompiled(c, dir, { print: args.print, modelHash: c.hash });
    console.log(summary(c));
    console.log(`wrote ${written.length} files to ${dir} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  },
};
