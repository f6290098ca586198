/**
 * A live Vega-Lite chart: built from the shared spec (shared/charts.js, the one loss.png comes from), then updated in
 * place — new rows go into the `rows` data set and the y range into the `ylo`/`yhi` signals — so zoom and hover
 * survive updates. The spec is rebuilt only when what it draws changes shape (other series, smoothing on/off).
 */
import { chartRows, lineChartSpec, autoSmooth, MARKER_MAX_POINTS } from '../shared/charts.js';

const { vega, vegaEmbed } = globalThis;

export class LiveChart {
  /** opts: lineChartSpec's options (title, colorBy, height, …); the width follows the element. */
  constructor(el, opts = {}) {
    this.el = el;
    this.opts = opts;
    this.view = undefined;
    this.shape = '';
    this.pending = Promise.resolve();
    this.series = [];
  }

  /** Redraw with these series at EMA weight `smooth` (undefined: automatic). Calls are serialized. */
  update(series, smooth) {
    this.series = series;
    this.pending = this.pending.then(() => this.draw(series, smooth)).catch((e) => {
      this.el.textContent = `chart error: ${e.message}`;
    });
    return this.pending;
  }

  async draw(series, smooth) {
    const longest = Math.max(0, ...series.map((s) => s.points.length));
    const weight = smooth ?? autoSmooth(longest);
    const shape = JSON.stringify([series.map((s) => [s.name, s.run]), weight > 0, longest <= MARKER_MAX_POINTS]);
    if (shape !== this.shape || !this.view) {
      this.shape = shape;
      this.view?.finalize();
      const width = Math.max(320, this.el.clientWidth || 800);
      const spec = lineChartSpec(series, { height: 340, ...this.opts, width, smooth: weight, interactive: true });
      const result = await vegaEmbed(this.el, spec, { actions: false, ast: true, renderer: 'canvas' });
      this.view = result.view;
      return;
    }
    const { rows, lo, hi } = chartRows(series, weight);
    this.view.change('rows', vega.changeset().remove(() => true).insert(rows));
    this.view.signal('ylo', lo).signal('yhi', hi);
    await this.view.runAsync();
  }

  /** Points drawn per series ('run: series' on charts of several runs), for tests. */
  counts() {
    const out = {};
    for (const r of this.view?.data('rows') ?? []) {
      const key = r.run ? `${r.run}: ${r.series}` : r.series;
      out[key] = (out[key] ?? 0) + 1;
    }
    return out;
  }
}
