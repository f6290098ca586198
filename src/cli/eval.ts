/** `ganc eval RUN|generator.onnx` and `ganc compare RUN...`: numbers that answer "was there any improvement?". */
import type { CommandModule } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { GancError } from '../errors.ts';
import { type Dataset, loadImageFolder, skippedSummary } from '../runtime/data/images.ts';
import { ensureBuiltinData } from '../runtime/data/logos.ts';
import {
  DEFAULT_EVAL_N, DEFAULT_MSSSIM_PAIRS, DEFAULT_SWD_PATCHES, HELD_OUT_FRACTION, HELD_OUT_SEED, type EvalReport,
  classificationAccuracy, classifyImages, datasetImages, evaluateSets, formatEval, generateImages, heldOutSplit, seededSubset,
} from '../runtime/evaluate.ts';
import { exportGenerator } from '../runtime/export.ts';
import { createSession } from '../runtime/ort.ts';
import { generatorInfo } from '../runtime/onnx_meta.ts';
import { compareRuns, formatCompare } from '../runtime/report.ts';
import { type RunConfig, readJson, runPaths, writeJson } from '../runtime/run_folder.ts';
import { openRun } from './export.ts';
import { positiveInts } from './options.ts';

export interface EvalArgs {
  source: string;
  data?: string;
  test?: string;
  n: number;
  seed: number;
  json?: string;
  swdPatches: number;
  pairs: number;
  threads?: number;
  force: boolean;
  /** The trained weights of G, not their moving average (models with `ema`). */
  raw?: boolean;
  quiet?: boolean;
}

const log = (quiet: boolean | undefined, msg: string) => {
  if (!quiet) process.stderr.write(msg + '\n');
};

/**
 * The generator to evaluate (a run's, from its latest checkpoint, or an exported one), what it makes, and where the
 * report goes.
 */
async function openGenerator(args: EvalArgs, isRun: boolean, sessionOpts: { threads?: number }) {
  const { source } = args;
  if (isRun) {
    const run = await openRun(source, args.force);
    const { compiled, meta, state, hash } = run;
    const def = compiled.def;
    return {
      session: await createSession(exportGenerator(compiled, state, { step: meta.step, modelHash: hash, raw: args.raw }), sessionOpts),
      run,
      info: { zSize: def.z.size, zDist: def.z.dist, channels: def.image.channels, size: def.image.size },
      model: def.name,
      step: meta.step,
      classes: def.classes,
      weights: def.ema ? (args.raw ? 'raw' : 'ema') as EvalReport['weights'] : undefined,
      jsonFile: args.json ?? path.join(source, args.raw ? 'eval.raw.json' : 'eval.json'),
    };
  }
  const { model: name, step, ...info } = generatorInfo(source);
  return {
    session: await createSession(source, sessionOpts),
    run: undefined,
    info,
    model: name ?? path.basename(source, '.onnx'),
    step,
    classes: undefined,
    weights: undefined,
    jsonFile: args.json ?? source.replace(/\.onnx$/i, '') + '.eval.json',
  };
}

/** Evaluate a run folder (its latest checkpoint) or an exported generator; writes the JSON report and returns it. */
export async function evaluateSource(args: EvalArgs): Promise<{ report: EvalReport; file: string }> {
  const t0 = performance.now();
  const { source } = args;
  if (!existsSync(source)) throw new GancError('no such run folder or generator file', { file: source });
  const isRun = statSync(source).isDirectory();
  if (args.raw && !isRun) throw new GancError('--raw needs a run folder: an exported generator holds the weights it was exported with', { file: source });
  const sessionOpts = args.threads ? { threads: args.threads } : {};
  const { session, run, info, model, step, classes, weights, jsonFile } = await openGenerator(args, isRun, sessionOpts);
  let dataDir = args.data ?? (isRun ? readJson<RunConfig>(runPaths(source).config)?.data : undefined);
  if (args.test && !(classes && run)) {
    throw new GancError(`--test: ${run ? `model ${model} has no classes, so nothing to classify` : 'needs a run folder (a generator has no discriminator)'}`, { file: source });
  }
  if (args.test && !existsSync(args.test)) throw new GancError('no such test folder', { file: args.test });
  if (dataDir && !existsSync(dataDir)) {
    throw new GancError(`the real images are not here${args.data ? '' : ' (the folder the run was trained on, from run.json)'}; pass --data`, { file: dataDir });
  }
  if (!dataDir) {
    log(args.quiet, `no --data: comparing with the built-in ${classes ? 'logo / app-icon' : 'logo'} set at ${info.size}px`);
    dataDir = await ensureBuiltinData(info.size, !!classes);
  }
  const data = await loadImageFolder(dataDir, { size: info.size, labels: !!classes, minCount: 2 });
  if (classes && data.classes && data.classes.length !== classes) {
    throw new GancError(`model ${model} has ${classes} classes but the data has ${data.classes.length} (${data.classes.join(', ')})`, { file: data.source });
  }
  const skipped = skippedSummary(data);
  if (skipped) log(args.quiet, skipped);

  // Real: a seeded subset; generated: as many, from seeded noise.
  const n = Math.min(args.n, data.count);
  if (n < args.n) log(args.quiet, `the data has ${data.count} images: evaluating ${n} per side instead of ${args.n}`);
  const real = datasetImages(data, seededSubset(Uint32Array.from({ length: data.count }, (_, i) => i), n, args.seed), info.channels);
  log(args.quiet, `generating ${n} images…`);
  let t = performance.now();
  const gen = await generateImages(session, info, n, args.seed);
  const tGen = (performance.now() - t) / 1000;
  await session.release();
  log(args.quiet, `SWD (${args.swdPatches} patches per image and level) and MS-SSIM (${args.pairs} pairs per set)…`);
  const sets = evaluateSets(gen, real, { seed: args.seed, swdPatches: args.swdPatches, pairs: args.pairs });

  let classification: EvalReport['classification'];
  let tCls: number | undefined;
  if (classes && run) {
    t = performance.now();
    const scored = args.test ? await testSet(args.test, data, info.size) : heldOutSet(source, data, args.quiet);
    if (scored) {
      const logits = await classifyImages(run.compiled, run.state, datasetImages(scored.data, scored.indices, info.channels), sessionOpts);
      const labels = Int32Array.from(scored.indices, (i) => scored.data.labels![i]);
      classification = { ...classificationAccuracy(logits, labels, classes), classes: data.classes ?? [], ...scored.what };
    }
    tCls = (performance.now() - t) / 1000;
  }

  const report: EvalReport = {
    format: 'ganc-eval/1',
    source,
    model,
    step,
    ...(weights ? { weights } : {}),
    data: data.source,
    size: info.size,
    n: { generated: gen.n, real: real.n },
    seed: args.seed,
    swd: sets.swd,
    msssim: sets.msssim,
    ...(classification ? { classification } : {}),
    seconds: { generate: tGen, ...sets.seconds, ...(tCls !== undefined ? { classify: tCls } : {}), total: (performance.now() - t0) / 1000 },
    time: new Date().toISOString(),
  };
  writeJson(jsonFile, report);
  return { report, file: jsonFile };
}

/** Labelled images to score and how the report describes them. */
interface Scored {
  data: Dataset;
  indices: Uint32Array;
  what: Pick<NonNullable<EvalReport['classification']>, 'heldOut' | 'test'>;
}

/** The held-out split of the run's data, as training left it out (run.json records the fraction). */
function heldOutSet(source: string, data: Dataset, quiet?: boolean): Scored | undefined {
  // Training records the split it left out in run.json (`heldOut`); older runs trained on every image.
  const saved = readJson<RunConfig>(runPaths(source).config)?.heldOut;
  const fraction = saved?.fraction ?? HELD_OUT_FRACTION;
  const split = heldOutSplit(data, { fraction });
  if (!split.heldOut.length) {
    log(quiet, fraction === 0
      ? 'the run held no labelled images out (--held-out 0): no accuracy; pass --test DIR for a separate labelled folder'
      : 'no held-out labelled images (each class needs at least 2): no accuracy');
    return undefined;
  }
  const excluded = saved?.seed === HELD_OUT_SEED;
  if (!excluded) log(quiet, `note: ${source}/run.json records no held-out split: the run trained on the held-out images too, so the accuracy is optimistic`);
  return { data, indices: split.heldOut, what: { heldOut: { fraction, seed: HELD_OUT_SEED, images: split.heldOut.length, excludedFromTraining: excluded } } };
}

/** Every labelled image of a separate folder (--test), whose classes must be the training data's. */
async function testSet(dir: string, data: Dataset, size: number): Promise<Scored> {
  const test = await loadImageFolder(dir, { size, labels: true });
  if (test.classes!.join() !== (data.classes ?? []).join()) {
    throw new GancError(`its classes (${test.classes!.join(', ')}) are not the training data's (${(data.classes ?? []).join(', ')})`, { file: test.source });
  }
  // Images of an _unlabelled/ folder are not scored; loadImageFolder has made sure each class has some.
  const indices = Uint32Array.from({ length: test.count }, (_, i) => i).filter((i) => test.labels![i] >= 0);
  return { data: test, indices, what: { test: { folder: test.source, images: indices.length } } };
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval <source>',
  describe: 'measure a run (or generator.onnx): sliced Wasserstein distance, MS-SSIM diversity, held-out accuracy',
  builder: (y) => y
    .positional('source', { type: 'string', demandOption: true, describe: 'run folder or exported generator.onnx' })
    .option('data', { type: 'string', describe: 'folder of real images (default: the run\'s data, else the built-in logos)' })
    .option('test', { type: 'string', describe: 'labelled models: accuracy on every image of this labelled folder (same class subfolders) instead of the held-out split' })
    .option('n', { type: 'number', default: DEFAULT_EVAL_N, describe: 'images per side (generated and real)' })
    .option('seed', { type: 'number', default: 0, describe: 'seed of the noise, the real subset, patches and pairs' })
    .option('json', { type: 'string', describe: 'report file (default RUN/eval.json, with --raw RUN/eval.raw.json, or <generator>.eval.json)' })
    .option('swd-patches', { type: 'number', default: DEFAULT_SWD_PATCHES, describe: 'SWD patches per image and level (ProGAN: 128; time grows with n × patches)' })
    .option('pairs', { type: 'number', default: DEFAULT_MSSSIM_PAIRS, describe: 'random pairs per set for MS-SSIM' })
    .option('threads', { type: 'number', describe: 'CPU threads for onnxruntime' })
    .option('force', { type: 'boolean', default: false, describe: 'evaluate although the model file changed since training' })
    .option('raw', { type: 'boolean', default: false, describe: 'the trained weights of G, not their moving average (models with `ema`)' })
    .check((a) => {
      if (!Number.isInteger(a.seed)) throw new Error('--seed must be an integer');
      return positiveInts(a, ['n', 'swd-patches', 'pairs', 'threads']);
    }) as never,
  handler: async (a) => {
    const { report, file } = await evaluateSource(a);
    console.log(formatEval(report));
    console.log(`wrote ${file}`);
  },
};

export const compareCommand: CommandModule<object, { runs: string[]; out: string }> = {
  command: 'compare <runs..>',
  describe: 'a side-by-side report of runs: losses, eval.json figures, sample grids and loss curves (HTML)',
  builder: (y) => y
    .positional('runs', { type: 'string', array: true, demandOption: true, describe: 'run folders' })
    .option('out', { alias: 'o', type: 'string', default: 'report.html', describe: 'HTML file (images are copied next to it)' }) as never,
  handler: async (a) => {
    const r = await compareRuns(a.runs, a.out);
    console.log(formatCompare(r.rows));
    console.log(`wrote ${r.file} (${r.images.length} images beside it)`);
  },
};
