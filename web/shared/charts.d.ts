// Types of charts.js (plain JS, so the page loads it without a build step).
export interface ChartSeries {
  name: string;
  /** Which run the series belongs to (charts of several runs colour by run). */
  run?: string;
  points: [number, number][];
}

export interface ChartRow {
  step: number;
  series: string;
  run: string;
  value: number | null;
  smooth: number | null;
}

export interface LineChartOptions {
  title?: string;
  width?: number;
  height?: number;
  xTitle?: string;
  yTitle?: string;
  /** EMA weight in [0, 1); default: autoSmooth of the longest series. */
  smooth?: number;
  colorBy?: 'series' | 'run';
  /** Zoom/pan and a hover tooltip (the board); off for pictures. */
  interactive?: boolean;
}

export const SERIES_COLORS: readonly string[];
export const EMA_MIN_POINTS: number;
export const MARKER_MAX_POINTS: number;
export const RAW_OPACITY: number;
export function emaLine(points: [number, number][], weight: number): [number, number][];
export function autoSmooth(n: number): number;
export function robustRange(values: number[]): { lo: number; hi: number };
export function chartRows(series: ChartSeries[], weight?: number): { rows: ChartRow[]; lo: number; hi: number };
export const ROW_KEYS: readonly string[];
/** One series per logged value of metrics rows. */
export function rowsToSeries(rows: readonly Record<string, number>[], run?: string): ChartSeries[];
export function seriesLabel(s: ChartSeries): string;
/** A Vega-Lite spec (a plain object). */
export function lineChartSpec(series: ChartSeries[], opts?: LineChartOptions): Record<string, unknown>;
