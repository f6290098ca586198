/**
 * A study: several models trained over several seeds for the same budget, evaluated along training, compared with a
 * baseline (`ganc study STUDY.ts`). A study file's default export is `study({...})`; `STUDY.ts#key` names one of its
 * models wherever a model file is accepted.
 */
import { GancError, type Site } from '../errors.ts';
import type { GanDef } from './gan.ts';
import { callSite } from '../compiler/builder.ts';

export interface StudyOptions {
  name: string;
  /** The key of `models` the others are compared with. */
  baseline: string;
  /** key → a GAN definition, or a model file path (relative to the study file). */
  models: Record<string, GanDef | string>;
  seeds: number[];
  /** Iterations per run. */
  steps: number;
  /** Evaluate every `every` iterations (and at the last): SWD and MS-SSIM on `n` generated vs `n` real images. */
  eval: { every: number; n: number };
  /** Real images: default the built-in logos (as `ganc run`); a folder. */
  data?: string;
}

export interface StudyDef extends Required<Omit<StudyOptions, 'data'>> {
  kind: 'ganc.study';
  data?: string;
  site?: Site;
}

const KNOWN = ['name', 'baseline', 'models', 'seeds', 'steps', 'eval', 'data'];
const KEY = /^[A-Za-z0-9._-]+$/;

const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;

export function study(opts: StudyOptions): StudyDef {
  const site = callSite();
  const bad = (msg: string): never => {
    throw new GancError(`study({...}): ${msg}`, site);
  };
  for (const k of Object.keys(opts)) if (!KNOWN.includes(k)) bad(`unknown option '${k}' (known: ${KNOWN.join(', ')})`);
  for (const k of ['name', 'baseline', 'models', 'seeds', 'steps', 'eval'] as const) if (opts[k] === undefined) bad(`needs '${k}'`);
  if (!KEY.test(opts.name)) bad(`name '${opts.name}' may only use letters, digits, '.', '_' and '-'`);
  const keys = Object.keys(opts.models);
  if (!keys.length) bad('models is empty');
  for (const k of keys) {
    if (!KEY.test(k)) bad(`model key '${k}' may only use letters, digits, '.', '_' and '-' (it names a folder)`);
    const m = opts.models[k];
    if (typeof m !== 'string' && (m as GanDef | undefined)?.kind !== 'ganc.gan') bad(`models.${k} must be a gan({...}) definition or a model file path`);
  }
  if (!keys.includes(opts.baseline)) bad(`baseline '${opts.baseline}' is not a key of models (${keys.join(', ')})`);
  if (!Array.isArray(opts.seeds) || !opts.seeds.length || !opts.seeds.every((s) => Number.isInteger(s) && s >= 0)) bad('seeds must be a non-empty list of non-negative integers');
  if (new Set(opts.seeds).size !== opts.seeds.length) bad('seeds has duplicates');
  if (!posInt(opts.steps)) bad(`steps must be a positive integer, got ${JSON.stringify(opts.steps)}`);
  for (const k of Object.keys(opts.eval)) if (k !== 'every' && k !== 'n') bad(`unknown option '${k}' in eval (known: every, n)`);
  if (!posInt(opts.eval.every) || !posInt(opts.eval.n)) bad('eval.every and eval.n must be positive integers');
  if (opts.eval.n < 2) bad('eval.n must be at least 2');
  return {
    kind: 'ganc.study', name: opts.name, baseline: opts.baseline, models: { ...opts.models }, seeds: [...opts.seeds],
    steps: opts.steps, eval: { every: opts.eval.every, n: opts.eval.n }, ...(opts.data !== undefined ? { data: opts.data } : {}), site,
  };
}
