/**
 * A study's plan: study.json (what the study is, for `ganc study --report` and for anyone reading the folder), the
 * (model, seed) pairs, each an ordinary run folder DIR/<key>/seed-<s>, and the `ganc run` command of each pair.
 */
import path from 'node:path';
import type { GanDef } from '../../dsl/gan.ts';
import type { StudyDef } from '../../dsl/study.ts';
import { readJson, writeJson } from '../run_folder.ts';
import { GancError } from '../../errors.ts';

/** DIR/study.json. */
export interface StudyJson {
  format: 'ganc-study/1';
  name: string;
  /** The study file, as given (relative to where `ganc study` ran). */
  file: string;
  baseline: string;
  /** key → the model ref a run names (`STUDY.ts#key`), its GAN's name, image size and classes. */
  models: Record<string, { ref: string; name: string; size: number; classes?: number }>;
  seeds: number[];
  steps: number;
  eval: { every: number; n: number };
  data?: string;
}

export interface Pair {
  key: string;
  seed: number;
  dir: string;
}

export const studyJsonFile = (dir: string) => path.join(dir, 'study.json');

export function studyJson(def: StudyDef, file: string, loaded: Record<string, GanDef>): StudyJson {
  const models = Object.fromEntries(Object.keys(def.models).map((k) => {
    const g = loaded[k];
    return [k, { ref: `${file}#${k}`, name: g.name, size: g.image.size, ...(g.classes ? { classes: g.classes } : {}) }];
  }));
  return {
    format: 'ganc-study/1', name: def.name, file, baseline: def.baseline, models, seeds: def.seeds, steps: def.steps, eval: def.eval,
    ...(def.data !== undefined ? { data: def.data } : {}),
  };
}

export function readStudyJson(dir: string): StudyJson {
  const s = readJson<StudyJson>(studyJsonFile(dir));
  if (!s || s.format !== 'ganc-study/1') throw new GancError('not a study folder (no study.json): run `ganc study STUDY.ts -o DIR` first', { file: dir });
  return s;
}

/** Write study.json; a folder that already holds a different study (other models, seeds, steps or eval) is refused. */
export function writeStudyJson(dir: string, s: StudyJson): void {
  const old = readJson<StudyJson>(studyJsonFile(dir));
  if (old) {
    const what = (x: StudyJson) => JSON.stringify([x.name, x.steps, x.eval, x.data ?? null]);
    if (what(old) !== what(s)) {
      throw new GancError(`this folder holds study ${old.name} with other settings (steps ${old.steps}, eval every ${old.eval.every} on ${old.eval.n}); choose another -o`, { file: studyJsonFile(dir) });
    }
    // Models and seeds may be added to a study; what ran before stays.
    s = { ...s, models: { ...old.models, ...s.models }, seeds: [...new Set([...old.seeds, ...s.seeds])] };
  }
  writeJson(studyJsonFile(dir), s);
}

export function pairs(s: StudyJson, dir: string): Pair[] {
  return Object.keys(s.models).flatMap((key) => s.seeds.map((seed) => ({ key, seed, dir: path.join(dir, key, `seed-${seed}`) })));
}

export interface RunFlags {
  threads?: number;
  /** false adds --no-spin: idle threads sleep at once where runs share the cores (ganc run's default spins briefly). */
  spin?: boolean;
}

/** The arguments after `ganc` that run one pair (resume-safe: --continue). */
export function runArgs(s: StudyJson, p: Pair, flags: RunFlags = {}): string[] {
  return [
    'run', s.models[p.key].ref, '--out', p.dir, '--seed', String(p.seed), '--steps', String(s.steps),
    // A checkpoint at every evaluation: a killed run loses at most one interval.
    '--eval-every', String(s.eval.every), '--eval-n', String(s.eval.n), '--ckpt-every', String(s.eval.every), ...(s.data !== undefined ? ['--data', s.data] : []),
    ...(flags.threads ? ['--threads', String(flags.threads)] : []), ...(flags.spin === false ? ['--no-spin'] : []), '--continue',
  ];
}

/** A shell word: quoted only when it needs to be. */
export const shellWord = (w: string) => (/^[A-Za-z0-9_./#=:-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

export const commandLine = (args: string[]) => ['npx', 'ganc', ...args].map(shellWord).join(' ');
