/**
 * The report's view of a study submitted with `--slurm` (DIR/slurm.json), while its array runs and after: each
 * unfinished run's latest task — waiting, running (with its step), or failed / killed with the tail of its log.
 */
import type { RunResult } from './collect.ts';
import { type PairTask, pairId, pairTasks, queue, readSlurmRecord } from './slurm_jobs.ts';

export interface SlurmRunStatus extends PairTask {
  /** Iterations the run has logged. */
  step: number;
}

export interface SlurmStatus {
  arrays: string[];
  reports: string[];
  /** Whether squeue answered (else states come from the logs alone). */
  queue: boolean;
  /** Submitted runs that have not finished. */
  runs: SlurmRunStatus[];
}

export function slurmStatus(dir: string, results: RunResult[], queued = queue()): SlurmStatus | undefined {
  const record = readSlurmRecord(dir);
  if (!record) return undefined;
  const byPair = new Map(results.map((r) => [pairId(r), r]));
  const runs = pairTasks(dir, record, queued).flatMap((t) => {
    const r = byPair.get(pairId(t));
    return !r || r.state === 'finished' ? [] : [{ ...t, step: r.steps }];
  });
  return {
    arrays: record.submissions.map((s) => s.array),
    reports: record.submissions.flatMap((s) => (s.report ? [s.report] : [])),
    queue: queued !== undefined, runs,
  };
}

const WHAT: Record<PairTask['state'], string> = {
  running: 'running', pending: 'waiting', failed: 'failed', killed: 'killed', cancelled: 'cancelled', ended: 'ended unfinished', unknown: 'state unknown',
};

function describe(t: SlurmRunStatus, steps: number): string {
  const name = `${t.key} seed ${t.seed} (task ${t.task}`;
  switch (t.state) {
    case 'running': return `${name}): step ${t.step}/${steps}`;
    case 'pending': return `${name}${t.slurmState && t.slurmState !== 'PENDING' ? `, ${t.slurmState}` : ''})${t.step ? `, at step ${t.step}/${steps}` : ''}`;
    case 'failed': return `${name}, exit ${t.exitCode}) at step ${t.step}/${steps}; ${t.log} ends:`;
    case 'killed': return `${name}) at step ${t.step}/${steps}, with no exit line (scancel, time limit, preemption or node failure); ${t.log} ends:`;
    case 'cancelled': return `${name}): cancelled before it started`;
    case 'ended': return `${name}): exited 0 at step ${t.step}/${steps} without finishing; see ${t.log}`;
    case 'unknown': return `${name}) at step ${t.step}/${steps}: squeue not available here; see ${t.log}`;
  }
}

/** The report's lines about the Slurm jobs (text; the page shows the same). */
export function slurmLines(st: SlurmStatus, steps: number): string[] {
  const count = (s: PairTask['state']) => st.runs.filter((r) => r.state === s).length;
  const counts = (['running', 'pending', 'failed', 'killed', 'cancelled', 'ended', 'unknown'] as const).filter((s) => count(s)).map((s) => `${count(s)} ${WHAT[s]}`);
  const head = `On Slurm (array job${st.arrays.length > 1 ? 's' : ''} ${st.arrays.join(', ')}${st.reports.length ? `; report job${st.reports.length > 1 ? 's' : ''} ${st.reports.join(', ')}` : ''}): ` +
    (counts.length ? `of the unfinished runs, ${counts.join(', ')}.` : 'every submitted run has finished.') + (st.queue ? '' : ' (squeue did not answer: states from the logs)');
  const lines = [head];
  for (const t of st.runs) {
    lines.push(`- ${WHAT[t.state]}: ${describe(t, steps)}`);
    if (t.state === 'failed' || t.state === 'killed') lines.push(...(t.tail ?? []).map((l) => `    ${l}`));
  }
  return lines;
}
