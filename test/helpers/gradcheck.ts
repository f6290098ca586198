/**
 * Gradient checking against central finite differences, with every number coming out of onnxruntime-node.
 *
 * For a case `y = f(x…)` the check builds `loss = Σ y·R` (R a fixed random tensor fed as an input) and asks the
 * compiler for ∂loss/∂x. Finite differences use the *forward* graph only and accumulate Σ (y⁺ − y⁻)·R in float64 on
 * the JS side, so the unchanged elements of y cancel exactly and float32 rounding stays far below the tolerances.
 * The perturbation actually applied is the float32 difference of the two fed inputs, so rounding of x ± εv does not
 * count as error either.
 *
 * Two comparisons: (a) directional derivatives ⟨∇f, v⟩ along a few random directions v over all inputs at once;
 * (b) single elements (the largest-gradient one and a few random ones) of each input.
 */
import type { Graph } from '../../src/compiler/ir.ts';
import { toOnnx } from '../../src/compiler/onnx.ts';
import { Tensor, mul, sum } from '../../src/dsl/tensor.ts';
import { currentTrace } from '../../src/dsl/trace.ts';
import { buildGraph, openGraph, type Feeds } from './run_graph.ts';
import { rng } from '../reference/naive.ts';

export { rng };

/**
 * How an input's values are drawn: `uniform` in [-1, 1); `positive` in [0.5, 2) (Log, Sqrt, divisors);
 * `away` ±[0.2, 1) (no kinks within ε: Relu, Abs, LeakyRelu); `distinct` a shuffled grid with spacing 0.07
 * (no ties within ε: ReduceMax); `wide` in [-3, 3) (saturating ops).
 */
export type Dist = 'uniform' | 'positive' | 'away' | 'distinct' | 'wide';

export interface InputSpec {
  shape: number[];
  dist?: Dist;
  /** Differentiate with respect to this input (default true). */
  wrt?: boolean;
}

export interface GradCase {
  name: string;
  /** IR ops whose gradient rule this case checks; each must appear in the case's forward graph. */
  covers: string[];
  inputs: Record<string, number[] | InputSpec>;
  /** y = f(x…). Parameters created inside (DSL layers) are differentiated too. */
  fn: (x: Record<string, Tensor>) => Tensor;
  /** Draws for parameters created by `fn`, by name suffix (default uniform). */
  paramDist?: (name: string) => Dist;
  eps?: number;
  seed?: number;
  /** Random directions for the directional check (default 3). */
  directions?: number;
  /** Random elements per input for the element check (default 4, plus the largest-gradient element). */
  elements?: number;
}

export interface GradCheckResult {
  name: string;
  /** Worst relative error of the directional derivatives. */
  dirErr: number;
  /** Worst relative error of the single-element derivatives. */
  elemErr: number;
  /** Ops of the forward part of the graph (before the loss and the gradient). */
  forwardOps: string[];
  /** Encoded ONNX of the graphs that were run (forward and gradient). */
  onnx: Uint8Array[];
  /** Gradient inputs, by name. */
  wrt: string[];
  details: string[];
}


export function draw(n: number, dist: Dist, r: () => number): Float32Array {
  const out = new Float32Array(n);
  switch (dist) {
    case 'uniform':
      for (let i = 0; i < n; i++) out[i] = 2 * r() - 1;
      break;
    case 'wide':
      for (let i = 0; i < n; i++) out[i] = 6 * r() - 3;
      break;
    case 'positive':
      for (let i = 0; i < n; i++) out[i] = 0.5 + 1.5 * r();
      break;
    case 'away':
      for (let i = 0; i < n; i++) out[i] = (r() < 0.5 ? -1 : 1) * (0.2 + 0.8 * r());
      break;
    case 'distinct': {
      const idx = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      for (let i = 0; i < n; i++) out[i] = 0.07 * idx[i] - 0.035 * n;
      break;
    }
  }
  return out;
}

const specOf = (s: number[] | InputSpec): InputSpec => (Array.isArray(s) ? { shape: s } : s);

function lossOf(y: Tensor): Record<string, Tensor> {
  const R = new Tensor(currentTrace().input('__R', y.shape, 'data'));
  return { __y: y, loss: y.rank === 0 ? mul(y, R) : sum(mul(y, R)) };
}

/** Σ (y⁺ − y⁻)·R in float64: elements of y that did not change cancel exactly. */
function lossDiff(yp: Float32Array, ym: Float32Array, R: Float32Array): number {
  let s = 0;
  for (let i = 0; i < R.length; i++) if (yp[i] !== ym[i]) s += (yp[i] - ym[i]) * R[i];
  return s;
}

export async function gradCheck(c: GradCase): Promise<GradCheckResult> {
  const eps = c.eps ?? 1e-2;
  const r = rng(c.seed ?? 1234);
  const specs = Object.fromEntries(Object.entries(c.inputs).map(([k, s]) => [k, specOf(s)]));
  const shapes = Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, s.shape]));

  let forwardOps: string[] = [];
  const fwd = buildGraph(shapes, (x) => {
    const y = c.fn(x);
    forwardOps = currentTrace().builder.nodes.map((n) => n.op);
    return lossOf(y);
  });
  const params = fwd.inputs.filter((i) => i.role === 'param').map((i) => i.name);
  const wrt = [...Object.keys(specs).filter((k) => specs[k].wrt !== false), ...params];
  const grad: Graph = buildGraph(shapes, (x) => lossOf(c.fn(x)), { grads: wrt });

  // Feeds: declared inputs, then parameters and R.
  const feeds: Feeds = {};
  for (const i of fwd.inputs) {
    const dist = specs[i.name]?.dist ?? (i.role === 'param' ? c.paramDist?.(i.name) : undefined) ?? 'uniform';
    feeds[i.name] = draw(i.value.size, i.name === '__R' ? 'uniform' : dist, r);
  }
  for (const i of grad.inputs) if (!feeds[i.name]) throw new Error(`${c.name}: gradient graph needs ${i.name}, the forward graph does not`);

  const fwdOnnx = toOnnx(fwd);
  const gradOnnx = toOnnx(grad);
  const f = await openGraph(fwd, { onnx: fwdOnnx, threads: 1 });
  const gsess = await openGraph(grad, { onnx: gradOnnx, threads: 1 });
  const details: string[] = [];
  let dirErr = 0;
  let elemErr = 0;
  try {
    const gout = await gsess.run(feeds);
    const g: Record<string, Float32Array> = {};
    for (const w of wrt) {
      g[w] = gout[`grad/${w}`];
      if (!g[w]) throw new Error(`${c.name}: no gradient output for ${w}`);
      if (g[w].length !== feeds[w].length) throw new Error(`${c.name}: gradient of ${w} has ${g[w].length} values, input has ${feeds[w].length}`);
      if (!g[w].every(Number.isFinite)) throw new Error(`${c.name}: gradient of ${w} is not finite`);
    }
    const R = feeds.__R;

    // (a) directional derivatives over all inputs at once.
    for (let d = 0; d < (c.directions ?? 3); d++) {
      const plus: Feeds = { ...feeds };
      const minus: Feeds = { ...feeds };
      let analytic = 0;
      let scale = 0;
      for (const w of wrt) {
        const x = feeds[w];
        const xp = new Float32Array(x.length);
        const xm = new Float32Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const v = 2 * r() - 1;
          xp[i] = x[i] + eps * v;
          xm[i] = x[i] - eps * v;
          const step = (xp[i] - xm[i]) / (2 * eps); // the direction actually applied (after float32 rounding)
          analytic += g[w][i] * step;
          scale += (g[w][i] * step) ** 2;
        }
        plus[w] = xp;
        minus[w] = xm;
      }
      const [yp, ym] = [(await f.run(plus)).__y, (await f.run(minus)).__y];
      const fd = lossDiff(yp, ym, R) / (2 * eps);
      const err = Math.abs(fd - analytic) / Math.max(Math.abs(fd), Math.abs(analytic), 0.1 * Math.sqrt(scale), 1e-12);
      details.push(`dir ${d}: analytic ${analytic.toExponential(6)} fd ${fd.toExponential(6)} err ${err.toExponential(2)}`);
      dirErr = Math.max(dirErr, err);
    }

    // (b) single elements of each input.
    for (const w of wrt) {
      const x = feeds[w];
      let gmax = 0;
      let imax = 0;
      g[w].forEach((v, i) => {
        if (Math.abs(v) > gmax) [gmax, imax] = [Math.abs(v), i];
      });
      const picks = new Set([imax]);
      const want = Math.min(x.length, 1 + (c.elements ?? 4));
      while (picks.size < want) picks.add(Math.floor(r() * x.length));
      for (const i of picks) {
        const xp = Float32Array.from(x);
        const xm = Float32Array.from(x);
        xp[i] = x[i] + eps;
        xm[i] = x[i] - eps;
        const [yp, ym] = [(await f.run({ ...feeds, [w]: xp })).__y, (await f.run({ ...feeds, [w]: xm })).__y];
        const fd = lossDiff(yp, ym, R) / (xp[i] - xm[i]);
        const an = g[w][i];
        const err = Math.abs(fd - an) / Math.max(Math.abs(fd), Math.abs(an), 1e-2 * gmax, 1e-12);
        details.push(`${w}[${i}]: analytic ${an.toExponential(6)} fd ${fd.toExponential(6)} err ${err.toExponential(2)}`);
        elemErr = Math.max(elemErr, err);
      }
    }
  } finally {
    await f.release();
    await gsess.release();
  }
  return { name: c.name, dirErr, elemErr, forwardOps, onnx: [fwdOnnx, gradOnnx], wrt, details };
}

// ---- the tiny DCGAN shared by the whole-model tests -------------------------------------------------------------

/** ganc parameter name → the naive reference's name (test/reference/naive.ts, carpedm20 style). */
export function referenceName(name: string): string {
  let m: RegExpExecArray | null;
  if ((m = /^g\/linear_0\/(w|b)$/.exec(name))) return `g.h0.${m[1]}`;
  if ((m = /^g\/batch_norm_(\d+)\/(gamma|beta)$/.exec(name))) return `g.bn${m[1]}.${m[2]}`;
  if ((m = /^g\/deconv2d_(\d+)\/(w|b)$/.exec(name))) return `g.h${Number(m[1]) + 1}.${m[2]}`;
  if ((m = /^d\/conv2d_(\d+)\/(w|b)$/.exec(name))) return `d.h${m[1]}.${m[2]}`;
  if ((m = /^d\/batch_norm_(\d+)\/(gamma|beta)$/.exec(name))) return `d.bn${Number(m[1]) + 1}.${m[2]}`;
  if ((m = /^d\/linear_0\/(w|b)$/.exec(name))) return `d.h4.${m[1]}`;
  throw new Error(`no reference name for ${name}`);
}

export interface StateLike {
  manifest: { state: { name: string; offset: number; shape: number[] }[] };
  initialValue: (i: number) => Float32Array;
}

/** The initial value of a state tensor (optimizer state that is not stored in init.bin starts at zero). */
export function initialState(c: StateLike, name: string): Float32Array {
  const i = c.manifest.state.findIndex((e) => e.name === name);
  if (i < 0) throw new Error(`no state tensor ${name}`);
  return c.initialValue(i);
}
