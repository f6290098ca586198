/** `ganc export RUN` and `ganc sample generator.onnx|RUN`. */
import type { CommandModule } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import type { Compiled } from '../compiler/compile.ts';
import { GancError } from '../errors.ts';
import { Rng } from '../random.ts';
import { checkSameModel, type CheckpointMeta, fallbackNote, readLatestCheckpoint } from '../runtime/checkpoint.ts';
import { exportGenerator } from '../runtime/export.ts';
import { createSession } from '../runtime/ort.ts';
import { generatorInfo } from '../runtime/onnx_meta.ts';
import { writeSampleGrid } from '../runtime/pictures.ts';
import { type RunConfig, readJson, runPaths, writeFileAtomicSync } from '../runtime/run_folder.ts';
import { sampleNoise } from '../runtime/batches.ts';
import { compileModelFile } from './compile.ts';

/** A run folder's model (recompiled from its model file with the run's batch and seed) and its latest checkpoint. */
export async function openRun(dir: string, force = false): Promise<{ compiled: Compiled; meta: CheckpointMeta; state: Map<string, Float32Array>; hash: string }> {
  const paths = runPaths(dir);
  const saved = readJson<RunConfig>(paths.config);
  if (!saved) throw new GancError('not a ganc run folder (no run.json)', { file: dir });
  const compiled = await compileModelFile(saved.model, { batch: saved.batch, seed: saved.seed });
  // The newest intact checkpoint: a run being written replaces checkpoint.bin by a rename, so this is never half a file.
  const latest = readLatestCheckpoint(paths.checkpoint);
  const note = fallbackNote(latest);
  if (note) process.stderr.write(`note: ${note}\n`);
  const { meta, tensors } = latest;
  if (!force) checkSameModel(meta, compiled.hash, latest.file);
  const state = new Map([...tensors].map(([k, t]) => [k, t.data as Float32Array]));
  return { compiled, meta, state, hash: compiled.hash };
}

/** Export a run's generator (its moving average of G's weights where the model keeps one, unless `raw`). */
export async function exportRun(dir: string, out: string | undefined, force = false, raw = false): Promise<string> {
  const { compiled, meta, state, hash } = await openRun(dir, force);
  const bytes = exportGenerator(compiled, state, { step: meta.step, modelHash: hash, raw });
  const file = out ?? path.join(dir, raw ? 'generator.raw.onnx' : 'generator.onnx');
  writeFileAtomicSync(file, bytes);
  return file;
}

const RAW = { type: 'boolean', default: false, describe: 'the trained weights of G, not their moving average (models with `ema`)' } as const;

export const exportCommand: CommandModule<object, { run: string; out?: string; force: boolean; raw: boolean }> = {
  command: 'export <run>',
  describe: 'write the trained generator as a standalone ONNX file',
  builder: (y) => y
    .positional('run', { type: 'string', demandOption: true, describe: 'run folder' })
    .option('out', { alias: 'o', type: 'string', describe: 'output file (default RUN/generator.onnx, with --raw RUN/generator.raw.onnx)' })
    .option('force', { type: 'boolean', default: false, describe: 'export although the model file changed since training' })
    .option('raw', RAW) as never,
  handler: async (a) => {
    const file = await exportRun(a.run, a.out, a.force, a.raw);
    console.log(`wrote ${file}`);
  },
};

export const sampleCommand: CommandModule<object, { source: string; n: number; seed: number; out: string; raw: boolean }> = {
  command: 'sample <source>',
  describe: 'write a grid of generated images from generator.onnx or a run folder',
  builder: (y) => y
    .positional('source', { type: 'string', demandOption: true, describe: 'generator.onnx or a run folder' })
    .option('n', { type: 'number', default: 64, describe: 'number of images' })
    .option('seed', { type: 'number', default: 0, describe: 'noise seed' })
    .option('out', { alias: 'o', type: 'string', default: 'samples.png', describe: 'output PNG' })
    .option('raw', RAW) as never,
  handler: async (a) => {
    if (!existsSync(a.source)) throw new GancError('no such file or folder', { file: a.source });
    const isRun = statSync(a.source).isDirectory();
    if (a.raw && !isRun) throw new GancError('--raw needs a run folder: an exported generator holds the weights it was exported with', { file: a.source });
    const file = isRun ? await exportRun(a.source, undefined, false, a.raw) : a.source;
    const session = await createSession(file);
    const { zSize, zDist } = generatorInfo(file);
    const z = sampleNoise(new Rng(`${a.seed}/samples`), a.n * zSize, zDist);
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', z, [a.n, zSize]) });
    const img = out[session.outputNames[0]];
    const [, c, h, w] = img.dims as number[];
    await writeSampleGrid(a.out, img.data as Float32Array, a.n, c, h, w);
    console.log(`wrote ${a.out}`);
  },
};
