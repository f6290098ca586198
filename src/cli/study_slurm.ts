/**
 * `ganc study STUDY.ts --slurm`: the study's unfinished runs as one Slurm job array (one `ganc run … --continue` per
 * task) and a report job after it; the scripts go to DIR/slurm/, the job ids to DIR/slurm.json. Runs already
 * finished, and runs whose latest task Slurm still lists, are left out, so resubmitting continues a study.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GancError } from '../errors.ts';
import { runState } from '../runtime/study/collect.ts';
import { type StudyJson, pairs, readStudyJson, runArgs, writeStudyJson } from '../runtime/study/plan.ts';
import { GANC_BIN } from '../runtime/study/runner.ts';
import { type SlurmOptions, type SlurmPlan, arrayScript, reportScript, slurmDir, taskLog } from '../runtime/study/slurm.ts';
import { activePairs, pairId, pairTasks, queue, readSlurmRecord, recordSubmission, sbatch } from '../runtime/study/slurm_jobs.ts';
import { splitModelRef } from './load_model.ts';
import { type StudyOverrides, planStudy, prepareData } from './study.ts';

export interface SlurmArgs extends Partial<Omit<SlurmOptions, 'sbatchArgs' | 'cpusPerTask'>>, StudyOverrides {
  study: string;
  out?: string;
  cpusPerTask: number;
  sbatchArg?: string[];
  dryRun: boolean;
}

const log = (msg: string) => process.stderr.write(msg + '\n');

/** The study with every path a node resolves made absolute (model refs, data): the jobs do not depend on a cwd. */
function absolute(s: StudyJson): StudyJson {
  const models = Object.fromEntries(Object.entries(s.models).map(([k, m]) => {
    const { file, key } = splitModelRef(m.ref);
    return [k, { ...m, ref: `${path.resolve(file)}${key !== undefined ? `#${key}` : ''}` }];
  }));
  return { ...s, models, ...(s.data !== undefined ? { data: path.resolve(s.data) } : {}) };
}

/** sbatch reads `#SBATCH` lines word by word: a path with spaces or a line break in an option would be misread. */
function checkWord(what: string, v: string, site?: string): void {
  if (/[\s'"\\]/.test(v)) throw new GancError(`${what} ${JSON.stringify(v)} has a space or quote, which #SBATCH lines cannot carry; use a path without`, site ? { file: site } : undefined);
}

export async function studySlurm(a: SlurmArgs): Promise<void> {
  const s = await planStudy(a.study, a);
  const dir = path.resolve(a.out ?? path.join('runs', `study-${s.name}`));
  checkWord('the study folder', dir);
  checkWord('the working folder', process.cwd());
  for (const x of a.sbatchArg ?? []) {
    if (!x.startsWith('-') || /\n/.test(x)) throw new GancError(`--sbatch-arg ${JSON.stringify(x)}: give one sbatch option, e.g. --sbatch-arg=--account=abc`);
  }
  writeStudyJson(dir, s);
  const study = absolute(readStudyJson(dir));

  const record = readSlurmRecord(dir);
  const queued = a.dryRun ? undefined : queue();
  if (!a.dryRun && record && !queued) throw new GancError('squeue failed: cannot tell which of this study\'s tasks are still queued or running (try again, or --dry-run)', { file: dir });
  const active = record && queued ? activePairs(pairTasks(dir, record, queued)) : new Set<string>();
  const all = pairs(study, dir);
  const finished = all.filter((p) => runState(p.dir, study.steps) === 'finished');
  const inQueue = all.filter((p) => active.has(pairId(p)));
  const todo = all.filter((p) => !finished.includes(p) && !inQueue.includes(p));
  log(`study ${s.name}: ${all.length} runs, ${finished.length} finished, ${inQueue.length} queued or running in earlier jobs, ${todo.length} to submit`);
  if (!todo.length) {
    console.log(finished.length === all.length ? `every run of study ${s.name} has finished: ganc study --report ${dir}` : `nothing to submit: the unfinished runs are queued or running (squeue, ganc study --report ${dir})`);
    return;
  }

  const options: SlurmOptions = {
    partition: a.partition, time: a.time, cpusPerTask: a.cpusPerTask, gpusPerTask: a.gpusPerTask, maxParallel: a.maxParallel, sbatchArgs: a.sbatchArg ?? [],
  };
  const plan: SlurmPlan = {
    study: s.name, dir, cwd: process.cwd(), ganc: [process.execPath, GANC_BIN], options,
    tasks: todo.map((p) => ({
      key: p.key, seed: p.seed,
      args: [...runArgs(study, p, { threads: a.cpusPerTask }), ...(a.gpusPerTask ? ['--device', 'cuda'] : [])],
    })),
  };
  mkdirSync(slurmDir(dir), { recursive: true });
  const script = path.join(slurmDir(dir), 'study.sbatch');
  const reportFile = path.join(slurmDir(dir), 'report.sbatch');
  writeFileSync(script, arrayScript(plan), { mode: 0o755 });
  writeFileSync(reportFile, reportScript(plan), { mode: 0o755 });
  if (a.dryRun) {
    console.log(`wrote ${script} (${todo.length} array tasks) and ${reportFile}; submit with:\n  id=$(sbatch --parsable ${script}) && sbatch --dependency=afterany:$id ${reportFile}`);
    return;
  }

  // Rendered once here, not by every task at once (the nodes share the cache folder).
  await prepareData(s);
  const array = sbatch([script]);
  // Kept per submission: the array's own task → run mapping, beside its logs.
  const kept = path.join(slurmDir(dir), `array-${array}.sbatch`);
  renameSync(script, kept);
  const sub = { array, submitted: new Date().toISOString(), script: kept, tasks: plan.tasks.map((t, index) => ({ index, key: t.key, seed: t.seed })) };
  recordSubmission(dir, sub); // before the report job: a failure there must not lose the array's record
  const report = sbatch([`--dependency=afterany:${array}`, reportFile]);
  recordSubmission(dir, { ...sub, report });
  const tasks = sub.tasks;
  const k = options.maxParallel;
  console.log(`submitted study ${s.name}: array job ${array} (${todo.length} run${todo.length > 1 ? 's' : ''}${k ? `, at most ${k} at once` : ''}), report job ${report} after it`);
  for (const t of tasks) console.log(`  ${array}_${t.index}  ${t.key} seed ${t.seed}`);
  console.log(`follow:  squeue -j ${array},${report}   ganc study --report ${dir}   ganc board ${dir}`);
  console.log(`logs:    ${taskLog(dir, array, 0).replace(/_0\.out$/, '_<task>.out')}; report in ${path.join(dir, 'report.html')} when the array has ended`);
}
