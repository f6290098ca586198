/**
 * report.html: a static page that opens offline from the study folder — the summary table with verdicts, the curves
 * (curves.png beside it), per-run rows (seed, state, iterations, times, final figures) and each model's latest
 * sample grid (relative links into the run folders).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { esc, htmlPage } from '../report.ts';
import { type StudyReport, reportHeadline, reportNotes, reportTable } from './report.ts';
import { slurmLines } from './slurm_status.ts';

const num = (v: number | undefined, d: number) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const verdictClass = (cell: string) => (/^better/.test(cell) ? 'better' : /^worse/.test(cell) ? 'worse' : '');

function htmlTable(head: string[], rows: string[][], cellClass: (cell: string, col: number) => string): string {
  return [
    '<table>',
    `<tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`,
    ...rows.map((row) => `<tr>${row.map((c, j) => `<td class="${cellClass(c, j)}">${esc(c)}</td>`).join('')}</tr>`),
    '</table>',
  ].join('\n');
}

function summaryTable(r: StudyReport): string {
  const { head, rows } = reportTable(r);
  const verdictCols = new Set([head.length - 2, head.length - 1]);
  return htmlTable(head, rows, (c, j) => (verdictCols.has(j) ? verdictClass(c) : j ? 'num' : ''));
}

function runsTable(r: StudyReport): string {
  const head = ['model', 'seed', 'state', 'iterations', 'wall time (min)', 'evaluation (s)', 'final SWD avg', 'final MS-SSIM', 'SWD mean along training', 'folder'];
  const rows = r.models.flatMap((m) => m.runs.map((x) => [
    m.key, String(x.seed), x.state, String(x.steps), num(x.seconds / 60, 1), num(x.evalSeconds, 1), num(x.final?.swdAvg, 1), num(x.final?.msssim, 3), num(x.swdMean, 1), x.dir,
  ]));
  return htmlTable(head, rows, (_, j) => (j > 0 && j < 9 ? 'num' : ''));
}

function samples(r: StudyReport, dir: string): string {
  const figs = r.models.flatMap((m) => {
    const run = m.runs.find((x) => x.state === 'finished') ?? m.runs.find((x) => x.state === 'started');
    const file = run && path.join(run.dir, 'samples.png');
    if (!file || !existsSync(file)) return [];
    const rel = path.relative(dir, file).split(path.sep).join('/');
    return [`<figure><img src="${esc(encodeURI(rel))}" alt="${esc(m.key)} samples"><figcaption>${esc(m.key)}, seed ${run!.seed}, step ${run!.steps}</figcaption></figure>`];
  });
  return figs.length ? `<h2>Samples (one seed per model, at its last step)</h2>\n<div class="samples">\n${figs.join('\n')}\n</div>` : '';
}

export function renderStudyHtml(r: StudyReport, dir: string, curves: string | undefined): string {
  const title = `ganc study ${r.study.name}`;
  return htmlPage(title, `body { max-width: 1400px; }
td.better { background: #e3f4e1; }
td.worse { background: #f8e1e1; }
.curves { max-width: 100%; width: 900px; }
.samples { display: flex; flex-wrap: wrap; gap: 1em; }
.samples img { width: 256px; image-rendering: pixelated; border: 1px solid #ddd; }
figure { margin: 0.5em 0; }
figcaption, .note { color: #555; font-size: 0.9em; }
pre.slurm { background: #f7f7f7; border: 1px solid #ddd; padding: 0.5em; white-space: pre-wrap; }`, `<p>${esc(reportHeadline(r))}</p>
${r.slurm ? `<pre class="slurm">${esc(slurmLines(r.slurm, r.study.steps).join('\n'))}</pre>` : ''}
${summaryTable(r)}
<ul class="note">
${reportNotes(r).map((n) => `<li>${esc(n)}</li>`).join('\n')}
</ul>
${curves ? `<img class="curves" src="${esc(curves)}" alt="SWD along training per model, mean and band across seeds">` : '<p class="note">no finished evaluations yet: no curves</p>'}
<h2>Runs</h2>
${runsTable(r)}
${samples(r, dir)}
<p class="note">Written ${esc(r.time)} by <code>ganc study --report ${esc(dir)}</code>; every figure is in report.json.</p>`);
}
