/**
 * Second-order autodiff: for every gradient-check case (every differentiable op, the DSL's composites), the gradient
 * of ganc's gradient graph (Hessian-vector products) against central differences of the first-order gradient, all
 * computed by onnxruntime-node from the graphs ganc emits (test/helpers/gradcheck2.ts). The ops that gradient rules
 * emit are exactly the ops with gradient rules plus noGrad ones whose derivative is zero almost everywhere
 * (comparisons, Sign, Cast of a mask), so differentiating a gradient needs no extra rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GancError } from '../src/errors.ts';
import { grad, mul, sum, tanh } from '../src/dsl/index.ts';
import { cases } from './helpers/grad_cases.ts';
import { gradCheck2 } from './helpers/gradcheck2.ts';
import { buildGraph, runGraph } from './helpers/run_graph.ts';

/**
 * Tolerances, float32 throughout (ORT's CPU Conv, ConvTranspose and Softplus have no double kernels, so a float64
 * path is not available): measured worst 5.4e-4 for all of H·S (Div: the O(ε²) truncation of 1/y at y = 0.5) and
 * 6e-4 along random V; every other case is below 1.2e-4, most below 1e-5. Rules that are right to first order but
 * wrong to second, injected at run time, pass test/gradcheck.test.ts (errors ≤ 5e-4) and fail here with errors of
 * 0.26–1.8: Sigmoid's and Exp's rules reading their output through StopGradient, Mul's ∂/∂x with y stopped,
 * ConvTranspose's input gradient with its weight stopped.
 */
const VEC_TOL = 2e-3;
const DIR_TOL = 2e-3;

test('second derivatives (H·S) match central differences of the first-order gradient', async (t) => {
  const summary: string[] = [];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const r = await gradCheck2(c);
      summary.push(`${r.vecErr.toExponential(1)} ${r.dirErr.toExponential(1)} ${r.scale.toExponential(1)} ${c.name}`);
      const msg = `${c.name}:\n  ${r.details.join('\n  ')}`;
      assert.ok(r.vecErr <= VEC_TOL, `H·S off by ${r.vecErr.toExponential(2)} (tolerance ${VEC_TOL})\n${msg}`);
      assert.ok(r.dirErr <= DIR_TOL, `⟨H·S, V⟩ off by ${r.dirErr.toExponential(2)} (tolerance ${DIR_TOL})\n${msg}`);
    });
  }
  if (process.env.GANC_GRADCHECK_VERBOSE) console.log(summary.join('\n'));
});

test('grad(y, x) of a non-scalar y is ∂Σy/∂x, and differentiates again: d/dx Σ tanh′(x)·r = tanh″(x)·r', async () => {
  const x = Float32Array.from([-1.5, -0.3, 0, 0.4, 1.1, 2.0]);
  const r = Float32Array.from([0.5, -1, 2, 0.25, -0.75, 1.5]);
  const g = buildGraph({ x: [2, 3], r: [2, 3] }, ({ x, r }) => {
    const d1 = grad(tanh(x), x); // tanh′(x) = 1 − tanh²(x), elementwise
    return { d1, loss: sum(mul(d1, r)) };
  }, { grads: ['x'] });
  const out = await runGraph(g, { x, r });
  for (let i = 0; i < x.length; i++) {
    const t = Math.tanh(x[i]);
    assert.ok(Math.abs(out.d1[i] - (1 - t * t)) < 1e-6, `tanh′(${x[i]}): ${out.d1[i]}`);
    const want = -2 * t * (1 - t * t) * r[i];
    assert.ok(Math.abs(out['grad/x'][i] - want) < 1e-6, `tanh″(${x[i]})·r: ${out['grad/x'][i]} vs ${want}`);
  }
});

test('grad(y, x) where y does not depend on x is a model error naming the line', () => {
  assert.throws(
    () => buildGraph({ x: [3], y: [3] }, ({ x, y }) => ({ loss: sum(grad(sum(mul(y, y)), x)) })),
    (e: unknown) => e instanceof GancError && /grad\(y, x\): y \[\] does not depend on x/.test(e.message) && /gradcheck2\.test\.ts$/.test(e.site?.file ?? ''),
  );
});
