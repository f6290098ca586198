/**
 * Vega-Lite specs of ganc's charts, shared by the board (vega-embed in the page) and the pictures written in node
 * (loss.png, ganc compare's report: vega → SVG → resvg → PNG). Plain ES module without imports, so both load it as is.
 *
 * Data flows through one named data set, `rows`, in long form: { step, series, run, value, smooth } — `value` the
 * logged number (null where it is not finite, so the line breaks there), `smooth` its debiased EMA. The y axis starts
 * at a range robust to outliers (a loss spike at step 0 must not flatten the rest); the signals `ylo`/`yhi` hold it so
 * a live page can move it without rebuilding the chart.
 */

/** matplotlib's tab10: distinct, print-friendly colours, one per series (or run) in order. */
export const SERIES_COLORS = [
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
];

/** Above this many points a light raw line and a bold EMA line are drawn; below it, the raw line alone. */
export const EMA_MIN_POINTS = 50;
/** Up to this many points each one gets a dot, so sparse data (or a single point) stays visible. */
export const MARKER_MAX_POINTS = 40;
/** Stroke opacity of the raw line under an EMA line (stroke-opacity, not opacity: resvg drops a translucent group
 * whose bounds reach far off the chart). */
export const RAW_OPACITY = 0.38;

const finite = (p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]);

/** Debiased EMA (as TensorBoard's smoothing), so the start is not dragged towards zero. */
export function emaLine(points, weight) {
  const w = Math.min(Math.max(weight, 0), 0.9999);
  let acc = 0;
  let norm = 0;
  return points.map(([x, v]) => {
    acc = acc * w + (1 - w) * v;
    norm = norm * w + (1 - w);
    return [x, acc / norm];
  });
}

/** Smoothing that grows with the number of points (a window of about 1/20 of them); 0 below EMA_MIN_POINTS. */
export function autoSmooth(n) {
  return n > EMA_MIN_POINTS ? Math.min(0.99, Math.max(0.6, 1 - 20 / Math.max(1, n))) : 0;
}

/**
 * Axis range. A few huge outliers must not flatten the rest: with 20+ values the range is the 1st–99th percentile,
 * widened to the true extremes when those are close, plus a 5% margin.
 */
export function robustRange(values) {
  if (values.length === 0) return { lo: 0, hi: 1 };
  const v = [...values].sort((a, b) => a - b);
  const min = v[0];
  const max = v[v.length - 1];
  let lo = min;
  let hi = max;
  if (v.length >= 20) {
    const p1 = v[Math.floor(0.01 * (v.length - 1))];
    const p99 = v[Math.ceil(0.99 * (v.length - 1))];
    const span = p99 - p1;
    lo = p1 - min <= 0.25 * span ? min : p1;
    hi = max - p99 <= 0.25 * span ? max : p99;
  }
  if (hi - lo <= Math.abs(hi) * 1e-9) {
    const d = Math.abs(lo) * 0.05 || 1;
    return { lo: lo - d, hi: hi + d };
  }
  const m = (hi - lo) * 0.05;
  return { lo: lo - m, hi: hi + m };
}

/**
 * Long-form rows of some series ({ name, run?, points: [step, value][] }), with each one's EMA at `weight`
 * (undefined: autoSmooth of its length), and the robust y range of the finite values. The EMA runs over values
 * clamped to that range, so one clipped spike does not drag the trend off the chart for many steps.
 */
export function chartRows(series, weight) {
  const { lo, hi } = robustRange(series.flatMap((s) => s.points.filter(finite).map((p) => p[1])));
  const rows = [];
  for (const s of series) {
    const good = s.points.filter(finite).map(([x, v]) => [x, Math.min(hi, Math.max(lo, v))]);
    const w = weight ?? autoSmooth(good.length);
    const smooth = w > 0 ? emaLine(good, w) : good;
    let k = 0;
    for (const p of s.points) {
      const ok = finite(p);
      rows.push({ step: p[0], series: s.name, run: s.run ?? '', value: ok ? p[1] : null, smooth: ok ? smooth[k++][1] : null });
    }
  }
  return { rows, lo, hi };
}

/** Columns of metrics.jsonl that are not logged values. */
export const ROW_KEYS = ['step', 'epoch', 'time'];

/**
 * The series of metrics rows ({ step, epoch, time, d_loss, g_loss, … }): one per logged value, in the order the
 * last row names them (`run` labels them for charts of several runs).
 */
export function rowsToSeries(rows, run) {
  const keys = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!ROW_KEYS.includes(k) && !keys.includes(k)) keys.push(k);
  return keys.map((name) => ({ name, ...(run !== undefined ? { run } : {}), points: rows.filter((r) => name in r).map((r) => [r.step, r[name]]) }));
}

/** Legend label of a series: its name, noting values that are not finite (training blew up there). */
export function seriesLabel(s) {
  const bad = s.points.filter((p) => !finite(p)).length;
  return bad ? `${s.name} (${bad} non-finite)` : s.points.length ? s.name : `${s.name} (no data)`;
}

/**
 * A line chart of series over steps: light raw lines under bold EMA lines when smoothed, dots when sparse, the robust
 * y range, and — when `interactive` — zoom/pan (wheel, drag; double-click resets) and a hover rule whose tooltip lists
 * every series at the nearest step.
 *
 * opts: { title, width, height, xTitle ('step'), yTitle, smooth (EMA weight; default auto), colorBy ('series' or
 *         'run'), interactive (false) }
 */
export function lineChartSpec(series, opts = {}) {
  const colorBy = opts.colorBy ?? 'series';
  const { rows, lo, hi } = chartRows(series, opts.smooth);
  const names = [...new Set(series.map((s) => (colorBy === 'run' ? s.run ?? '' : s.name)))];
  const labels = colorBy === 'series' ? series.map(seriesLabel) : names;
  const longest = Math.max(0, ...series.map((s) => s.points.length));
  const smoothed = (opts.smooth ?? autoSmooth(longest)) > 0;
  const color = {
    field: colorBy,
    type: 'nominal',
    title: null,
    scale: { domain: names, range: SERIES_COLORS },
    legend: { orient: 'top', labelExpr: labelExpr(names, labels), labelLimit: 400, symbolStrokeWidth: 3 },
  };
  const x = { field: 'step', type: 'quantitative', title: opts.xTitle ?? 'step', axis: { format: '~s', tickMinStep: 1 } };
  const y = (field) => ({
    field, type: 'quantitative', title: opts.yTitle ?? null,
    scale: { zero: false, nice: false, clamp: true, domainMin: { expr: 'ylo' }, domainMax: { expr: 'yhi' } },
  });
  const detail = colorBy === 'run' ? { field: 'series' } : { field: 'run' };
  const layer = [
    {
      mark: { type: 'line', clip: true, strokeWidth: smoothed ? 1.2 : 1.8, strokeOpacity: smoothed ? RAW_OPACITY : 1 },
      encoding: { y: y('value'), detail },
      ...(opts.interactive ? { params: [{ name: 'zoom', select: { type: 'interval', encodings: ['x', 'y'] }, bind: 'scales' }] } : {}),
    },
  ];
  if (smoothed) layer.push({ mark: { type: 'line', clip: true, strokeWidth: 2.2 }, encoding: { y: y('smooth'), detail } });
  if (longest <= MARKER_MAX_POINTS) layer.push({ mark: { type: 'point', filled: true, size: 30, clip: true, opacity: 1 }, encoding: { y: y('value'), detail } });
  if (opts.interactive) layer.push(...hoverLayers(names, colorBy, smoothed));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: { text: opts.title, fontSize: 15 } } : {}),
    width: opts.width ?? 800,
    height: opts.height ?? 480,
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    config: { font: 'DejaVu Sans, Liberation Sans, Arial, sans-serif', view: { stroke: '#888' }, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 12 } },
    params: [{ name: 'ylo', value: lo }, { name: 'yhi', value: hi }],
    data: { name: 'rows', values: rows },
    encoding: { x, color },
    layer,
  };
}

/** Vega expression mapping legend values to labels (labels may carry "(2 non-finite)"). */
function labelExpr(names, labels) {
  const map = {};
  names.forEach((n, i) => {
    if (labels[i] !== undefined && labels[i] !== n) map[n] = labels[i];
  });
  return Object.keys(map).length ? `(${JSON.stringify(map)})[datum.label] || datum.label` : 'datum.label';
}

/** A field name for Vega-Lite: dots and brackets would otherwise address nested fields. */
const fieldRef = (name) => name.replace(/[.[\]\\]/g, (c) => `\\${c}`);

/** The hover rule: the nearest step under the pointer, with a tooltip of every series' value (and EMA) there. */
function hoverLayers(keys, colorBy, smoothed) {
  const kinds = smoothed ? ['value', 'smooth'] : ['value'];
  const key = (k, kind) => (kind === 'smooth' ? `${k} (smoothed)` : k);
  return [{
    transform: [
      { fold: kinds, as: ['kind', 'v'] },
      { calculate: `datum[${JSON.stringify(colorBy)}] + (datum.kind === 'smooth' ? ' (smoothed)' : '')`, as: 'key' },
      { pivot: 'key', value: 'v', groupby: ['step'] },
    ],
    mark: { type: 'rule', color: '#555', strokeWidth: 1 },
    encoding: {
      color: { value: '#555' },
      opacity: { condition: { value: 0.7, param: 'hover', empty: false }, value: 0 },
      tooltip: [
        { field: 'step', type: 'quantitative', title: 'step' },
        ...keys.flatMap((k) => kinds.map((kind) => ({ field: fieldRef(key(k, kind)), type: 'quantitative', title: key(k, kind), format: '.4~g' }))),
      ],
    },
    params: [{ name: 'hover', select: { type: 'point', fields: ['step'], nearest: true, on: 'pointerover', clear: 'pointerout' } }],
  }];
}
