/**
 * Running a study's pairs: each as a child `ganc run … --continue` (so an interrupted run resumes from its checkpoint
 * and a finished one is skipped), N at a time with the cores split between them. A child's output goes to its run
 * folder's log.txt; the runner prints one line per start and end.
 *
 * A child exits when the runner dies (its stdin, a pipe from the runner, closes): a study killed with kill -9 leaves
 * no orphan still writing a folder that the next `ganc study` would start again.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { heldBy } from '../run_lock.ts';
import { runState } from './collect.ts';
import { type Pair, type StudyJson, pairs, runArgs } from './plan.ts';

export const GANC_BIN = fileURLToPath(new URL('../../../bin/ganc.mjs', import.meta.url));
/** Set for a child of a study runner: it exits when the runner's pipe on its stdin closes. */
export const STUDY_CHILD_ENV = 'GANC_STUDY_CHILD';

/** Whether another live process holds a run folder (its lock): such a pair is left to it. */
const isHeld = (dir: string) => heldBy(dir) !== undefined;

export interface RunnerOptions {
  /** Runs at once (default: `defaultJobs`). */
  jobs?: number;
  /** Threads per run (default: the cores split over the jobs). */
  threads?: number;
  log?: (line: string) => void;
}

export interface RunnerResult {
  ran: Pair[];
  skipped: Pair[];
  failed: { pair: Pair; code: number | null }[];
  interrupted?: boolean;
}

/** Memory a run is allowed for when the runner picks how many run at once (a 64 px DCGAN peaks at ~0.65 GB). */
const MEMORY_PER_JOB = 2 * 1024 ** 3;

/**
 * Runs at once when the study does not say: one per core (cores / threads with --threads), at most one per 2 GiB of
 * memory. A study is a throughput job, and ORT's small-model kernels use one thread far better than two: on this
 * project's 2-core machine two 32 px runs side by side, one thread each, trained 1.5–1.65× the iterations per second of
 * one two-thread run at a time (bench/HISTORY.md, seventh session), with bit-identical losses.
 */
export function defaultJobs(threads: number | undefined, cores = availableParallelism(), memory = totalmem()): number {
  return Math.max(1, Math.min(Math.floor(cores / (threads ?? 1)), Math.floor(memory / MEMORY_PER_JOB)));
}

/** Run one pair as a child process; resolves with its exit code. */
function runChild(args: string[], pair: Pair): Promise<number | null> {
  mkdirSync(pair.dir, { recursive: true });
  const out = openSync(path.join(pair.dir, 'log.txt'), 'a');
  const child = spawn(process.execPath, [GANC_BIN, ...args], { stdio: ['pipe', out, out], env: { ...process.env, [STUDY_CHILD_ENV]: '1' } });
  closeSync(out);
  return new Promise((resolve) => {
    child.on('error', () => resolve(null));
    child.on('exit', (code, signal) => resolve(signal ? null : code));
  });
}

export async function runStudy(s: StudyJson, dir: string, opts: RunnerOptions): Promise<RunnerResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const all = pairs(s, dir);
  const skipped = all.filter((p) => runState(p.dir, s.steps) === 'finished' || isHeld(p.dir));
  const todo = all.filter((p) => !skipped.includes(p));
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(opts.threads), todo.length));
  const threads = opts.threads ?? Math.max(1, Math.floor(availableParallelism() / jobs));
  log(`study ${s.name}: ${all.length} runs, ${skipped.length} already finished${skipped.some((p) => isHeld(p.dir)) ? ' or held' : ''}, ${todo.length} to run ` +
    `(${jobs} at a time, ${threads} thread${threads > 1 ? 's' : ''} each${jobs > 1 ? ', threads not spinning' : ''}); logs in each run folder's log.txt`);
  const result: RunnerResult = { ran: [], skipped, failed: [] };
  const t0 = performance.now();
  let next = 0, done = 0, stopping = false;
  // Ctrl-C reaches the children too (one process group): they save checkpoints; the runner starts nothing new.
  const onSigint = () => {
    if (!stopping) log('interrupted: the running runs save their checkpoints; rerun the same command to continue');
    stopping = true;
  };
  process.on('SIGINT', onSigint);
  const worker = async () => {
    while (next < todo.length && !stopping) {
      const i = next++;
      const p = todo[i];
      const label = `${p.key} seed ${p.seed}`;
      log(`[${i + 1}/${todo.length}] ${label}: ${runState(p.dir, s.steps) === 'started' ? 'continuing' : 'starting'} (${p.dir})`);
      const t = performance.now();
      const code = await runChild(runArgs(s, p, { threads, spin: jobs > 1 ? false : undefined }), p);
      done++;
      const min = ((performance.now() - t) / 60000).toFixed(1);
      if (code === 0) {
        result.ran.push(p);
        const left = todo.length - done;
        const eta = left ? `, about ${(((performance.now() - t0) / done) * left / 60000).toFixed(0)} min left` : '';
        log(`[${done}/${todo.length}] ${label}: done in ${min} min${eta}`);
      } else {
        result.failed.push({ pair: p, code });
        log(`[${done}/${todo.length}] ${label}: failed (exit ${code ?? 'by signal'}) after ${min} min; see ${path.join(p.dir, 'log.txt')}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    process.off('SIGINT', onSigint);
  }
  return { ...result, interrupted: stopping };
}
