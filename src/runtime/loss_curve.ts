/**
 * Charts as PNG: the board's Vega-Lite specs (web/shared/charts.js) rendered in node — vega-lite compiles the spec,
 * vega renders it headless to SVG, resvg rasterizes the SVG. One spec builder for pages and pictures.
 */
import { existsSync } from 'node:fs';
import { GancError } from '../errors.ts';
import { lineChartSpec, type ChartSeries, type LineChartOptions } from '../../web/shared/charts.js';
import { writeFileAtomic } from './pictures.ts';

export { SERIES_COLORS, emaLine } from '../../web/shared/charts.js';

export type Series = ChartSeries;

export interface LossCurveOptions {
  title?: string;
  width?: number;
  height?: number;
  xLabel?: string;
  /** EMA weight in [0, 1); 0 draws only the raw line. Default: chosen from the number of points. */
  smooth?: number;
}

/**
 * Fonts for chart text. resvg draws no text without a font; Debian's DejaVu or Liberation (fonts-dejavu-core,
 * fonts-liberation) are preferred by file, which also spares scanning every system font per picture.
 */
const FONT_FILES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf',
];

let fontOptions: { fontFiles: string[]; loadSystemFonts: boolean; defaultFontFamily: string } | undefined;
function fonts() {
  if (!fontOptions) {
    const files = FONT_FILES.filter((f) => existsSync(f));
    fontOptions = { fontFiles: files, loadSystemFonts: files.length === 0, defaultFontFamily: files.some((f) => f.includes('DejaVu')) ? 'DejaVu Sans' : 'Liberation Sans' };
  }
  return fontOptions;
}

/** A Vega-Lite spec as SVG (vega's headless renderer). vega and vega-lite load on first use: ganc's other commands
 * need not wait for them. */
export async function chartSvg(spec: Record<string, unknown>): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A Vega-Lite spec as PNG bytes. */
export async function chartPng(spec: Record<string, unknown>): Promise<Uint8Array> {
  const svg = await chartSvg(spec);
  const { Resvg } = await import('@resvg/resvg-js');
  return new Resvg(svg, { font: fonts(), background: 'white', logLevel: 'off' }).render().asPng();
}

/** The loss chart spec of a run, as the board draws it (without its zoom and hover). */
export function lossCurveSpec(series: Series[], opts: LossCurveOptions = {}): Record<string, unknown> {
  const width = Math.round(opts.width ?? 800);
  const height = Math.round(opts.height ?? 480);
  if (width < 200 || height < 150) throw new GancError(`loss curve: ${width}x${height} is too small to draw (at least 200x150)`);
  const chart: LineChartOptions = { title: opts.title, width, height, xTitle: opts.xLabel ?? 'step', smooth: opts.smooth };
  return lineChartSpec(series, chart);
}

/** A PNG line chart of one or more loss series: light raw lines, bold EMA lines, a y range robust to outliers. */
export async function writeLossCurve(path: string, series: Series[], opts?: LossCurveOptions): Promise<void> {
  await writeFileAtomic(path, await chartPng(lossCurveSpec(series, opts)));
}
