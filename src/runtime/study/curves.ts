/** The study's curves: SWD average against iterations per model, mean over seeds with a min–max band, and the
 * real-vs-real floor as a dashed line (curves.png; the spec is in report.json's terms). */
import type { TopLevelSpec } from 'vega-lite';
import type { StudyReport } from './report.ts';

export function curvesSpec(r: StudyReport): TopLevelSpec {
  const rows = r.models.flatMap((m) => m.curve.map((c) => ({
    model: `${m.key}${m.baseline ? ' (baseline)' : ''}`, step: c.step, mean: c.mean, lo: c.min, hi: c.max,
  })));
  const seeds = Math.max(0, ...r.models.map((m) => m.final?.swdAvg.n ?? 0));
  const color = { field: 'model', type: 'nominal' as const, title: null, sort: r.models.map((m) => `${m.key}${m.baseline ? ' (baseline)' : ''}`) };
  const steps = [...new Set(rows.map((row) => row.step))].sort((a, b) => a - b);
  const x = { field: 'step', type: 'quantitative' as const, title: 'iteration', axis: { values: steps } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Study ${r.study.name}: SWD along training`, subtitle: `mean over ${seeds} seed${seeds === 1 ? '' : 's'} (line) and min–max across seeds (band); lower is closer to the real images` },
    width: 560,
    height: 320,
    layer: [
      { data: { values: rows }, mark: { type: 'area', opacity: 0.15 }, encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
      { data: { values: rows }, mark: { type: 'line', point: true }, encoding: { x, y: { field: 'mean', type: 'quantitative', title: 'SWD average ×1e3', scale: { zero: false } }, color } },
      ...(r.floor ? [{
        data: { values: [{ floor: r.floor.swdAvg, label: `real vs real ${r.floor.swdAvg.toFixed(1)}` }] },
        layer: [
          { mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#666' }, encoding: { y: { field: 'floor', type: 'quantitative' as const } } },
          { mark: { type: 'text' as const, align: 'left' as const, dx: 4, dy: -6, color: '#666' }, encoding: { y: { field: 'floor', type: 'quantitative' as const }, x: { value: 0 }, text: { field: 'label' } } },
        ],
      }] : []),
    ],
    config: { font: 'DejaVu Sans', legend: { symbolOpacity: 1, symbolStrokeWidth: 3 } },
  } as TopLevelSpec;
}
