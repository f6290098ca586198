/** `ganc eval RUN|generator.onnx` and `ganc compare RUN...`: numbers that answer "was there any improvement?". */
import type { CommandModule } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { GancError } from '../errors.ts';
import { loadImageFolder, skippedSummary } from '../runtime/data/images.ts';
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

/** Evaluate a run folder (its latest checkpoint) or an exported generator; writes the JSON report and returns it. */
export async function evaluateSource(args: EvalArgs): Promise<{ report: EvalReport; file: string }> {
  const t0 = performance.now();
  const { source } = args;
  if (!existsSync(source)) throw new GancError('no such run folder or generator file', { file: source });
  const isRun = statSync(source).isDirectory();
  if (args.raw && !isRun) throw new GancError('--raw needs a run folder: an exported generator holds the weights it was exported with', { file: source });
  const sessionOpts = args.threads ? { threads: args.threads } : {};

  // The generator, what it makes, and where its real images are.
  let session, model: string, step: number | null, classes: number | undefined, dataDir = args.data, jsonFile = args.json;
  let run: Awaited<ReturnType<typeof openRun>> | undefined;
  let info: { zSize: number; zDist: string; channels: number; size: number };
  let weights: EvalReport['weights'];
  if (isRun) {
    run = await openRun(source, args.force);
    const { compiled, meta, state, hash } = run;
    const def = compiled.def;
    session = await createSession(exportGenerator(compiled, state, { step: meta.step, modelHash: hash, raw: args.raw }), sessionOpts);
    info = { zSize: def.z.size, zDist: def.z.dist, channels: def.image.channels, size: def.image.size };
    model = def.name;
    step = meta.step;
    classes = def.classes;
    if (def.ema) weights = args.raw ? 'raw' : 'ema';
    dataDir ??= readJson<RunConfig>(runPaths(source).config)?.data;
    jsonFile ??= path.join(source, args.raw ? 'eval.raw.json' : 'eval.json');
  } else {
    const { model: name, step: at, ...gen } = generatorInfo(source);
    session = await createSession(source, sessionOpts);
    info = gen;
    model = name ?? path.basename(source, '.onnx');
    step = at;
    jsonFile ??= source.replace(/\.onnx$/i, '') + '.eval.json';
  }
  if (dataDir && !existsSync(dataDir)) {
    throw new GancError(`the real images are not here${args.data ? '' : ' (the folder the run was trained on, from run.json)'}; pass --data`, { file: dataDir });
  }
  if (!dataDir) {
    log(args.quiet, `no --data: comparing with the built-in ${classes ? 'logo / app-icon' : 'logo'} set at ${info.size}px`);
    dataDir = await ensureBuiltinData(info.size, !!classes);
  }
  const data = await loadImageFolder(dataDir, { size: info.size, labels: !!classes, minCount: 2 });
  const skipped = skippedSummary(data);
  if (skipped) log(args.quiet, skipped);

  // Real: a seeded subset; generated: as many, from seeded noise.
  const n = Math.min(args.n, data.count);
  if (n < args.n) log(args.quiet, `the data has ${data.count} images: evaluating ${n} per side instead of ${args.n}`);
  const real = datasetImages(data, seededSubset(Uint32Array.from({ length: data.count }, (_, i) => i), n, args.seed));
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
    const split = heldOutSplit(data);
    if (!split.heldOut.length) log(args.quiet, 'no held-out labelled images (each class needs at least 2): no accuracy');
    else {
      t = performance.now();
      const logits = await classifyImages(run.compiled, run.state, datasetImages(data, split.heldOut), sessionOpts);
      const labels = Int32Array.from(split.heldOut, (i) => data.labels![i]);
      const acc = classificationAccuracy(logits, labels, classes);
      tCls = (performance.now() - t) / 1000;
      // Training records the split it left out in run.json (`heldOut`); older runs trained on every image.
      const saved = readJson<RunConfig>(runPaths(source).config)?.heldOut;
      const excluded = saved?.fraction === HELD_OUT_FRACTION && saved?.seed === HELD_OUT_SEED;
      if (!excluded) log(args.quiet, `note: ${source}/run.json records no held-out split: the run trained on the held-out images too, so the accuracy is optimistic`);
      classification = {
        ...acc, classes: data.classes ?? [],
        heldOut: { fraction: HELD_OUT_FRACTION, seed: HELD_OUT_SEED, images: split.heldOut.length, excludedFromTraining: excluded },
      };
    }
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

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval <source>',
  describe: 'measure a run (or generator.onnx): sliced Wasserstein distance, MS-SSIM diversity, held-out accuracy',
  builder: (y) => y
    .positional('source', { type: 'string', demandOption: true, describe: 'run folder or exported generator.onnx' })
    .option('data', { type: 'string', describe: 'folder of real images (default: the run\'s data, else the built-in logos)' })
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
