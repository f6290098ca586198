/**
 * A study as Slurm jobs: the text of the sbatch scripts (pure functions of the plan). The array job runs one
 * (model, seed) per array task — the task's SLURM_ARRAY_TASK_ID picks its `ganc run … --continue` line from a `case`
 * written into the script, so the script alone says which task runs which pair. The report job runs
 * `ganc study --report DIR` once the array has ended (submitted with --dependency=afterany:<array>).
 *
 * Every task's log (DIR/slurm/<array job>_<task>.out) begins with a `ganc-slurm: start …` line and ends with
 * `ganc-slurm: exit <code> …` (missing when the task was killed): what `ganc study --report` reads back.
 */
import path from 'node:path';
import { shellWord } from './plan.ts';

export interface SlurmOptions {
  partition?: string;
  /** Slurm's --time (e.g. 2:00:00), per task. */
  time?: string;
  /** CPUs per task; each run uses that many threads. */
  cpusPerTask: number;
  /** GPUs per task; with any, the runs use --device cuda. */
  gpusPerTask?: number;
  /** At most this many tasks at once (the array's %K). */
  maxParallel?: number;
  /** More sbatch options, written as `#SBATCH <arg>` lines. */
  sbatchArgs: string[];
}

/** One array task: the pair it runs and the arguments after `ganc`. */
export interface SlurmTask {
  key: string;
  seed: number;
  args: string[];
}

export interface SlurmPlan {
  study: string;
  /** The study folder (absolute). */
  dir: string;
  /** Where the jobs run from (absolute): the folder `ganc study --slurm` ran in. */
  cwd: string;
  /** How a node starts ganc: node and bin/ganc.mjs, absolute paths (the nodes must see the same files). */
  ganc: string[];
  tasks: SlurmTask[];
  options: SlurmOptions;
}

export const slurmDir = (dir: string) => path.join(dir, 'slurm');
/** Slurm expands %A (array job id) and %a (task index). */
export const taskLogPattern = (dir: string) => path.join(slurmDir(dir), '%A_%a.out');
export const taskLog = (dir: string, job: string, index: number) => path.join(slurmDir(dir), `${job}_${index}.out`);
export const reportLog = (dir: string, job: string) => path.join(slurmDir(dir), `report-${job}.out`);

/** The marker lines a task writes into its log. */
export const LOG_START = 'ganc-slurm: start';
export const LOG_EXIT = 'ganc-slurm: exit';

/** `#SBATCH` lines both jobs share (after their own). */
function commonHeader(plan: SlurmPlan, forRuns: boolean): string[] {
  const o = plan.options;
  return [
    `#SBATCH --chdir=${plan.cwd}`,
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.time ? [`#SBATCH --time=${o.time}`] : []),
    `#SBATCH --cpus-per-task=${forRuns ? o.cpusPerTask : 1}`,
    ...(forRuns && o.gpusPerTask ? [`#SBATCH --gpus-per-task=${o.gpusPerTask}`] : []),
    ...o.sbatchArgs.map((a) => `#SBATCH ${a}`),
  ];
}

/** The array job: task i runs plan.tasks[i]. */
export function arrayScript(plan: SlurmPlan): string {
  const n = plan.tasks.length;
  if (!n) throw new Error('arrayScript: no tasks');
  const k = plan.options.maxParallel;
  const ganc = plan.ganc.map(shellWord).join(' ');
  const cases = plan.tasks.map((t, i) => `  ${i}) pair=${shellWord(`${t.key} seed ${t.seed}`)}; set -- ${t.args.map(shellWord).join(' ')} ;;`);
  return [
    '#!/bin/bash',
    `# ganc study ${plan.study}: ${n} run${n > 1 ? 's' : ''}, one per array task (written by \`ganc study --slurm\`; resubmitting`,
    '# the study skips finished runs). Each task continues its run from the checkpoint if it has one (--continue),',
    '# so a requeued or preempted task resumes.',
    `#SBATCH --job-name=ganc-${plan.study}`,
    `#SBATCH --array=0-${n - 1}${k ? `%${k}` : ''}`,
    `#SBATCH --output=${taskLogPattern(plan.dir)}`,
    '#SBATCH --open-mode=append',
    '#SBATCH --requeue',
    ...commonHeader(plan, true),
    '',
    'case "${SLURM_ARRAY_TASK_ID:?not run as a Slurm array task}" in',
    ...cases,
    `  *) echo "${LOG_EXIT} 2: no run for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;`,
    'esac',
    `echo "${LOG_START} $pair on $(hostname), job \${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}, restart \${SLURM_RESTART_COUNT:-0}, $(date -Is)"`,
    `${ganc} "$@"`,
    'rc=$?',
    `echo "${LOG_EXIT} $rc $pair, $(date -Is)"`,
    'exit $rc',
    '',
  ].join('\n');
}

/** The report job (submitted to run after the array). */
export function reportScript(plan: SlurmPlan): string {
  const ganc = plan.ganc.map(shellWord).join(' ');
  return [
    '#!/bin/bash',
    `# ganc study ${plan.study}: the report, once the array job has ended (written by \`ganc study --slurm\`).`,
    `#SBATCH --job-name=ganc-${plan.study}-report`,
    `#SBATCH --output=${path.join(slurmDir(plan.dir), 'report-%j.out')}`,
    ...commonHeader(plan, false),
    '',
    `${ganc} study --report ${shellWord(plan.dir)}`,
    '',
  ].join('\n');
}
