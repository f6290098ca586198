/**
 * `ganc compare`: runs side by side — a table (model, steps, wall time, final smoothed losses, the figures of each
 * run's eval.json), a chart per loss with every run on it, and each run's latest sample grid and loss curve, as one
 * HTML file whose images lie next to it (relative paths, so the folder can be moved or served as it is). The charts
 * are drawn from each run's metrics with the board's Vega-Lite specs.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GancError } from '../errors.ts';
import { previousOf } from './checkpoint.ts';
import type { EvalReport } from './evaluate.ts';
import { chartPng, lossCurveSpec } from './loss_curve.ts';
import { emaLine, writeFileAtomic } from './pictures.ts';
import { checkpointHeader, readJson, readMetrics, runPaths, type MetricsRow } from './run_folder.ts';
import { lineChartSpec, rowsToSeries } from '../../web/shared/charts.js';

/** EMA weight of the "final smoothed" losses (debiased, as the loss curve's). */
export const LOSS_SMOOTHING = 0.95;

export interface RunSummary {
  /** The run folder as given. */
  dir: string;
  /** A short label: the folder's name. */
  label: string;
  model: string;
  /** Iterations done (last logged step). */
  steps: number | null;
  /** Iterations asked for (run.json). */
  targetSteps: number | null;
  /** Seconds of training, summed over resumed segments. */
  wallSeconds: number | null;
  /** Final smoothed losses (and other logged scalars: acc, loss_lab, …), by name. */
  final: Record<string, number>;
  eval?: EvalReport;
  /** Source files of the pictures (absent when the run has none yet). */
  samples?: string;
  lossCurve?: string;
}

/** Model name from the checkpoint's header (no tensors read), else from run.json's model file name. */
function modelName(dir: string): string {
  const p = runPaths(dir);
  const model = checkpointHeader(p.checkpoint)?.model ?? checkpointHeader(previousOf(p.checkpoint))?.model;
  if (model) return model;
  const saved = readJson<{ model?: string }>(p.config);
  return saved?.model ? path.basename(saved.model).replace(/\.m?ts$/, '') : '?';
}

/** Training seconds: `time` restarts at 0 in a resumed process, so segments are summed. */
export function wallTime(rows: readonly MetricsRow[]): number | null {
  if (!rows.length) return null;
  let total = 0;
  for (let i = 1; i < rows.length; i++) if (rows[i].time < rows[i - 1].time) total += rows[i - 1].time;
  return total + rows[rows.length - 1].time;
}

/** Last value of the debiased EMA of each logged scalar (losses and metrics, not step/epoch/time). */
export function finalSmoothed(rows: readonly MetricsRow[], weight = LOSS_SMOOTHING): Record<string, number> {
  const out: Record<string, number> = {};
  if (!rows.length) return out;
  const keys = Object.keys(rows[rows.length - 1]).filter((k) => !['step', 'epoch', 'time'].includes(k));
  for (const k of keys) {
    const pts = rows.filter((r) => Number.isFinite(r[k])).map((r) => [r.step, r[k]] as [number, number]);
    if (pts.length) out[k] = emaLine(pts, weight)[pts.length - 1][1];
  }
  return out;
}

function latestSamples(dir: string): string | undefined {
  const { samples } = runPaths(dir);
  if (existsSync(samples)) {
    const grids = readdirSync(samples).filter((f) => /^step_\d+\.png$/.test(f)).sort();
    if (grids.length) return path.join(samples, grids[grids.length - 1]);
  }
  const top = path.join(dir, 'samples.png');
  return existsSync(top) ? top : undefined;
}

export function summarizeRun(dir: string): RunSummary {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new GancError('no such run folder', { file: dir });
  const p = runPaths(dir);
  const saved = readJson<{ steps?: number }>(p.config);
  if (!saved && !existsSync(p.metrics)) throw new GancError('not a ganc run folder (no run.json or metrics.jsonl)', { file: dir });
  const rows = readMetrics(p.metrics);
  const evalFile = path.join(dir, 'eval.json');
  return {
    dir,
    label: path.basename(path.resolve(dir)),
    model: modelName(dir),
    steps: rows.length ? rows[rows.length - 1].step : null,
    targetSteps: saved?.steps ?? null,
    wallSeconds: wallTime(rows),
    final: finalSmoothed(rows),
    ...(existsSync(evalFile) ? { eval: readJson<EvalReport>(evalFile) } : {}),
    ...(latestSamples(dir) ? { samples: latestSamples(dir) } : {}),
    ...(existsSync(p.lossCurve) ? { lossCurve: p.lossCurve } : {}),
  };
}

// ---------------------------------------------------------------- the table

interface Column {
  head: string;
  cell: (r: RunSummary) => number | string | null | undefined;
  digits?: number;
  /** Which value is best, to mark it. */
  best?: 'min' | 'max';
}

const fmtTime = (s: number | null) => {
  if (s === null) return null;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
};

export const COLUMNS: Column[] = [
  { head: 'run', cell: (r) => r.label },
  { head: 'model', cell: (r) => r.model },
  { head: 'steps', cell: (r) => (r.steps === null ? null : r.targetSteps && r.targetSteps !== r.steps ? `${r.steps}/${r.targetSteps}` : String(r.steps)) },
  { head: 'wall', cell: (r) => fmtTime(r.wallSeconds) },
  { head: 'd_loss', cell: (r) => r.final.d_loss, digits: 3 },
  { head: 'g_loss', cell: (r) => r.final.g_loss, digits: 3 },
  { head: 'SWD avg', cell: (r) => r.eval?.swd.average, digits: 2, best: 'min' },
  { head: 'MS-SSIM gen', cell: (r) => r.eval?.msssim.generated.mean, digits: 4 },
  { head: 'MS-SSIM real', cell: (r) => r.eval?.msssim.real.mean, digits: 4 },
  { head: 'accuracy', cell: (r) => r.eval?.classification?.accuracy, digits: 4, best: 'max' },
];

/** Cell texts (null: no value), and which cells hold the best value of a column that has 2+ values. */
export function tableCells(rows: readonly RunSummary[]): { heads: string[]; cells: (string | null)[][]; best: boolean[][] } {
  const heads = COLUMNS.map((c) => c.head);
  const raw = rows.map((r) => COLUMNS.map((c) => c.cell(r)));
  const cells = raw.map((row) => row.map((v, j) => (v === null || v === undefined ? null : typeof v === 'number' ? (Number.isFinite(v) ? v.toFixed(COLUMNS[j].digits ?? 3) : String(v)) : v)));
  const best = rows.map(() => COLUMNS.map(() => false));
  COLUMNS.forEach((c, j) => {
    if (!c.best) return;
    const vals = raw.map((row) => row[j]).map((v) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined));
    const have = vals.filter((v): v is number => v !== undefined);
    if (have.length < 2) return;
    const target = c.best === 'min' ? Math.min(...have) : Math.max(...have);
    vals.forEach((v, i) => (best[i][j] = v === target));
  });
  return { heads, cells, best };
}

/** Why the eval figures of these runs may not compare (different data, n, seed, image size or SWD settings). */
export function evalCaveats(rows: readonly RunSummary[]): string[] {
  const evals = rows.filter((r) => r.eval).map((r) => r.eval!);
  const out: string[] = [];
  const differs = (what: string, f: (e: EvalReport) => unknown) => {
    const vals = new Set(evals.map((e) => JSON.stringify(f(e))));
    if (vals.size > 1) out.push(`eval ${what} differ between runs (${[...vals].join(' / ')}): their figures do not compare directly`);
  };
  differs('data folders', (e) => e.data);
  differs('image sizes', (e) => e.size);
  differs('image counts', (e) => e.n.generated);
  differs('seeds', (e) => e.seed);
  differs('SWD patch counts', (e) => e.swd.patchesPerImage);
  for (const r of rows) {
    if (r.eval && r.eval.step !== null && r.steps !== null && r.eval.step !== r.steps) out.push(`${r.label}: eval.json is of step ${r.eval.step}, the run is at step ${r.steps} (run ganc eval again)`);
    if (r.eval?.classification && r.eval.classification.heldOut?.excludedFromTraining === false) out.push(`${r.label}: trained on the held-out images too, so its accuracy is optimistic`);
  }
  const missing = rows.filter((r) => !r.eval).map((r) => r.label);
  if (missing.length && evals.length) out.push(`no eval.json in ${missing.join(', ')} (run ganc eval on them)`);
  return out;
}

/** The table as text (best values marked with *). */
export function formatCompare(rows: readonly RunSummary[]): string {
  const { heads, cells, best } = tableCells(rows);
  const text = cells.map((row, i) => row.map((c, j) => (c ?? '-') + (best[i][j] ? '*' : '')));
  const widths = heads.map((h, j) => Math.max(h.length, ...text.map((row) => row[j].length)));
  const line = (row: string[]) => row.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ').trimEnd();
  const lines = [line(heads), widths.map((w) => '-'.repeat(w)).join('  '), ...text.map(line)];
  if (best.some((row) => row.some(Boolean))) lines.push('* best of the runs (lowest SWD, highest held-out accuracy)');
  lines.push(`d_loss, g_loss: EMA (weight ${LOSS_SMOOTHING}) at the last step; SWD ×1e3, lower = closer to the real images; MS-SSIM: lower = more diverse`);
  for (const c of evalCaveats(rows)) lines.push(`note: ${c}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- HTML

/** The styles of ganc's HTML reports' text and tables. */
const TABLE_CSS = `body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }`;

/** A whole page of ganc's reports: `css` after the shared table styles, an h1 of the title, then `body`. */
export function htmlPage(title: string, css: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
${TABLE_CSS}
${css}
</style>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>
`;
}

export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 60) || 'run';

export interface RunImages {
  samples?: string;
  lossCurve?: string;
}

/** Charts of every run together: one per logged loss, each run in its colour. */
export interface SharedChart {
  name: string;
  file: string;
}

export function renderHtml(rows: readonly RunSummary[], images: readonly RunImages[], title = 'ganc compare', shared: readonly SharedChart[] = []): string {
  const { heads, cells, best } = tableCells(rows);
  const table = [
    '<table>',
    `<tr>${heads.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`,
    ...cells.map((row, i) => `<tr>${row.map((c, j) => `<td${j >= 2 ? ' class="num"' : ''}>${best[i][j] ? `<b>${esc(c ?? '')}</b>` : esc(c ?? '–')}</td>`).join('')}</tr>`),
    '</table>',
  ].join('\n');
  const levels = rows.some((r) => r.eval)
    ? '<h2>SWD per level (×1e3)</h2>\n<table>\n' + rows.filter((r) => r.eval).map((r) =>
      `<tr><td>${esc(r.label)}</td>${r.eval!.swd.levels.map((l) => `<td class="num">${l.resolution}px: ${l.swd.toFixed(2)}</td>`).join('')}</tr>`).join('\n') + '\n</table>'
    : '';
  const notes = evalCaveats(rows).map((c) => `<p class="note">${esc(c)}</p>`).join('\n');
  const together = shared.length
    ? `<h2>Losses of all runs</h2>\n<div class="runs">\n${shared.map((c) => `<figure class="run"><img src="${encodeURI(c.file)}" alt="${esc(c.name)} of every run"><figcaption>${esc(c.name)}</figcaption></figure>`).join('\n')}\n</div>`
    : '';
  const cards = rows.map((r, i) => {
    const img = images[i];
    const pic = (src: string | undefined, alt: string) => (src ? `<figure><img src="${encodeURI(src)}" alt="${esc(alt)}"><figcaption>${esc(alt)}</figcaption></figure>` : `<p class="note">no ${esc(alt)} yet</p>`);
    return [
      '<section class="run">',
      `<h2>${esc(r.label)}</h2>`,
      `<p>${esc(r.model)} · ${esc(r.dir)} · step ${r.steps ?? '–'}</p>`,
      pic(img.samples, 'latest samples'),
      pic(img.lossCurve, 'loss curve'),
      '</section>',
    ].join('\n');
  }).join('\n');
  return htmlPage(title, `.runs { display: flex; flex-wrap: wrap; gap: 1.5em; }
.run { flex: 1 1 420px; max-width: 820px; }
.run img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
figure { margin: 0.5em 0; }
figcaption, .note { color: #666; font-size: 0.9em; }`, `${table}
<p class="note">d_loss, g_loss: EMA (weight ${LOSS_SMOOTHING}) at the last step. SWD (sliced Wasserstein distance of Laplacian-pyramid patches, ×1e3): lower = closer to the real images. MS-SSIM of random pairs: lower = more diverse; compare generated with real. Accuracy: D's classification of held-out labelled images. Bold: best of the runs.</p>
${notes}
${levels}
${together}
<div class="runs">
${cards}
</div>`);
}

/** Summarize the runs, write their charts and copy their sample grids next to `out`, and write the HTML report. */
export async function compareRuns(dirs: readonly string[], out: string): Promise<{ file: string; rows: RunSummary[]; images: string[] }> {
  if (!dirs.length) throw new GancError('name at least one run folder');
  const rows = dirs.map(summarizeRun);
  const outDir = path.dirname(path.resolve(out));
  mkdirSync(outDir, { recursive: true });
  const stem = path.basename(out).replace(/\.html?$/i, '');
  const written: string[] = [];
  const put = async (name: string, spec: Record<string, unknown>) => {
    await writeFileAtomic(path.join(outDir, name), await chartPng(spec));
    written.push(path.join(outDir, name));
    return name;
  };
  const series = rows.map((r) => rowsToSeries(readMetrics(runPaths(r.dir).metrics), r.label));
  const images: RunImages[] = [];
  for (const [i, r] of rows.entries()) {
    let samples: string | undefined;
    if (r.samples) {
      samples = `${stem}-${i + 1}-${slug(r.label)}-samples.png`;
      copyFileSync(r.samples, path.join(outDir, samples));
      written.push(path.join(outDir, samples));
    }
    const loss = series[i].length ? await put(`${stem}-${i + 1}-${slug(r.label)}-loss.png`, lossCurveSpec(series[i], { title: `${r.label}: losses`, width: 760, height: 420 })) : undefined;
    images.push({ samples, lossCurve: loss });
  }
  const shared: SharedChart[] = [];
  if (rows.length > 1) {
    for (const name of [...new Set(series.flat().map((s) => s.name))]) {
      const spec = lineChartSpec(series.flat().filter((s) => s.name === name), { title: `${name}: all runs`, colorBy: 'run', width: 760, height: 420 });
      shared.push({ name, file: await put(`${stem}-all-${slug(name)}.png`, spec) });
    }
  }
  const file = path.resolve(out);
  await writeFile(file + '.tmp', renderHtml(rows, images, 'ganc compare', shared));
  renameSync(file + '.tmp', file);
  return { file: out, rows, images: written };
}
