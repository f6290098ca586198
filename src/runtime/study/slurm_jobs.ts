/**
 * A study's Slurm jobs: submitting them (sbatch --parsable), the record of what was submitted (DIR/slurm.json: job
 * ids and which array task runs which pair), and what each pair's latest task is doing now — from squeue while Slurm
 * still lists it, else from the task's log (its `ganc-slurm: exit` line, or none when it was killed).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { GancError } from '../../errors.ts';
import { heldBy } from '../run_lock.ts';
import { readJson, writeJson } from '../run_folder.ts';
import type { Pair } from './plan.ts';
import { LOG_EXIT, LOG_START, taskLog } from './slurm.ts';

export interface SlurmSubmission {
  /** The array job's id. */
  array: string;
  /** The report job's id (runs after the array). */
  report?: string;
  submitted: string;
  script: string;
  /** Array task index → pair. */
  tasks: { index: number; key: string; seed: number }[];
}

export interface SlurmRecord {
  format: 'ganc-study-slurm/1';
  submissions: SlurmSubmission[];
}

export const slurmJsonFile = (dir: string) => path.join(dir, 'slurm.json');

export function readSlurmRecord(dir: string): SlurmRecord | undefined {
  const r = readJson<SlurmRecord>(slurmJsonFile(dir));
  return r?.format === 'ganc-study-slurm/1' ? r : undefined;
}

/** Adds a submission to DIR/slurm.json (or updates the one with its array id). */
export function recordSubmission(dir: string, sub: SlurmSubmission): void {
  const r = readSlurmRecord(dir) ?? { format: 'ganc-study-slurm/1', submissions: [] };
  writeJson(slurmJsonFile(dir), { ...r, submissions: [...r.submissions.filter((x) => x.array !== sub.array), sub] } satisfies SlurmRecord);
}

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';

/** `sbatch --parsable ARGS…` → the job id. */
export function sbatch(args: string[], env: NodeJS.ProcessEnv = process.env): string {
  let out: string;
  try {
    out = execFileSync('sbatch', ['--parsable', ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new GancError('sbatch not found: run this where Slurm\'s commands are (a login node), or use --dry-run to write the script only');
    throw new GancError(`sbatch failed: ${firstLine(err.stderr || err.message)}`, { file: args.at(-1)! });
  }
  // --parsable prints "jobid" or "jobid;cluster".
  const id = firstLine(out).split(';')[0];
  if (!/^\d+$/.test(id)) throw new GancError(`sbatch printed no job id (${JSON.stringify(firstLine(out))})`, { file: args.at(-1)! });
  return id;
}

/** This user's jobs Slurm lists now, one entry per array task ("123_4" → "RUNNING"); undefined without squeue. */
export function queue(env: NodeJS.ProcessEnv = process.env): Map<string, string> | undefined {
  let out: string;
  try {
    out = execFileSync('squeue', ['--noheader', '--array', `--user=${userInfo().username}`, '--format=%i %T'],
      { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch {
    return undefined;
  }
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [id, state] = line.trim().split(/\s+/);
    if (id && state) m.set(id, state);
  }
  return m;
}

export type TaskState = 'pending' | 'running' | 'ended' | 'failed' | 'killed' | 'cancelled' | 'unknown';

export interface PairTask {
  key: string;
  seed: number;
  /** "<array job>_<index>". */
  task: string;
  state: TaskState;
  /** What Slurm said (RUNNING, PENDING, …) while it lists the task. */
  slurmState?: string;
  exitCode?: number;
  log: string;
  /** The last lines of the log, for a task that failed or was killed. */
  tail?: string[];
}

const TAIL_LINES = 12;
const QUEUED = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD', 'SUSPENDED', 'STOPPED']);

/**
 * Each submitted pair's latest task and its state. `queued` is squeue's answer (undefined: Slurm cannot be asked
 * here — then a log without an exit line counts as running if the run folder's lock is held, else unknown).
 */
export function pairTasks(dir: string, record: SlurmRecord, queued: Map<string, string> | undefined): PairTask[] {
  const latest = new Map<string, { sub: SlurmSubmission; index: number }>();
  for (const sub of record.submissions) for (const t of sub.tasks) latest.set(`${t.key}/${t.seed}`, { sub, index: t.index });
  return [...latest.entries()].map(([k, { sub, index }]) => {
    const [key, seed] = [k.slice(0, k.lastIndexOf('/')), Number(k.slice(k.lastIndexOf('/') + 1))];
    const task = `${sub.array}_${index}`;
    const log = taskLog(dir, sub.array, index);
    const base = { key, seed, task, log };
    const listed = queued?.get(task);
    if (listed) return { ...base, state: QUEUED.has(listed) ? 'pending' : 'running', slurmState: listed };
    if (!existsSync(log)) return { ...base, state: queued ? 'cancelled' : 'unknown' };
    const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l.trim());
    // A requeued task appends to its log: only its last attempt counts.
    const starts = lines.flatMap((l, i) => (l.startsWith(LOG_START) ? [i] : []));
    const attempt = lines.slice(starts.at(-1) ?? 0);
    const exit = attempt.find((l) => l.startsWith(LOG_EXIT));
    const tail = attempt.slice(-TAIL_LINES);
    if (exit) {
      const exitCode = Number(exit.slice(LOG_EXIT.length).trim().split(/\s+/)[0]);
      return { ...base, exitCode, state: exitCode === 0 ? 'ended' : 'failed', ...(exitCode === 0 ? {} : { tail }) };
    }
    if (!queued) return { ...base, state: heldBy(path.join(dir, key, `seed-${seed}`)) ? 'running' : 'unknown', tail };
    return { ...base, state: 'killed', tail };
  });
}

/** Pairs whose latest task Slurm still lists (waiting or running): a resubmission leaves them to it. */
export function activePairs(tasks: PairTask[]): Set<string> {
  return new Set(tasks.filter((t) => t.state === 'pending' || t.state === 'running').map((t) => pairId(t)));
}

export const pairId = (p: Pick<Pair, 'key' | 'seed'>) => `${p.key}/${p.seed}`;
