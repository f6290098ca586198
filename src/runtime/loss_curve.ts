/**
 * Loss curves as PNG: axes with numeric ticks, one colour per series, a light raw line and a bold moving average,
 * a y range robust to outliers. Drawn into an RGBA buffer; jimp only renders the text and encodes the PNG.
 */
import { loadFont, measureText } from 'jimp';
import { SANS_12_BLACK, SANS_16_BLACK } from 'jimp/fonts';
import { GancError } from '../errors.ts';
import { type RgbaImage, type Rgb, toJimp, writePng } from './pictures.ts';

export interface Series {
  name: string;
  points: [number, number][];
}

export interface LossCurveOptions {
  title?: string;
  width?: number;
  height?: number;
  xLabel?: string;
  /** EMA weight in [0, 1); 0 draws only the raw line. Default: chosen from the number of points. */
  smooth?: number;
}

/** Distinct, print-friendly colours (matplotlib's tab10), one per series in order. */
export const SERIES_COLORS: readonly Rgb[] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
];

const WHITE: Rgb = [255, 255, 255];
const GRID: Rgb = [232, 232, 232];
const AXIS: Rgb = [90, 90, 90];
/** Above this many points the raw line is drawn light and an EMA line carries the trend. */
const EMA_MIN_POINTS = 50;
/** Up to this many points each one gets a dot, so sparse data (or a single point) stays visible. */
const MARKER_MAX_POINTS = 40;

type Font = Awaited<ReturnType<typeof loadFont>>;
const fontCache = new Map<string, Promise<Font>>();
function font(file: string): Promise<Font> {
  let f = fontCache.get(file);
  if (!f) fontCache.set(file, (f = loadFont(file)));
  return f;
}

interface Text {
  x: number;
  y: number;
  text: string;
  big?: boolean;
}

/** Renders the loss chart to pixels: raster drawing here, text through jimp's bitmap fonts. */
export async function renderLossCurve(series: Series[], opts: LossCurveOptions = {}): Promise<RgbaImage> {
  const width = Math.max(200, Math.round(opts.width ?? 800));
  const height = Math.max(150, Math.round(opts.height ?? 480));
  const small = await font(SANS_12_BLACK);
  const big = await font(SANS_16_BLACK);
  const smallH = small.common.lineHeight;
  const bigH = big.common.lineHeight;
  const texts: Text[] = [];
  const canvas = new Canvas(width, height, WHITE);

  const clean = series.map((s) => ({ name: s.name, pts: s.points, finite: s.points.filter(isFinitePoint) }));
  const all = clean.flatMap((s) => s.finite);

  // Legend entries, laid out left to right, wrapping to more rows when they do not fit.
  const legend = clean.map((s, i) => {
    const bad = s.pts.length - s.finite.length;
    const label = bad > 0 ? `${s.name} (${bad} non-finite)` : s.finite.length === 0 ? `${s.name} (no data)` : s.name;
    return { label, color: SERIES_COLORS[i % SERIES_COLORS.length], w: 28 + measureText(small, label) + 18 };
  });

  const x = ranges(all.map((p) => p[0]), false);
  const y = ranges(all.map((p) => p[1]), true);
  const yTicks = ticks(y.lo, y.hi, 6);
  const xTicks = ticks(x.lo, x.hi, 8);
  const yLabels = yTicks.values.map((v) => formatTick(v, yTicks.step));
  const xLabels = xTicks.values.map((v) => formatTick(v, xTicks.step));

  const left = 14 + Math.max(0, ...yLabels.map((t) => measureText(small, t))) + 8;
  const right = width - 16;
  let top = 10;
  if (opts.title) {
    texts.push({ x: Math.max(4, Math.round((width - measureText(big, opts.title)) / 2)), y: top, text: opts.title, big: true });
    top += bigH + 4;
  }
  let lx = left;
  let ly = top;
  for (const item of legend) {
    if (lx > left && lx + item.w > right) {
      lx = left;
      ly += smallH + 2;
    }
    canvas.fillRect(lx, ly + Math.floor(smallH / 2) - 1, 22, 3, item.color);
    texts.push({ x: lx + 28, y: ly, text: item.label });
    lx += item.w;
  }
  const emaWeights = clean.map((s) => s.finite.length > EMA_MIN_POINTS ? (opts.smooth ?? autoSmooth(s.finite.length)) : 0);
  const maxWeight = Math.max(0, ...emaWeights);
  if (maxWeight > 0) {
    const note = `light: raw, bold: EMA ${Number(maxWeight.toFixed(3))}`;
    const nw = measureText(small, note);
    if (lx + nw > right) ly += smallH + 2;
    texts.push({ x: right - nw, y: ly, text: note });
  }
  top = (legend.length ? ly + smallH : top) + 8;
  const xLabel = opts.xLabel ?? 'step';
  const bottom = height - 8 - smallH - 4 - (xLabel ? smallH + 2 : 0);
  if (bottom - top < 40 || right - left < 60) throw new GancError(`loss curve: ${width}x${height} is too small to draw`);
  const plot = { x0: left, y0: top, x1: right, y1: bottom };
  const px = (v: number) => plot.x0 + ((v - x.lo) / (x.hi - x.lo)) * (plot.x1 - plot.x0);
  const py = (v: number) => plot.y1 - ((v - y.lo) / (y.hi - y.lo)) * (plot.y1 - plot.y0);

  // Grid and tick labels.
  yTicks.values.forEach((v, i) => {
    const yy = Math.round(py(v));
    canvas.fillRect(plot.x0, yy, plot.x1 - plot.x0, 1, GRID);
    canvas.fillRect(plot.x0 - 4, yy, 4, 1, AXIS);
    texts.push({ x: plot.x0 - 7 - measureText(small, yLabels[i]), y: yy - Math.round(smallH / 2), text: yLabels[i] });
  });
  xTicks.values.forEach((v, i) => {
    const xx = Math.round(px(v));
    canvas.fillRect(xx, plot.y0, 1, plot.y1 - plot.y0, GRID);
    canvas.fillRect(xx, plot.y1, 1, 4, AXIS);
    const tw = measureText(small, xLabels[i]);
    const tx = Math.min(width - 2 - tw, Math.max(2, Math.round(xx - tw / 2)));
    texts.push({ x: tx, y: plot.y1 + 6, text: xLabels[i] });
  });
  if (xLabel) {
    texts.push({ x: Math.round((plot.x0 + plot.x1 - measureText(small, xLabel)) / 2), y: plot.y1 + 6 + smallH + 2, text: xLabel });
  }

  // Data: all light raw lines first, so no series' trend line is hidden under another's noise.
  const clip = { x0: plot.x0, y0: plot.y0, x1: plot.x1, y1: plot.y1 };
  const toPx = (p: [number, number]): [number, number] => [px(p[0]), py(p[1])];
  const drawn = clean.map((s, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length];
    return { s, color, ema: emaWeights[i] > 0, weight: emaWeights[i] };
  });
  for (const { s, color, ema } of drawn) {
    const runs = splitRuns(s.pts).map((r) => r.map(toPx));
    canvas.polyline(runs, ema ? 0.9 : 1.1, ema ? mix(color, WHITE, 0.62) : color, clip);
  }
  for (const { s, color, ema, weight } of drawn) {
    // Clamped to the axis range first, so one clipped spike does not drag the trend off the chart.
    const clamped = s.finite.map(([a, b]): [number, number] => [a, Math.min(y.hi, Math.max(y.lo, b))]);
    if (ema) canvas.polyline([emaLine(clamped, weight).map(toPx)], 1.3, color, clip);
    if (s.finite.length <= MARKER_MAX_POINTS) {
      for (const p of s.finite) canvas.dot(px(p[0]), py(p[1]), 2.8, color, clip);
    }
  }
  canvas.strokeRect(plot.x0, plot.y0, plot.x1 - plot.x0, plot.y1 - plot.y0, AXIS);
  if (all.length === 0) {
    const msg = clean.some((s) => s.pts.length) ? 'no finite data' : 'no data';
    texts.push({ x: Math.round((plot.x0 + plot.x1 - measureText(big, msg)) / 2), y: Math.round((plot.y0 + plot.y1 - bigH) / 2), text: msg, big: true });
  }

  const img = toJimp(canvas);
  for (const t of texts) img.print({ font: t.big ? big : small, x: t.x, y: t.y, text: t.text });
  const { data } = img.bitmap;
  return { width, height, rgba: new Uint8Array(data) };
}

/** A readable PNG line chart of one or more loss series (see renderLossCurve). */
export async function writeLossCurve(path: string, series: Series[], opts?: LossCurveOptions): Promise<void> {
  await writePng(path, await renderLossCurve(series, opts));
}

function isFinitePoint(p: [number, number]): boolean {
  return Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]);
}

/** Consecutive finite points; a NaN/Infinity breaks the line so a gap shows where training blew up. */
function splitRuns(points: [number, number][]): [number, number][][] {
  const runs: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const p of points) {
    if (isFinitePoint(p)) cur.push(p);
    else if (cur.length) {
      runs.push(cur);
      cur = [];
    }
  }
  if (cur.length) runs.push(cur);
  return runs;
}

/** Smoothing window grows with the number of points (about 1/20 of them), like a fixed share of the chart. */
function autoSmooth(n: number): number {
  return Math.min(0.99, Math.max(0.6, 1 - 20 / Math.max(1, n)));
}

/** Debiased EMA (as TensorBoard), so the start is not dragged towards zero. */
export function emaLine(points: [number, number][], weight: number): [number, number][] {
  const w = Math.min(Math.max(weight, 0), 0.9999);
  let acc = 0;
  let norm = 0;
  return points.map(([x, v]) => {
    acc = acc * w + (1 - w) * v;
    norm = norm * w + (1 - w);
    return [x, acc / norm];
  });
}

/**
 * Axis range. For y, a few huge outliers (a loss spike at step 0, a blow-up) must not flatten the rest:
 * with enough points the range is the 1st–99th percentile, widened to the true extremes when those are close.
 */
export function ranges(values: number[], robust: boolean): { lo: number; hi: number } {
  if (values.length === 0) return { lo: 0, hi: 1 };
  const v = [...values].sort((a, b) => a - b);
  const min = v[0];
  const max = v[v.length - 1];
  let lo = min;
  let hi = max;
  if (robust && v.length >= 20) {
    const p1 = v[Math.floor(0.01 * (v.length - 1))];
    const p99 = v[Math.ceil(0.99 * (v.length - 1))];
    const span = p99 - p1;
    lo = p1 - min <= 0.25 * span ? min : p1;
    hi = max - p99 <= 0.25 * span ? max : p99;
  }
  if (hi - lo <= Math.abs(hi) * 1e-9 || hi === lo) {
    const d = Math.abs(lo) * 0.05 || 1;
    return { lo: lo - d, hi: hi + d };
  }
  if (robust) {
    const m = (hi - lo) * 0.05;
    return { lo: lo - m, hi: hi + m };
  }
  return { lo, hi };
}

/** Tick values at 1/2/5·10^k inside [lo, hi]. */
export function ticks(lo: number, hi: number, target: number): { values: number[]; step: number } {
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  const values: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) values.push(k * step);
  return { values, step };
}

/** Tick label with just enough decimals for the tick spacing; 12000 → "12k" keeps step axes short. */
export function formatTick(v: number, step: number): string {
  const a = Math.abs(v);
  if (a < step * 1e-6) return '0';
  const decimals = (s: number) => Math.max(0, -Math.floor(Math.log10(s) + 1e-9));
  if (a >= 1e9) return `${(v / 1e9).toFixed(decimals(step / 1e9))}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(decimals(step / 1e6))}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(decimals(step / 1e3))}k`;
  if (step < 1e-4) return v.toExponential(Math.max(0, Math.floor(Math.log10(a)) - Math.floor(Math.log10(step))));
  return v.toFixed(decimals(step));
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [0, 1, 2].map((i) => Math.round(a[i] * (1 - t) + b[i] * t)) as unknown as Rgb;
}

interface Rect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Minimal RGBA raster with anti-aliased lines (coverage from distance to the segment). */
class Canvas implements RgbaImage {
  readonly rgba: Uint8Array;
  constructor(readonly width: number, readonly height: number, bg: Rgb) {
    this.rgba = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, bg);
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const xa = Math.max(0, Math.round(x));
    const ya = Math.max(0, Math.round(y));
    const xb = Math.min(this.width, Math.round(x + w));
    const yb = Math.min(this.height, Math.round(y + h));
    for (let j = ya; j < yb; j++) {
      for (let i = xa; i < xb; i++) this.set(i, j, c, 1);
    }
  }

  strokeRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.fillRect(x, y, w + 1, 1, c);
    this.fillRect(x, y + h, w + 1, 1, c);
    this.fillRect(x, y, 1, h + 1, c);
    this.fillRect(x + w, y, 1, h + 1, c);
  }

  private set(i: number, j: number, c: Rgb, a: number): void {
    const o = (j * this.width + i) * 4;
    const d = this.rgba;
    d[o] = Math.round(d[o] * (1 - a) + c[0] * a);
    d[o + 1] = Math.round(d[o + 1] * (1 - a) + c[1] * a);
    d[o + 2] = Math.round(d[o + 2] * (1 - a) + c[2] * a);
    d[o + 3] = 255;
  }

  /**
   * Draws polylines of half-width r. Coverage is collected per pixel as a maximum over segments and
   * blended once, so joints do not darken and many short segments stay smooth.
   */
  polyline(runs: [number, number][][], r: number, c: Rgb, clip: Rect): void {
    const cov = new Float32Array(this.width * this.height);
    for (const run of runs) {
      if (run.length === 1) this.segmentCoverage(run[0], run[0], r, clip, cov);
      for (let k = 1; k < run.length; k++) this.segmentCoverage(run[k - 1], run[k], r, clip, cov);
    }
    this.blendCoverage(cov, c, clip);
  }

  dot(x: number, y: number, r: number, c: Rgb, clip: Rect): void {
    const cov = new Float32Array(this.width * this.height);
    this.segmentCoverage([x, y], [x, y], r, clip, cov);
    this.blendCoverage(cov, c, clip);
  }

  private blendCoverage(cov: Float32Array, c: Rgb, clip: Rect): void {
    for (let j = clip.y0; j <= clip.y1; j++) {
      for (let i = clip.x0; i <= clip.x1; i++) {
        const a = cov[j * this.width + i];
        if (a > 0) this.set(i, j, c, a);
      }
    }
  }

  private segmentCoverage(p: [number, number], q: [number, number], r: number, clip: Rect, cov: Float32Array): void {
    const m = r + 2;
    const seg = clipSegment(p, q, { x0: clip.x0 - m, y0: clip.y0 - m, x1: clip.x1 + m, y1: clip.y1 + m });
    if (!seg) return;
    const [[ax, ay], [bx, by]] = seg;
    const i0 = Math.max(clip.x0, Math.floor(Math.min(ax, bx) - m));
    const i1 = Math.min(clip.x1, Math.ceil(Math.max(ax, bx) + m));
    const j0 = Math.max(clip.y0, Math.floor(Math.min(ay, by) - m));
    const j1 = Math.min(clip.y1, Math.ceil(Math.max(ay, by) + m));
    const dx = bx - ax;
    const dy = by - ay;
    const len2 = dx * dx + dy * dy;
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        // Pixel (i, j) covers [i, i+1); its centre is at +0.5, so integer data coordinates sit on pixel edges.
        const cx = i + 0.5 - ax;
        const cy = j + 0.5 - ay;
        const t = len2 > 0 ? Math.min(1, Math.max(0, (cx * dx + cy * dy) / len2)) : 0;
        const ex = cx - t * dx;
        const ey = cy - t * dy;
        const a = Math.min(1, r + 0.5 - Math.sqrt(ex * ex + ey * ey));
        if (a <= 0) continue;
        const idx = j * this.width + i;
        if (cov[idx] < a) cov[idx] = a;
      }
    }
  }
}

/** Liang–Barsky: the part of segment pq inside rect, or null. Keeps far-off outliers from costing pixels. */
function clipSegment(p: [number, number], q: [number, number], rc: Rect): [[number, number], [number, number]] | null {
  let t0 = 0;
  let t1 = 1;
  const dx = q[0] - p[0];
  const dy = q[1] - p[1];
  const edges: [number, number][] = [
    [-dx, p[0] - rc.x0],
    [dx, rc.x1 - p[0]],
    [-dy, p[1] - rc.y0],
    [dy, rc.y1 - p[1]],
  ];
  for (const [pp, qq] of edges) {
    if (pp === 0) {
      if (qq < 0) return null;
    } else {
      const t = qq / pp;
      if (pp < 0) t0 = Math.max(t0, t);
      else t1 = Math.min(t1, t);
      if (t0 > t1) return null;
    }
  }
  return [
    [p[0] + t0 * dx, p[1] + t0 * dy],
    [p[0] + t1 * dx, p[1] + t1 * dy],
  ];
}
