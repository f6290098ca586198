/**
 * Charts as pictures: a Vega-Lite spec → Vega (headless, no DOM) → SVG → PNG through resvg. The same spec can be
 * embedded in a page by vega-embed; files people open offline get the PNG.
 */
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** The chart as SVG text. */
export async function vegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The chart as PNG bytes, at `scale` × its CSS size (2: sharp on high-density screens). */
export async function vegaLitePng(spec: TopLevelSpec, scale = 2): Promise<Buffer> {
  const svg = await vegaLiteSvg(spec);
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  }).render();
  return png.asPng();
}
