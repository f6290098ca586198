/** `ganc run <model.ts>`: train on a folder of images (or the built-in logos). */
import type { CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkFusable } from '../compiler/compile.ts';
import type { GanDef } from '../dsl/gan.ts';
import { GancError } from '../errors.ts';
import { loadImageFolder, skippedSummary, unlabelledCount } from '../runtime/data/images.ts';
import { describeData, ensureBuiltinData } from '../runtime/data/logos.ts';
import { checkSameModel, damagedName, type LatestCheckpoint, previousOf, readCheckpointMeta, readLatestCheckpoint } from '../runtime/checkpoint.ts';
import { HELD_OUT_FRACTION, HELD_OUT_SEED, heldOutSplit } from '../runtime/data/split.ts';
import type { Device, Spin } from '../runtime/ort.ts';
import { type RunConfig, readJson, runPaths, writeJson } from '../runtime/run_folder.ts';
import { acquireRunLock } from '../runtime/run_lock.ts';
import { type TrainHook, train } from '../runtime/train.ts';
import { DEFAULT_EVAL_ALONG_N, evalHook, evalRealImages, evalsFile, readEvals, truncateEvals } from '../runtime/eval_along.ts';
import { STUDY_CHILD_ENV } from '../runtime/study/runner.ts';
import { createProgress, type Progress } from '../runtime/progress.ts';
import { compileWith } from './compile.ts';
import { loadModel } from './load_model.ts';
import { positiveInts } from './options.ts';

export interface RunArgs {
  model: string;
  data?: string;
  out?: string;
  steps?: number;
  epochs?: number;
  batch?: number;
  seed?: number;
  threads?: number;
  sampleEvery: number;
  ckptEvery: number;
  device: Device;
  resume: boolean;
  force: boolean;
  maxMinutes?: number;
  stepsPerRun: number;
  /** Resume if the folder has a checkpoint, start if not, stop at once if it is finished. */
  continue?: boolean;
  evalEvery?: number;
  evalN?: number;
  /** --spin: ORT's own spin loop; --no-spin: idle threads sleep at once; neither: a brief spin (runtime/ort.ts). */
  spin?: boolean;
  heldOut?: number;
}

/** --spin / --no-spin / neither as runtime/ort.ts's Spin. */
const spinMode = (flag: boolean | undefined): Spin => (flag === undefined ? 'brief' : flag ? 'on' : 'off');

function log(msg: string) {
  process.stderr.write(msg + '\n');
}

/** An onProgress callback that shows a bar for long one-off work (rendering, decoding). */
function progressFor(title: string): { onProgress: (done: number, total: number) => void; stop: () => void } {
  let bar: Progress | undefined;
  return {
    onProgress: (done, total) => {
      if (total < 500) return; // quick enough to need no bar
      bar ??= createProgress({ total, title });
      bar.update(done, {});
    },
    stop: () => bar?.stop(),
  };
}

/** --continue: whether the run in `out` has reached `steps` (and, with evaluation, evaluated its last step). */
function finished(out: string, steps: number | undefined, evaluating: boolean): boolean {
  const paths = runPaths(out);
  const target = steps ?? readJson<RunConfig>(paths.config)?.steps;
  const step = readCheckpointMeta(paths.checkpoint)?.step ?? -1;
  if (target === undefined || step < target) return false;
  return !evaluating || readEvals(evalsFile(out)).some((r) => r.step === target);
}

/** Which checkpoint --resume continues from; with the previous one, why (the damaged one is set aside, not deleted). */
function resumingFrom(c: LatestCheckpoint): string {
  const used = `resuming from ${path.basename(c.file)} at step ${c.meta.step}`;
  if (!c.passedOver) return used;
  const damaged = c.passedOver.site!.file;
  return `${used}: ${path.basename(damaged)} is damaged (${c.passedOver.reason}); it is kept as ${path.basename(damagedName(damaged))}`;
}

export async function runTraining(args: RunArgs): Promise<void> {
  const loaded = await loadModel(args.model);
  const out = args.out ?? path.join('runs', loaded.name);
  // Before the folder is looked at or written: a second writer stops here, having changed nothing.
  const lock = await acquireRunLock(out, `ganc run ${args.model}${args.resume ? ' --resume' : ''}`);
  try {
    await trainInFolder(args, loaded, out);
  } finally {
    lock.release();
  }
}

async function trainInFolder(args: RunArgs, loaded: GanDef, out: string): Promise<void> {
  const paths = runPaths(out);
  if (args.continue) {
    if (finished(out, args.steps, args.evalEvery !== undefined)) {
      log(`${out}: already finished (${args.steps ?? readJson<RunConfig>(paths.config)?.steps} steps); nothing to do`);
      return;
    }
    args = { ...args, resume: existsSync(paths.checkpoint) || existsSync(previousOf(paths.checkpoint)) };
  }
  const saved = args.resume ? readJson<RunConfig>(paths.config) : undefined;
  const hasCheckpoint = existsSync(paths.checkpoint) || existsSync(previousOf(paths.checkpoint));
  if (args.resume && !hasCheckpoint) throw new GancError('--resume: no checkpoint in this run folder', { file: paths.dir });
  if (!args.resume && hasCheckpoint && !args.force) {
    throw new GancError('this run folder already has a checkpoint: add --resume to continue it, or --force to start over (or choose another --out)', { file: paths.dir });
  }
  const seed = args.seed ?? saved?.seed ?? 0;
  const heldOut = args.heldOut ?? saved?.heldOut?.fraction ?? HELD_OUT_FRACTION;
  if (saved?.heldOut && heldOut !== saved.heldOut.fraction) {
    throw new GancError(`--held-out ${heldOut} differs from the run's ${saved.heldOut.fraction} (run.json): a resumed run keeps its split`, { file: paths.config });
  }
  const compiled = compileWith(args.model, loaded, { batch: args.batch ?? saved?.batch, seed });
  const { def, hash } = compiled;
  // Before anything is written: a refused resume must leave run.json (which names the model) as it was.
  const from = args.resume ? readLatestCheckpoint(paths.checkpoint) : undefined;
  if (from && !args.force) checkSameModel(from.meta, hash, from.file);
  if (args.stepsPerRun > 1) checkFusable(compiled);
  if (from) log(resumingFrom(from));

  const dataArg = args.data ?? saved?.data;
  let dataDir = dataArg;
  if (!dataDir) {
    log(`no --data: using the built-in ${def.classes ? 'logo / app-icon' : 'logo'} set (rendered once at ${def.image.size}px)`);
    const p = progressFor('rendering');
    dataDir = await ensureBuiltinData(def.image.size, !!def.classes, p);
    p.stop();
  }
  const decoding = progressFor('decoding');
  const data = await loadImageFolder(dataDir, { size: def.image.size, labels: !!def.classes, minCount: def.batch, onProgress: decoding.onProgress });
  decoding.stop();
  const skipped = skippedSummary(data);
  if (skipped) log(`${dataDir}: ${skipped}`);
  const unlabelled = unlabelledCount(data);
  log(await describeData(data, dataDir) + (unlabelled ? `, ${data.count - unlabelled} labelled and ${unlabelled} unlabelled` : ''));

  const split = def.classes && data.labels ? heldOutSplit(data, { fraction: heldOut }) : undefined;
  if (split?.heldOut.length) log(`${split.heldOut.length} labelled images held out for ganc eval (${+(heldOut * 100).toFixed(2)}% of each class)`);
  const perEpoch = Math.floor((split?.train.length ?? data.count) / def.batch);
  const steps = args.steps ?? (args.epochs !== undefined ? args.epochs * perEpoch : saved?.steps ?? 25 * perEpoch);
  writeJson(paths.config, {
    model: args.model, data: dataArg, batch: def.batch, seed, steps,
    ...(split ? { heldOut: { fraction: heldOut, seed: HELD_OUT_SEED, images: split.heldOut.length } } : {}),
  } satisfies RunConfig);

  const hooks = args.evalEvery !== undefined ? [await evaluationAlong(args, def, dataArg, out, steps, from?.meta.step ?? -1)] : [];
  const r = await train(compiled, data, {
    out, steps, seed, device: args.device, threads: args.threads, spin: spinMode(args.spin), hooks, sampleEvery: args.sampleEvery, ckptEvery: args.ckptEvery,
    resume: args.resume, from, force: args.force, modelHash: hash, stepsPerRun: args.stepsPerRun, heldOut,
    maxSeconds: args.maxMinutes !== undefined ? args.maxMinutes * 60 : undefined,
  });
  log(`${r.interrupted ? 'stopped' : 'done'} at step ${r.step}/${steps}: samples in ${path.join(out, 'samples')}, losses in ${paths.lossCurve}, checkpoint ${paths.checkpoint}`);
  if (r.interrupted) process.exitCode = 130;
}

/**
 * The evaluation hook of --eval-every: real images from the run's --data, or the built-in logos (also for a labelled
 * model trained on logos + app icons: every model of a study is scored against the same images). evals.jsonl is cut
 * back to the step training starts from (-1: a fresh start empties it).
 */
async function evaluationAlong(args: RunArgs, def: GanDef, dataArg: string | undefined, out: string, steps: number, from: number): Promise<TrainHook> {
  const dir = dataArg ?? (await ensureBuiltinData(def.image.size, false));
  const data = await loadImageFolder(dir, { size: def.image.size, labels: false, minCount: 2 });
  const real = evalRealImages(data, args.evalN ?? DEFAULT_EVAL_ALONG_N);
  const file = evalsFile(out);
  truncateEvals(file, from);
  log(`evaluating every ${args.evalEvery} steps: ${real.n} generated vs ${real.n} real images from ${dir} (SWD, MS-SSIM) → ${file}`);
  return evalHook({ every: args.evalEvery!, steps, real, file });
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <model>',
  describe: 'train a model on a folder of images (default: the built-in logos)',
  builder: (y) => y
    .positional('model', { type: 'string', demandOption: true, describe: 'model file (.ts)' })
    .option('data', { type: 'string', describe: 'folder of images (subfolders = classes for labelled models)' })
    .option('out', { alias: 'o', type: 'string', describe: 'run folder (default runs/<model name>)' })
    .option('steps', { type: 'number', describe: 'iterations to train (dUpdatesPerG D + gUpdatesPerD G updates each)' })
    .option('epochs', { type: 'number', describe: 'passes over the data (default 25)' })
    .option('batch', { type: 'number', describe: 'batch size (default: the model\'s)' })
    .option('seed', { type: 'number', describe: 'seed of initial values, noise and data order (default 0)' })
    .option('threads', { type: 'number', describe: 'CPU threads for onnxruntime (default: all cores)' })
    .option('sample-every', { type: 'number', default: 100, describe: 'write an 8×8 sample grid and the loss curve every N steps' })
    .option('ckpt-every', { type: 'number', default: 100, describe: 'write a checkpoint every N steps' })
    .option('device', { choices: ['cpu', 'cuda'] as const, default: 'cpu' as const, describe: 'execution provider' })
    .option('steps-per-run', { type: 'number', default: 1, describe: 'iterations per onnxruntime call (one fused graph; state crosses to the device once per call)' })
    .option('max-minutes', { type: 'number', describe: 'stop after this much training time (checkpoint kept; --resume continues)' })
    .option('held-out', { type: 'number', describe: `labelled models: fraction of each class kept out of training for ganc eval's accuracy (default ${HELD_OUT_FRACTION}; 0 with a separate test folder, ganc eval --test)` })
    .option('resume', { type: 'boolean', default: false, describe: 'continue the run in --out from its checkpoint' })
    .option('continue', { type: 'boolean', default: false, describe: 'resume if --out has a checkpoint, else start; do nothing if it is finished (for schedulers and studies)' })
    .option('eval-every', { type: 'number', describe: 'evaluate every N steps and at the last (SWD, MS-SSIM → evals.jsonl)' })
    .option('eval-n', { type: 'number', describe: `images per side for --eval-every (default ${DEFAULT_EVAL_ALONG_N})` })
    .option('spin', { type: 'boolean', describe: 'idle onnxruntime threads: --spin spins (ORT\'s loop), --no-spin sleeps at once (where runs share the cores); default: spin up to 1 ms' })
    .option('force', { type: 'boolean', default: false, describe: 'resume although the model changed / overwrite an existing run' })
    .check((a) => {
      positiveInts(a, ['steps', 'epochs', 'batch', 'threads', 'sample-every', 'ckpt-every', 'steps-per-run', 'eval-every', 'eval-n']);
      if (a['eval-n'] !== undefined && a['eval-every'] === undefined) throw new Error('--eval-n needs --eval-every');
      if (a.continue && a.resume) throw new Error('--continue already resumes when it can: drop --resume');
      const m = a['max-minutes'] as number | undefined;
      if (m !== undefined && !(m > 0)) throw new Error('--max-minutes must be a positive number');
      const h = a['held-out'] as number | undefined;
      if (h !== undefined && !(h >= 0 && h < 1)) throw new Error('--held-out must be a fraction in [0, 1)');
      return true;
    }) as never,
  handler: async (args) => {
    // A study's child: stop with the study runner (its pipe on stdin closes when it dies, even by kill -9).
    const child = process.env[STUDY_CHILD_ENV] === '1';
    if (child) process.stdin.on('end', () => process.exit(137)).resume();
    try {
      await runTraining(args);
    } finally {
      if (child) process.stdin.destroy();
    }
  },
};
