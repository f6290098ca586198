/**
 * Second-order gradient checking: Hessian-vector products from ganc's autodiff applied twice, against central
 * differences of the first-order gradient, every number out of onnxruntime-node.
 *
 * For a case y = f(x…) (test/helpers/grad_cases.ts) the loss is L = Σ y·R with R a differentiated input too (so the
 * gradient rules' dependence on their incoming gradient is exercised, not only their dependence on x). Over all
 * differentiated inputs θ = (x…, R, parameters):
 *   - graph A (first order) outputs ∇L(θ);
 *   - graph B (second order) takes a direction S and outputs ∇⟨∇L(θ), S⟩ = H·S, differentiating the gradient nodes
 *     that the DSL's `grad` put into the graph;
 *   - central differences (∇L(θ + εS) − ∇L(θ − εS)) / 2ε, run through graph A, give H·S independently.
 * S is the direction actually applied (the float32 difference of the two fed points, / 2ε), so rounding of θ ± εS
 * is not counted as error. Compared: all of H·S at once (max-norm relative error) and ⟨H·S, V⟩ along random V
 * (accumulated in float64).
 */
import type { Graph } from '../../src/compiler/ir.ts';
import { toOnnx } from '../../src/compiler/onnx.ts';
import { Tensor, grad, mul, sum } from '../../src/dsl/tensor.ts';
import { currentTrace } from '../../src/dsl/trace.ts';
import { type GradCase, type InputSpec, draw, rng } from './gradcheck.ts';
import { buildGraph, openGraph, type Feeds } from './run_graph.ts';

export interface SecondOrderResult {
  name: string;
  /** max |FD − H·S| / max(|H·S|, |FD|) over every element of every input. */
  vecErr: number;
  /** Worst relative error of ⟨H·S, V⟩ over the random V. */
  dirErr: number;
  /** Largest |H·S| element (a zero Hessian would make the check vacuous). */
  scale: number;
  onnx: Uint8Array[];
  details: string[];
}

const R = '__R';
const specOf = (s: number[] | InputSpec): InputSpec => (Array.isArray(s) ? { shape: s } : s);
const dirName = (w: string) => `__S/${w}`;

/** L = Σ y·R, and the tensors of the inputs named `wrt` (declared ones, R, or parameters `fn` created). */
function traceLoss(c: GradCase, x: Record<string, Tensor>): { loss: Tensor; input: (name: string) => Tensor } {
  const tr = currentTrace();
  const y = c.fn(x);
  const r = new Tensor(tr.input(R, y.shape, 'data'));
  const loss = y.rank === 0 ? mul(y, r) : sum(mul(y, r));
  const input = (name: string) => x[name] ?? new Tensor(tr.inputs.get(name)!.value);
  return { loss, input };
}

export async function gradCheck2(c: GradCase, opts: { directions?: number } = {}): Promise<SecondOrderResult> {
  const eps = c.eps ?? 1e-2;
  const r = rng((c.seed ?? 1234) + 1);
  const specs = Object.fromEntries(Object.entries(c.inputs).map(([k, s]) => [k, specOf(s)]));
  const shapes = Object.fromEntries(Object.entries(specs).map(([k, s]) => [k, s.shape]));

  // Graph A: ∇L over every differentiated input (parameters are known once the function has been traced).
  const probe = buildGraph(shapes, (x) => ({ loss: traceLoss(c, x).loss }));
  const params = probe.inputs.filter((i) => i.role === 'param').map((i) => i.name);
  const wrt = [...Object.keys(specs).filter((k) => specs[k].wrt !== false), R, ...params];
  const first: Graph = buildGraph(shapes, (x) => ({ loss: traceLoss(c, x).loss }), { grads: wrt });

  // Graph B: h = Σ_w ⟨∂L/∂w, S_w⟩ with the first-order gradients taken by the DSL's grad, then ∇h.
  const second: Graph = buildGraph(shapes, (x) => {
    const { loss, input } = traceLoss(c, x);
    const ws = wrt.map(input);
    const gs = grad(loss, ws);
    let h: Tensor | undefined;
    gs.forEach((g, i) => {
      const s = new Tensor(currentTrace().input(dirName(wrt[i]), ws[i].shape, 'data'));
      const term = sum(mul(g, s));
      h = h ? h.add(term) : term;
    });
    return { loss: h! };
  }, { grads: wrt });

  const feeds: Feeds = {};
  for (const i of first.inputs) {
    const dist = specs[i.name]?.dist ?? (i.role === 'param' ? c.paramDist?.(i.name) : undefined) ?? 'uniform';
    feeds[i.name] = draw(i.value.size, i.name === R ? 'uniform' : dist, r);
  }
  const plus: Feeds = { ...feeds };
  const minus: Feeds = { ...feeds };
  const dirs: Feeds = {};
  for (const w of wrt) {
    const x = feeds[w];
    const s = draw(x.length, 'uniform', r);
    const xp = Float32Array.from(x, (v, i) => v + eps * s[i]);
    const xm = Float32Array.from(x, (v, i) => v - eps * s[i]);
    plus[w] = xp;
    minus[w] = xm;
    dirs[dirName(w)] = Float32Array.from(xp, (v, i) => (v - xm[i]) / (2 * eps));
  }

  const onnx = [toOnnx(first), toOnnx(second)];
  const a = await openGraph(first, { onnx: onnx[0], threads: 1 });
  const b = await openGraph(second, { onnx: onnx[1], threads: 1 });
  const details: string[] = [];
  try {
    const hs = await b.run({ ...feeds, ...dirs });
    const [gp, gm] = [await a.run(plus), await a.run(minus)];
    const fd: Record<string, Float64Array> = {};
    let scale = 0;
    let diff = 0;
    for (const w of wrt) {
      const an = hs[`grad/${w}`];
      if (!an || an.length !== feeds[w].length || !an.every(Number.isFinite)) throw new Error(`${c.name}: bad second-order output for ${w}`);
      fd[w] = Float64Array.from(an, (_, i) => (gp[`grad/${w}`][i] - gm[`grad/${w}`][i]) / (2 * eps));
      for (let i = 0; i < an.length; i++) {
        scale = Math.max(scale, Math.abs(an[i]), Math.abs(fd[w][i]));
        diff = Math.max(diff, Math.abs(an[i] - fd[w][i]));
      }
      const worst = an.reduce((m, v, i) => (Math.abs(v - fd[w][i]) > Math.abs(an[m] - fd[w][m]) ? i : m), 0);
      details.push(`${w}: worst element ${worst}: H·S ${an[worst].toExponential(6)} fd ${fd[w][worst].toExponential(6)}`);
    }
    const vecErr = diff / Math.max(scale, 1e-12);

    let dirErr = 0;
    for (let d = 0; d < (opts.directions ?? 2); d++) {
      let an = 0, num = 0, mag = 0;
      for (const w of wrt) {
        const v = draw(feeds[w].length, 'uniform', r);
        for (let i = 0; i < v.length; i++) {
          an += hs[`grad/${w}`][i] * v[i];
          num += fd[w][i] * v[i];
          mag += (hs[`grad/${w}`][i] * v[i]) ** 2;
        }
      }
      const err = Math.abs(an - num) / Math.max(Math.abs(an), Math.abs(num), 0.1 * Math.sqrt(mag), 1e-12);
      details.push(`⟨H·S, V${d}⟩: analytic ${an.toExponential(6)} fd ${num.toExponential(6)} err ${err.toExponential(2)}`);
      dirErr = Math.max(dirErr, err);
    }
    return { name: c.name, vecErr, dirErr, scale, onnx, details };
  } finally {
    await a.release();
    await b.release();
  }
}
