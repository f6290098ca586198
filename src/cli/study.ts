/**
 * `ganc study STUDY.ts [-o DIR] [--jobs N]`: train every (model, seed) of a study as a run folder DIR/<key>/seed-<s>,
 * then write the report; `--commands` prints the runs' commands instead (for a cluster scheduler); `--report DIR`
 * writes the report of whatever has finished.
 */
import type { CommandModule } from 'yargs';
import path from 'node:path';
import type { GanDef } from '../dsl/gan.ts';
import { GancError } from '../errors.ts';
import { ensureBuiltinData } from '../runtime/data/logos.ts';
import { studyFloor } from '../runtime/study/floor.ts';
import { type StudyJson, commandLine, pairs, readStudyJson, runArgs, studyJson, writeStudyJson } from '../runtime/study/plan.ts';
import { writeStudyReport } from '../runtime/study/write_report.ts';
import { runStudy } from '../runtime/study/runner.ts';
import { loadModel, loadStudy } from './load_model.ts';
import { positiveInts } from './options.ts';

export interface StudyArgs {
  study?: string;
  out?: string;
  jobs?: number;
  threads?: number;
  commands: boolean;
  report?: string;
  resume: boolean;
  /** A shorter (or longer) budget than the study file's: a quick check of the whole pipeline. */
  steps?: number;
  evalEvery?: number;
  evalN?: number;
  data?: string;
  /** --slurm and its options (src/cli/study_slurm.ts). */
  slurm: boolean;
  partition?: string;
  time?: string;
  cpusPerTask: number;
  gpusPerTask?: number;
  maxParallel?: number;
  sbatchArg?: string[];
  dryRun: boolean;
}

const log = (msg: string) => process.stderr.write(msg + '\n');

export type StudyOverrides = Pick<StudyArgs, 'steps' | 'evalEvery' | 'evalN' | 'data'>;

/**
 * The study file's definition as study.json (every model loaded, so a broken one fails before anything runs), with
 * the budget given on the command line in place of the file's (study.json records what runs).
 */
export async function planStudy(file: string, o: StudyOverrides = {}): Promise<StudyJson> {
  const def = await loadStudy(file);
  const ref = path.relative(process.cwd(), path.resolve(file)) || file;
  const loaded: Record<string, GanDef> = {};
  for (const k of Object.keys(def.models)) loaded[k] = await loadModel(`${ref}#${k}`);
  const s = studyJson(def, ref, loaded);
  return {
    ...s, steps: o.steps ?? s.steps, eval: { every: o.evalEvery ?? s.eval.every, n: o.evalN ?? s.eval.n },
    ...(o.data !== undefined ? { data: o.data } : {}),
  };
}

/** The built-in data each run needs, rendered once here rather than by several runs at once. */
export async function prepareData(s: StudyJson): Promise<void> {
  if (s.data !== undefined) return;
  for (const m of Object.values(s.models)) {
    await ensureBuiltinData(m.size, false);
    if (m.classes) await ensureBuiltinData(m.size, true);
  }
}

async function report(dir: string): Promise<void> {
  const s = readStudyJson(dir);
  const floor = await studyFloor(s, dir);
  const r = await writeStudyReport(s, dir, floor);
  console.log(r.text);
  log(`wrote ${r.files.join(', ')}`);
}

export async function studyMain(a: StudyArgs): Promise<void> {
  if (a.report !== undefined) return report(a.report);
  if (!a.study) throw new GancError('name a study file (ganc study STUDY.ts), or a study folder with --report DIR');
  if (a.slurm) return (await import('./study_slurm.ts')).studySlurm({ ...a, study: a.study });
  const s = await planStudy(a.study, a);
  const dir = a.out ?? path.join('runs', `study-${s.name}`);
  writeStudyJson(dir, s);
  if (a.commands) {
    for (const p of pairs(s, dir)) console.log(commandLine(runArgs(s, p, { threads: a.threads })));
    return;
  }
  await prepareData(s);
  await studyFloor(s, dir);
  const r = await runStudy(readStudyJson(dir), dir, { jobs: a.jobs, threads: a.threads });
  await report(dir);
  if (r.interrupted) process.exitCode = 130;
  else if (r.failed.length) {
    throw new GancError(`${r.failed.length} run${r.failed.length > 1 ? 's' : ''} failed (${r.failed.map((f) => `${f.pair.key} seed ${f.pair.seed}`).join(', ')}): see log.txt in ${r.failed.length > 1 ? 'their folders' : 'its folder'}; rerun to retry`, { file: dir });
  }
}

export const studyCommand: CommandModule<object, StudyArgs> = {
  command: 'study [study]',
  describe: 'train several models over several seeds, evaluated along training, and report which beat the baseline',
  builder: (y) => y
    .positional('study', { type: 'string', describe: 'study file (.ts): export default study({...})' })
    .option('out', { alias: 'o', type: 'string', describe: 'study folder (default runs/study-<name>)' })
    .option('jobs', { type: 'number', describe: 'runs at once, the cores split between them (default: one per core, or cores / --threads; at most one per 2 GiB of memory)' })
    .option('threads', { type: 'number', describe: 'threads per run (default: cores / jobs)' })
    .option('commands', { type: 'boolean', default: false, describe: 'print one `ganc run` command per run (for a cluster scheduler) instead of running' })
    .option('report', { type: 'string', describe: 'write the report of study folder DIR from the runs that have finished' })
    .option('resume', { type: 'boolean', default: false, describe: 'continue an interrupted study (what rerunning always does: finished runs are skipped)' })
    .option('steps', { type: 'number', describe: 'iterations per run, instead of the study file\'s (a quick check)' })
    .option('eval-every', { type: 'number', describe: 'evaluate every N iterations, instead of the study file\'s' })
    .option('eval-n', { type: 'number', describe: 'images per evaluation, instead of the study file\'s' })
    .option('data', { type: 'string', describe: 'folder of images, instead of the study file\'s data' })
    .option('slurm', { type: 'boolean', default: false, describe: 'submit the unfinished runs as a Slurm job array (sbatch), and a report job after it' })
    .option('partition', { type: 'string', describe: '--slurm: the partition' })
    .option('time', { type: 'string', describe: '--slurm: time limit per run, as sbatch takes it (e.g. 2:00:00)' })
    .option('cpus-per-task', { type: 'number', default: 1, describe: '--slurm: CPUs per run (its threads)' })
    .option('gpus-per-task', { type: 'number', describe: '--slurm: GPUs per run (the runs then use --device cuda)' })
    .option('max-parallel', { type: 'number', describe: '--slurm: at most K runs at once (the array\'s %K)' })
    .option('sbatch-arg', { type: 'string', array: true, describe: '--slurm: another sbatch option, e.g. --sbatch-arg=--account=abc (repeatable)' })
    .option('dry-run', { type: 'boolean', default: false, describe: '--slurm: write the sbatch scripts into DIR/slurm without submitting' })
    .check((a) => {
      positiveInts(a, ['jobs', 'threads', 'steps', 'eval-every', 'eval-n', 'cpus-per-task', 'gpus-per-task', 'max-parallel']);
      if ((a['eval-n'] as number | undefined) === 1) throw new Error('--eval-n must be at least 2');
      const slurmOnly = ['partition', 'time', 'gpus-per-task', 'max-parallel', 'sbatch-arg', 'dry-run'].filter((k) => a[k] !== undefined && a[k] !== false);
      if (slurmOnly.length && !a.slurm) throw new Error(`--${slurmOnly[0]} goes with --slurm`);
      if (a.slurm && (a.report !== undefined || a.commands)) throw new Error('--slurm submits the runs: not with --report or --commands');
      if (a.report !== undefined && a.study !== undefined) throw new Error('--report DIR reads the folder: give no study file with it');
      return true;
    }) as never,
  handler: (a) => studyMain(a),
};
