/** One run: live loss chart (zoom, hover, smoothing), the sample grid at any saved step, eval figures. */
import { h, clear, fileUrl, fmt } from '../lib/dom.js';
import { LiveChart } from '../lib/chart.js';
import { watchRuns, RunRows } from '../lib/live.js';
import { autoSmooth, rowsToSeries } from '../shared/charts.js';

const board = globalThis.gancBoard;
const stepFile = (path, step) => fileUrl(`${path ? `${path}/` : ''}samples/step_${String(step).padStart(6, '0')}.png`);

/** Fields of evals.jsonl rows that are not figures of the generator. */
export const NOT_FIGURES = ['step', 'epoch', 'time', 'evalSeconds'];

/** Numeric leaves of an evals.jsonl row (step, swdAvg, msssim, …), nested keys joined with '.'; arrays (SWD per
 * level) are left out. */
export function flatten(row, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'number') out[prefix + k] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, `${prefix}${k}.`, out);
  }
  return out;
}

export function evalTable(ev) {
  if (!ev) return h('p.note', { text: 'No eval.json yet (ganc eval RUN writes one).' });
  const rows = [
    ['step', ev.step],
    ['SWD average (×1e3, lower = closer)', ev.swd?.average],
    ...(ev.swd?.levels ?? []).map((l) => [`SWD ${l.resolution} px`, l.swd]),
    ['MS-SSIM generated (lower = more diverse)', ev.msssim?.generated?.mean],
    ['MS-SSIM real', ev.msssim?.real?.mean],
    ...(ev.classification ? [['held-out accuracy', ev.classification.accuracy]] : []),
  ].filter(([, v]) => v !== undefined);
  return h('table', {}, rows.map(([k, v]) => h('tr', {}, h('td', { text: k }), h('td.num', { text: fmt(v) }))));
}

/**
 * A smoothing slider that follows the loss picture's automatic weight (more points, more smoothing) until it is moved;
 * onChange(weight) after each move.
 */
export function smoothingSlider(onChange) {
  const input = h('input', { type: 'range', min: '0', max: '0.99', step: '0.01', value: '0.6' });
  const label = h('span', { text: 'auto' });
  let touched = false;
  input.addEventListener('input', () => {
    touched = true;
    label.textContent = Number(input.value).toFixed(2);
    onChange();
  });
  return {
    el: h('label', {}, 'smoothing ', input, label),
    /** The weight for `points` points: the slider's, or the automatic one (at least 0.6) while untouched. */
    weight(points) {
      if (!touched) {
        input.value = String(Math.max(0.6, autoSmooth(points)));
        label.textContent = `auto (${Number(input.value).toFixed(2)})`;
      }
      return Number(input.value);
    },
  };
}

/** The loss chart with its smoothing slider; update(rows) redraws. */
function lossPanel(el) {
  const chartEl = h('div.chart', { id: 'loss-chart' });
  const chart = new LiveChart(chartEl, { title: null });
  board.charts.set('loss', chart);
  let rows = [];
  const redraw = () => chart.update(rowsToSeries(rows), smooth.weight(rows.length));
  const smooth = smoothingSlider(redraw);
  el.append(h('h2', { text: 'Losses' }), h('div.controls', {}, smooth.el, h('span.note', { text: 'drag to pan, wheel to zoom, double-click to reset; hover for values' })), chartEl);
  return { update: (r) => ((rows = r), redraw()) };
}

/** The sample grid of a chosen step, large, on a slider over the saved steps (following the latest unless moved). */
function samplesPanel(el, path) {
  const slider = h('input.wide', { type: 'range', min: '0', max: '0', step: '1', value: '0', id: 'sample-slider' });
  const follow = h('input', { type: 'checkbox', checked: true });
  const stepLabel = h('span', { id: 'sample-step' });
  const img = h('img', { id: 'sample-image', alt: 'sample grid' });
  el.append(h('h2', { text: 'Samples (8×8 grid from a fixed z)' }), h('div.grid-view', {}, h('div.controls', {}, slider, stepLabel, h('label', {}, follow, 'follow the latest')), img));
  let samples = [];
  const show = () => {
    const i = Number(slider.value);
    if (!samples.length) {
      stepLabel.textContent = 'no sample grid yet';
      img.removeAttribute('src');
      return;
    }
    img.src = stepFile(path, samples[i]);
    img.dataset.step = String(samples[i]);
    stepLabel.textContent = `step ${samples[i]} (${i + 1} of ${samples.length})`;
  };
  slider.addEventListener('input', () => {
    follow.checked = Number(slider.value) === samples.length - 1;
    show();
  });
  return {
    update: (list) => {
      samples = list;
      slider.max = String(Math.max(0, list.length - 1));
      if (follow.checked) slider.value = slider.max;
      show();
    },
  };
}

/** eval.json as a table, evals.jsonl as a chart per figure. */
function evalPanel(el) {
  const table = h('div');
  const charts = h('div.row');
  el.append(h('h2', { text: 'Evaluation' }), table, charts);
  const byKey = new Map();
  return {
    error: (msg) => table.replaceChildren(h('p.error', { text: msg })),
    setEval: (ev) => table.replaceChildren(evalTable(ev)),
    setEvals: (list) => {
      const flat = list.map((r) => flatten(r)).filter((r) => typeof r.step === 'number');
      const keys = [...new Set(flat.flatMap((r) => Object.keys(r)))].filter((k) => !NOT_FIGURES.includes(k));
      for (const k of keys) {
        if (!byKey.has(k)) {
          const div = h('div.panel.chart');
          charts.append(div);
          byKey.set(k, new LiveChart(div, { title: k, height: 200 }));
          board.charts.set(`eval ${k}`, byKey.get(k));
        }
        byKey.get(k).update([{ name: k, points: flat.filter((r) => k in r).map((r) => [r.step, r[k]]) }], 0);
      }
    },
  };
}

export async function show(el, params) {
  const path = params.get('path') ?? '';
  const info = h('p.note');
  const status = h('span.badge');
  const links = h('p');
  el.append(h('h1', { text: `Run ${path || '(this folder)'}` }), h('div.controls', {}, info, status), links);
  // Losses and samples side by side where the window is wide enough (.row wraps them otherwise).
  const left = h('div.panel');
  const right = h('div.panel');
  el.append(h('div.row', {}, left, right));
  const losses = lossPanel(left);
  const samples = samplesPanel(right, path);
  const evals = evalPanel(el);
  const rows = new RunRows();

  const setInfo = (d) => {
    const s = d.summary;
    const r = rows.get(path);
    const step = r.length ? r[r.length - 1].step : s.steps;
    info.textContent = `${s.model} · step ${step ?? '–'}${s.targetSteps ? ` of ${s.targetSteps}` : ''}${d.checkpoint ? ` · checkpoint at step ${d.checkpoint.step}` : ''}`;
  };
  const setLinks = (d) => clear(links).append(
    d.checkpoint ? h('a', { href: `#/play?run=${encodeURIComponent(path)}`, text: 'Play with the generator' }) : h('span.note', { text: 'the playground opens after the first checkpoint' }),
    ' · ', h('a', { href: fileUrl(`${path ? `${path}/` : ''}loss.png`), target: '_blank', text: 'loss.png' }),
    ' · ', h('a', { href: fileUrl(`${path ? `${path}/` : ''}run.json`), target: '_blank', text: 'run.json' }));

  let detail;
  return watchRuns([path], async (e) => {
    if (e.type === 'error') return evals.error(e.error);
    if (e.type === 'init') {
      detail = e.detail;
      setLinks(detail);
      samples.update(detail.samples);
      evals.setEval(detail.eval);
      evals.setEvals(detail.evals);
    }
    if (rows.apply(e)) {
      await losses.update(rows.get(path));
      if (detail) setInfo(detail);
    }
    if (e.type === 'samples') samples.update(e.samples);
    if (e.type === 'evals') evals.setEvals(e.rows);
    if (e.type === 'eval') evals.setEval(e.eval);
    if (e.type === 'config' && detail && e.config) {
      detail.summary.targetSteps = e.config.steps ?? detail.summary.targetSteps;
      setInfo(detail);
    }
    if (e.type === 'checkpoint' && detail) {
      detail.checkpoint = e.checkpoint;
      setInfo(detail);
      setLinks(detail);
    }
  }, (s) => {
    status.textContent = s;
    status.className = s === 'live' ? 'badge live' : 'badge';
  });
}
