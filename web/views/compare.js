/** Several runs on one chart (one chart per logged loss, a colour per run), live; a study is its report plus that. */
import { h, getJson, fileUrl } from '../lib/dom.js';
import { LiveChart } from '../lib/chart.js';
import { watchRuns, RunRows } from '../lib/live.js';
import { rowsToSeries } from '../shared/charts.js';
import { flatten, NOT_FIGURES, smoothingSlider } from './run.js';

const board = globalThis.gancBoard;

/** Charts of `paths` into `el`; returns the function that stops the live updates. */
function runCharts(el, paths) {
  const status = h('span.badge');
  const charts = h('div');
  const smooth = smoothingSlider(() => redraw());
  const rows = new RunRows();
  const evals = new Map();
  const byKey = new Map();
  const chartFor = (key) => {
    if (!byKey.has(key)) {
      const div = h('div.chart');
      charts.append(div);
      const chart = new LiveChart(div, { title: key, colorBy: 'run', height: 300 });
      byKey.set(key, chart);
      board.charts.set(key, chart);
    }
    return byKey.get(key);
  };
  const redraw = () => {
    const series = paths.flatMap((p) => rowsToSeries(rows.get(p), p || '(root)'));
    for (const p of paths) {
      for (const r of evals.get(p) ?? []) {
        for (const [k, v] of Object.entries(flatten(r))) if (!NOT_FIGURES.includes(k) && typeof r.step === 'number') series.push({ name: `eval ${k}`, run: p || '(root)', points: [[r.step, v]] });
      }
    }
    // Eval rows arrive one point per row: merge them into one series per (name, run).
    const merged = new Map();
    for (const s of series) {
      const key = `${s.name}\u0000${s.run}`;
      if (merged.has(key)) merged.get(key).points.push(...s.points);
      else merged.set(key, { ...s, points: [...s.points] });
    }
    const names = [...new Set([...merged.values()].map((s) => s.name))];
    const weight = smooth.weight(Math.max(0, ...paths.map((p) => rows.get(p).length)));
    return Promise.all(names.map((n) => chartFor(n).update([...merged.values()].filter((s) => s.name === n), n.startsWith('eval ') ? 0 : weight)));
  };
  el.append(h('div.controls', {}, smooth.el, status), charts);
  return watchRuns(paths, (e) => {
    if (e.type === 'init') evals.set(e.path, e.detail.evals);
    if (e.type === 'evals') evals.set(e.path, e.rows);
    if (rows.apply(e) || e.type === 'evals' || e.type === 'init') redraw();
  }, (s) => (status.textContent = s));
}

export async function show(el, params) {
  const paths = params.getAll('path');
  el.append(h('h1', { text: `Compare ${paths.length} runs` }));
  if (paths.length === 0) {
    el.append(h('p.note', { text: 'Pick runs on the Runs page (checkboxes), then "Compare selected runs".' }));
    return;
  }
  el.append(h('p', {}, paths.map((p, i) => [i ? ' · ' : '', h('a', { href: `#/run?path=${encodeURIComponent(p)}`, text: p || '(root)' })])));
  return runCharts(el, paths);
}

export async function showStudy(el, params) {
  const path = params.get('path') ?? '';
  const study = await getJson(`/api/study?path=${encodeURIComponent(path)}`);
  el.append(h('h1', { text: `Study ${path}` }));
  if (study.study) el.append(h('details', {}, h('summary', { text: 'study.json' }), h('pre', { text: JSON.stringify(study.study, null, 2) })));
  el.append(h('p', {}, study.runs.map((p, i) => [i ? ' · ' : '', h('a', { href: `#/run?path=${encodeURIComponent(p)}`, text: p })])));
  if (study.report) {
    el.append(h('h2', { text: 'Report' }), h('iframe.report', { src: fileUrl(`${path}/report.html`), sandbox: 'allow-same-origin', title: 'study report' }));
  }
  if (!study.runs.length) return;
  el.append(h('h2', { text: 'All runs' }));
  return runCharts(el, study.runs);
}
