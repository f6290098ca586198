/**
 * Evaluation along training (`ganc run --eval-every K --eval-n N`): every K iterations (and at the last) the
 * generator at its current state makes N images from a fixed noise, scored against N real images by SWD (per level
 * and average, ×1e3) and MS-SSIM diversity; one JSON row per evaluation in the run folder's evals.jsonl.
 *
 * The noise, the real images and the metrics' own draws come from one fixed eval seed, not the run's seed: every run
 * of a study is scored on the same real images and noise, so differences between runs are the models', not the
 * evaluation's (FACTS.md: at n = 500 the real draw alone moves SWD by ~7).
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { GanDef } from '../dsl/gan.ts';
import { Rng } from '../random.ts';
import { sampleNoise } from './batches.ts';
import type { Dataset } from './data/images.ts';
import { datasetImages, DEFAULT_SWD_PATCHES, seededSubset, toRgbSet } from './evaluate.ts';
import { msssimDiversity } from './metrics/msssim.ts';
import { type ImageSet, type SwdCache, slicedWasserstein } from './metrics/swd.ts';
import { readJsonl, truncateJsonl } from './run_folder.ts';
import type { TrainHook, TrainerView } from './train.ts';

/** The seed of everything an evaluation along training draws: the same for every run. */
export const EVAL_SEED = 0;
/** Images per side when `--eval-n` is not given. */
export const DEFAULT_EVAL_ALONG_N = 256;
/** MS-SSIM pairs per evaluation (of the generated set). */
export const EVAL_PAIRS = 500;

export interface EvalRow {
  step: number;
  /** Seconds since this process started training (as metrics.jsonl's time), after the evaluation. */
  time: number;
  /** SWD ×1e3 per pyramid level, finest first. */
  swd: number[];
  swdAvg: number;
  /** Mean MS-SSIM of generated pairs (lower = more diverse). */
  msssim: number;
  evalSeconds: number;
}

export const evalsFile = (runDir: string) => path.join(runDir, 'evals.jsonl');

export const readEvals = (file: string) => readJsonl<EvalRow>(file);
/** Keep rows up to `step` (a resumed run redoes what came after its checkpoint). */
export const truncateEvals = (file: string, step: number) => truncateJsonl<EvalRow>(file, step);

/** The fixed real images of an evaluation: a seeded draw of n (the same for every run on this data). */
export function evalRealImages(data: Dataset, n: number, seed = EVAL_SEED): ImageSet {
  return datasetImages(data, seededSubset(Uint32Array.from({ length: data.count }, (_, i) => i), n, seed));
}

/** n images from the generator at its current state, from the fixed eval noise, in batches of the model's batch. */
export async function generateNow(view: TrainerView, n: number, seed = EVAL_SEED): Promise<ImageSet> {
  const def: GanDef = view.def;
  const { batch: B, z: { size: zSize, dist } } = def;
  const { channels: C, size } = def.image;
  const z = sampleNoise(new Rng(`${seed}/eval`), n * zSize, dist);
  const vol = C * size * size;
  const out = new Float32Array(n * vol);
  const zb = new Float32Array(B * zSize);
  for (let start = 0; start < n; start += B) {
    const m = Math.min(B, n - start);
    zb.fill(0).set(z.subarray(start * zSize, (start + m) * zSize));
    const img = await view.generate(zb, B);
    out.set(img.subarray(0, m * vol), start * vol);
  }
  return toRgbSet(out, n, C, size, size);
}

/**
 * SWD and MS-SSIM of generated images against the real set, with `ganc eval`'s settings (so `ganc eval RUN -n N
 * --pairs 500` of a finished run gives its last row). `cache` keeps the real set's side of SWD between calls.
 */
export function scoreImages(gen: ImageSet, real: ImageSet, cache?: SwdCache, seed = EVAL_SEED): Pick<EvalRow, 'swd' | 'swdAvg' | 'msssim'> {
  const swd = slicedWasserstein(gen, real, { seed, patchesPerImage: DEFAULT_SWD_PATCHES, cacheB: cache });
  const ms = msssimDiversity(gen, { pairs: EVAL_PAIRS, seed });
  return { swd: swd.levels.map((l) => l.swd), swdAvg: swd.average, msssim: ms.mean };
}

export interface EvalHookOptions {
  every: number;
  /** The run's last step (always evaluated). */
  steps: number;
  real: ImageSet;
  file: string;
}

/**
 * The train() hook. Its `start` catches up an evaluation a killed run owed at its checkpoint's step (the checkpoint
 * is written before the hook runs), so a resumed run's evals.jsonl has the same rows as an uninterrupted one's.
 */
export function evalHook({ every, steps, real, file }: EvalHookOptions): TrainHook {
  const cache: SwdCache = { levels: [] };
  const due = (step: number) => step > 0 && (step % every === 0 || step === steps);
  const run = async (step: number, view: TrainerView) => {
    const t = performance.now();
    const gen = await generateNow(view, real.n);
    const scores = scoreImages(gen, real, cache);
    const row: EvalRow = { step, time: +view.seconds.toFixed(3), ...scores, evalSeconds: +((performance.now() - t) / 1000).toFixed(3) };
    appendFileSync(file, JSON.stringify(row) + '\n');
  };
  return {
    every,
    run,
    start: async (step, view) => {
      if (due(step) && !readEvals(file).some((r) => r.step === step)) await run(step, view);
    },
  };
}
