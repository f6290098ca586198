/**
 * A study's report from whatever has finished: per model the final SWD (average and per level) and MS-SSIM as
 * mean ± std over seeds, the mean SWD along training (area under the curve / steps), iterations and times, and a
 * verdict against the baseline from Welch's t-test on the per-seed values — "better"/"worse" only at p < 0.05.
 * report.json holds it all; report.txt is the table.
 */
import { type EvalRow } from '../eval_along.ts';
import { type RunResult, collectStudy } from './collect.ts';
import type { StudyJson } from './plan.ts';
import { type SlurmStatus, slurmLines, slurmStatus } from './slurm_status.ts';
import { type Summary, type Verdict, type WelchResult, meanOverSteps, summarize, verdict, welch } from './stats.ts';

/** Real against real: two disjoint draws of the data, scored like the models (the floor SWD can reach). */
export interface Floor {
  n: number;
  swd: number[];
  swdAvg: number;
  msssimReal: number;
}

export interface Comparison {
  test: WelchResult | undefined;
  verdict: Verdict;
}

export interface ModelReport {
  key: string;
  name: string;
  size: number;
  classes?: number;
  baseline: boolean;
  runs: (Pick<RunResult, 'seed' | 'state' | 'steps' | 'seconds' | 'evalSeconds' | 'dir'> & { final?: EvalRow; swdMean?: number })[];
  /** Over finished runs. */
  final?: { swdAvg: Summary; swd: Summary[]; msssim: Summary };
  swdMean?: Summary;
  /** Against the baseline: on the final SWD average, and on the mean SWD along training. */
  vsBaseline?: { final: Comparison; swdMean: Comparison };
  /** SWD average per eval step over finished runs (for the curves). */
  curve: { step: number; mean: number; min: number; max: number; std: number }[];
}

export interface StudyReport {
  format: 'ganc-study-report/1';
  study: StudyJson;
  counts: { finished: number; started: number; missing: number };
  /** A study submitted with --slurm: its jobs and unfinished runs' tasks. */
  slurm?: SlurmStatus;
  floor?: Floor;
  models: ModelReport[];
  /** Share of the runs' wall time spent evaluating along training (finished runs). */
  evalShare: number;
  notes: string[];
  time: string;
}

const finals = (runs: ModelReport['runs']) => runs.filter((r) => r.state === 'finished' && r.final);

function curveOf(results: RunResult[]): ModelReport['curve'] {
  const done = results.filter((r) => r.state === 'finished');
  const steps = [...new Set(done.flatMap((r) => r.evals.map((e) => e.step)))].sort((a, b) => a - b);
  return steps.flatMap((step) => {
    const vals = done.map((r) => r.evals.find((e) => e.step === step)?.swdAvg).filter((v): v is number => v !== undefined);
    if (!vals.length) return [];
    const s = summarize(vals);
    return [{ step, mean: s.mean, min: s.min, max: s.max, std: s.std }];
  });
}

function modelReport(s: StudyJson, key: string, results: RunResult[]): ModelReport {
  const m = s.models[key];
  const runs = results.map((r) => {
    const final = r.state === 'finished' ? r.evals.find((e) => e.step === s.steps) : undefined;
    const swdMean = final ? meanOverSteps(r.evals.map((e) => [e.step, e.swdAvg])) : undefined;
    return { seed: r.seed, dir: r.dir, state: r.state, steps: r.steps, seconds: r.seconds, evalSeconds: r.evalSeconds, final, swdMean };
  });
  const done = finals(runs);
  const levels = done[0]?.final!.swd.length ?? 0;
  return {
    key, name: m.name, size: m.size, ...(m.classes ? { classes: m.classes } : {}), baseline: key === s.baseline, runs,
    ...(done.length ? {
      final: {
        swdAvg: summarize(done.map((r) => r.final!.swdAvg)),
        swd: Array.from({ length: levels }, (_, l) => summarize(done.map((r) => r.final!.swd[l]))),
        msssim: summarize(done.map((r) => r.final!.msssim)),
      },
      swdMean: summarize(done.map((r) => r.swdMean!)),
    } : {}),
    curve: curveOf(results),
  };
}

function compare(model: ModelReport, base: ModelReport): ModelReport['vsBaseline'] {
  const f = (m: ModelReport) => finals(m.runs).map((r) => r.final!.swdAvg);
  const a = (m: ModelReport) => finals(m.runs).map((r) => r.swdMean!);
  const wf = welch(f(model), f(base)), wa = welch(a(model), a(base));
  return { final: { test: wf, verdict: verdict(wf) }, swdMean: { test: wa, verdict: verdict(wa) } };
}

export function buildReport(s: StudyJson, dir: string, floor?: Floor): StudyReport {
  const results = collectStudy(s, dir);
  const models = Object.keys(s.models).map((k) => modelReport(s, k, results.filter((r) => r.key === k)));
  const base = models.find((m) => m.baseline)!;
  for (const m of models) if (!m.baseline) m.vsBaseline = compare(m, base);
  const count = (st: string) => results.filter((r) => r.state === st).length;
  const done = results.filter((r) => r.state === 'finished');
  const total = done.reduce((t, r) => t + r.seconds, 0);
  const notes: string[] = [];
  // The fewest seeds a verdict rests on (models with none finished have no verdict); the plan's count before any.
  const seedsDone = models.flatMap((m) => (m.final ? [m.final.swdAvg.n] : []));
  const minSeeds = seedsDone.length ? Math.min(...seedsDone) : s.seeds.length;
  notes.push(`Verdicts: Welch's t-test (two-sided) of each model's per-seed values against the baseline's; "better" or "worse" only at p < 0.05, else "no detectable difference". ` +
    (minSeeds <= 3 ? `With ${minSeeds} seed${minSeeds === 1 ? '' : 's'} per model the test has little power: only large, consistent differences can show, and "no detectable difference" does not mean "no difference".` : ''));
  const sizes = new Set(models.map((m) => m.size));
  if (sizes.size > 1) notes.push(`The models make images of different sizes (${[...sizes].join(', ')} px): their SWD is measured against different real images and does not compare directly.`);
  for (const m of models) if (m.classes) notes.push(`${m.key} trains on labelled data (${s.data ? s.data : 'the built-in logos and app icons as two classes'}); its generator is scored like the others, against the same real ${s.data ? 'images' : 'logos'}.`);
  if (floor) notes.push(`Real vs real: two disjoint draws of ${floor.n} real images score SWD ${floor.swdAvg.toFixed(1)}: no model can be expected below about this.`);
  const slurm = slurmStatus(dir, results);
  return {
    format: 'ganc-study-report/1', study: s, counts: { finished: count('finished'), started: count('started'), missing: count('missing') }, ...(slurm ? { slurm } : {}),
    ...(floor ? { floor } : {}), models, evalShare: total ? done.reduce((t, r) => t + r.evalSeconds, 0) / total : NaN, notes, time: new Date().toISOString(),
  };
}

// ---------------------------------------------------------------- text

const pm = (s: Summary | undefined, d = 1) => (!s || !s.n ? '–' : s.n > 1 ? `${s.mean.toFixed(d)} ± ${s.std.toFixed(d)}` : s.mean.toFixed(d));
const pv = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

export function comparisonText(c: Comparison | undefined): string {
  if (!c) return 'baseline';
  if (!c.test) return 'no test (needs 2+ finished seeds a side)';
  const [lo, hi] = c.test.ci;
  return `${c.verdict} (Δ ${c.test.diff >= 0 ? '+' : ''}${c.test.diff.toFixed(1)}, 95% CI [${lo.toFixed(1)}, ${hi.toFixed(1)}], p = ${pv(c.test.p)})`;
}

/** The summary table: one row per model (and the real-vs-real floor). */
export function reportTable(r: StudyReport): { head: string[]; rows: string[][] } {
  const s = r.study;
  const levels = Math.max(0, ...r.models.map((m) => m.final?.swd.length ?? 0));
  const res = (l: number) => Math.max(...r.models.map((m) => m.size)) >> l;
  const head = ['model', 'seeds done', 'SWD avg ×1e3 (final)', ...Array.from({ length: levels }, (_, l) => `SWD ${res(l)} px`), 'MS-SSIM', 'SWD mean along training',
    'iterations', 'min / run', `final SWD vs ${s.baseline}`, `SWD along training vs ${s.baseline}`];
  const rows = r.models.map((m) => {
    const done = finals(m.runs);
    const mins = summarize(done.map((x) => x.seconds / 60));
    return [
      m.key, `${done.length}/${m.runs.length}`, pm(m.final?.swdAvg), ...Array.from({ length: levels }, (_, l) => pm(m.final?.swd[l])), pm(m.final?.msssim, 3),
      pm(m.swdMean), done.length ? String(done[0].steps) : '–', pm(mins, 1), comparisonText(m.vsBaseline?.final), comparisonText(m.vsBaseline?.swdMean),
    ];
  });
  if (r.floor) rows.push(['real vs real', '–', r.floor.swdAvg.toFixed(1), ...Array.from({ length: levels }, (_, l) => r.floor!.swd[l]?.toFixed(1) ?? '–'), r.floor.msssimReal.toFixed(3), '–', '–', '–', '–', '–']);
  return { head, rows };
}

/** What the report says above the table. */
export function reportHeadline(r: StudyReport): string {
  const s = r.study, c = r.counts;
  return `Study ${s.name}: ${Object.keys(s.models).length} models × ${s.seeds.length} seeds, ${s.steps} iterations each, evaluated every ${s.eval.every} on ${s.eval.n} generated vs ${s.eval.n} real images` +
    ` (SWD ×1e3, lower is closer; MS-SSIM of generated pairs, lower is more diverse). Runs: ${c.finished} finished, ${c.started} started, ${c.missing} not started.`;
}

/** The notes under the table. */
export function reportNotes(r: StudyReport): string[] {
  return [...r.notes, ...(Number.isFinite(r.evalShare) ? [`Evaluation along training took ${(100 * r.evalShare).toFixed(1)}% of the finished runs' wall time.`] : [])];
}

/** A Markdown table (readable as text, pastes into the README). */
export function formatReport(r: StudyReport): string {
  const { head, rows } = reportTable(r);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [reportHeadline(r), '', ...(r.slurm ? [...slurmLines(r.slurm, r.study.steps), ''] : []), line(head), line(head.map(() => '---')), ...rows.map(line), '', ...reportNotes(r).map((n) => `- ${n}`)].join('\n');
}

