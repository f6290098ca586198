/**
 * Gradient checks of whole step graphs against central differences of the step's own loss output, in float32 as ORT
 * computes it (test/gradcheck_model.test.ts, test/gradcheck_penalties.test.ts).
 */
import { draw } from './gradcheck.ts';
import type { Feeds, GraphRunner } from './run_graph.ts';

export function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** ĝ, and ĝ mixed with a random unit direction (so an error orthogonal to g shows up too). */
export function directions(g: Float32Array, r: () => number): Float64Array[] {
  const gn = norm(g);
  const u = Float64Array.from(draw(g.length, 'uniform', r));
  const un = norm(u);
  const mixed = Float64Array.from(g, (x, i) => x / gn + u[i] / un);
  const mn = norm(mixed);
  const along = Float64Array.from(g, (x) => x / gn);
  return g.length > 1 ? [along, mixed.map((x) => x / mn)] : [along];
}

export interface Checked { param: string; what: string; err: number; detail: string }

/** Float32 central differences of the step graph's loss output along ĝ and a mixed direction; the best of four step sizes. */
export async function ortCheck(run: GraphRunner, lossName: string, feeds: Feeds, param: string, g: Float32Array, r: () => number): Promise<Checked[]> {
  const x = feeds[param];
  // Along ĝ needs a gradient; a zero one is a failed check (callers check gradients that must be zero themselves).
  if (!(norm(g) > 0)) return [{ param, what: 'ort gradient direction', err: Infinity, detail: `the gradient is ${norm(g)}` }];
  const out: Checked[] = [];
  for (const [k, v] of directions(g, r).entries()) {
    let best = Infinity;
    const tried: string[] = [];
    for (const dl of [1e-3, 3e-4, 1e-4, 3e-5]) {
      const t = dl / norm(g);
      const xp = Float32Array.from(x, (xi, i) => xi + t * v[i]);
      const xm = Float32Array.from(x, (xi, i) => xi - t * v[i]);
      let an = 0;
      for (let i = 0; i < x.length; i++) an += g[i] * (xp[i] - xm[i]) / (2 * t); // the step actually fed
      const lp = (await run.run({ ...feeds, [param]: xp }))[lossName][0];
      const lm = (await run.run({ ...feeds, [param]: xm }))[lossName][0];
      const fd = (lp - lm) / (2 * t);
      const err = Math.abs(fd - an) / Math.abs(an);
      tried.push(`Δ${dl}: analytic ${an.toExponential(5)} fd ${fd.toExponential(5)} (${err.toExponential(1)})`);
      best = Math.min(best, err);
    }
    out.push({ param, what: k ? 'ort mixed direction' : 'ort gradient direction', err: best, detail: tried.join('; ') });
  }
  return out;
}
