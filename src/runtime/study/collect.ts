/**
 * What a study folder holds now: each pair's state (finished / running or interrupted / missing) and, from its run
 * folder, the evaluations along training, iterations and times. Reads only; any run may be mid-write.
 */
import { existsSync } from 'node:fs';
import { type EvalRow, evalsFile, readEvals } from '../eval_along.ts';
import { readMetrics, runPaths } from '../run_folder.ts';
import { wallTime } from '../report.ts';
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

export function collectRun(p: Pair, steps: number): RunResult {
  const state = runState(p.dir, steps);
  const evals = readEvals(evalsFile(p.dir)).filter((r) => r.step <= steps).sort((a, b) => a.step - b.step);
  const metrics = readMetrics(runPaths(p.dir).metrics);
  // The last evaluation comes after the last iteration's log line: add its time.
  const last = evals.at(-1);
  const tail = last && metrics.at(-1)?.step === last.step ? last.evalSeconds : 0;
  return {
    ...p, state, evals, steps: metrics.at(-1)?.step ?? 0, seconds: (wallTime(metrics) ?? 0) + tail,
    evalSeconds: evals.reduce((s, r) => s + r.evalSeconds, 0),
  };
}

export function collectStudy(s: StudyJson, dir: string): RunResult[] {
  return pairs(s, dir).map((p) => collectRun(p, s.steps));
}
