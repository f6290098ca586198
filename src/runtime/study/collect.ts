/**
 * What a study folder holds now: each pair's state (finished / running or interrupted / missing) and, from its run
 * folder, the evaluations along training, iterations and times. Reads only; any run may be mid-write.
 */
import { existsSync } from 'node:fs';
import { type EvalRow, evalsFile, readEvals } from '../eval_along.ts';
import { readMetrics, runPaths } from '../run_folder.ts';
import { type Pair, type StudyJson, pairs } from './plan.ts';

export type RunState = 'finished' | 'started' | 'missing';

export interface RunResult extends Pair {
  state: RunState;
  evals: EvalRow[];
  /** Iterations logged. */
  steps: number;
  /** Wall time of the run (all its processes, evaluation included), seconds. */
  seconds: number;
  /** Of which evaluation along training. */
  evalSeconds: number;
}

/** Finished: its evaluation of the last step is written (the last thing a run writes). */
export function runState(dir: string, steps: number): RunState {
  if (readEvals(evalsFile(dir)).some((r) => r.step === steps)) return 'finished';
  return existsSync(runPaths(dir).config) ? 'started' : 'missing';
}

/**
 * Wall time over a run's processes: each process logs time from its own start, so a resumed run's log restarts
 * near 0; the sum of each stretch's last time is the run's time.
 */
export function wallSeconds(times: number[]): number {
  let total = 0;
  for (let i = 0; i < times.length; i++) if (i === times.length - 1 || times[i + 1] < times[i]) total += times[i];
  return total;
}

export function collectRun(p: Pair, steps: number): RunResult {
  const state = runState(p.dir, steps);
  const evals = readEvals(evalsFile(p.dir)).filter((r) => r.step <= steps).sort((a, b) => a.step - b.step);
  const metrics = readMetrics(runPaths(p.dir).metrics);
  // The last eval ends after the last iteration's log line: its time closes the run's last stretch.
  const last = evals.at(-1);
  const times = metrics.map((m) => m.time);
  if (last && metrics.at(-1)?.step === last.step) times[times.length - 1] = Math.max(times.at(-1)!, last.time);
  return {
    ...p, state, evals, steps: metrics.at(-1)?.step ?? 0, seconds: wallSeconds(times),
    evalSeconds: evals.reduce((s, r) => s + r.evalSeconds, 0),
  };
}

export function collectStudy(s: StudyJson, dir: string): RunResult[] {
  return pairs(s, dir).map((p) => collectRun(p, s.steps));
}
