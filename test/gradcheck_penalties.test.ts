/**
 * Gradient penalties, whole-model: the d_step graphs of tiny R1 and WGAN-GP models (models/dcgan-r1.ts,
 * models/dcgan-wgan-gp.ts at 16×16, widths 4, batch 4), compiled with `emitGrads`. Their `grad/<param>` outputs
 * come from differentiating the penalty's gradient ∇ₓD (second order); the check compares them with central
 * differences of the step's loss output, which is computed from that gradient (first order only). Each model is
 * checked with its full D loss and with the penalty alone (where the second-order term is all of the gradient).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileGan } from '../src/compiler/compile.ts';
import type { GanDef, LossContext } from '../src/dsl/gan.ts';
import { gradientPenalty, r1Penalty, variant } from '../src/dsl/index.ts';
import { dcganR1 } from '../models/dcgan-r1.ts';
import { dcganWganGp } from '../models/dcgan-wgan-gp.ts';
import { draw, initialState, rng } from './helpers/gradcheck.ts';
import { openGraph, type Feeds } from './helpers/run_graph.ts';
import { type Checked, norm, ortCheck } from './helpers/step_gradcheck.ts';

const TINY = { size: 16, gf: 4, df: 4, channels: 3 };
const BATCH = 4;

const CASES: [string, GanDef][] = [
  ['dcgan-r1 (D with batch norm)', dcganR1(TINY)],
  ['dcgan-r1, penalty alone', variant(dcganR1(TINY), { dLoss: (c: LossContext) => r1Penalty(c, 10) })],
  ['dcgan-r1 without batch norm, penalty alone', variant(dcganR1(TINY, { batchNorm: false }), { dLoss: (c: LossContext) => r1Penalty(c, 10) })],
  ['dcgan-wgan-gp', dcganWganGp(TINY)],
  ['dcgan-wgan-gp, penalty alone', variant(dcganWganGp(TINY), { dLoss: (c: LossContext) => gradientPenalty(c, 10) })],
];

/**
 * Float32 central differences of a loss this curved are good to a few % at best: measured worst 2.2e-2 (the R1
 * penalty through batch norm over 4 samples), 5.4e-3 without batch norm. Errors in second-order terms only,
 * injected at run time, each fail at least two cases with errors of order 1: Conv's input gradient with its weight
 * stopped (the models without batch norm), Div's ∂/∂x with the divisor stopped (through batch norm), LeakyRelu's
 * negative branch with its incoming gradient stopped (four of the five).
 */
const TOL = 5e-2;

for (const [what, def] of CASES) {
  test(`${what}: D's gradient (second order through ∇ₓD) matches finite differences of its loss`, async () => {
    const c = compileGan(variant(def, { batch: BATCH }), { emitGrads: true });
    const g = c.graphs.find((x) => x.name === 'd_step')!;
    const r = rng(21);
    // A better-conditioned point than the initial N(0, 0.02) weights: larger D weights, non-trivial BN affine.
    const feeds: Feeds = {};
    for (const i of g.inputs) {
      if (i.role === 'data' || i.role === 'noise') feeds[i.name] = draw(i.value.size, i.name === 'gp_eps' ? 'positive' : 'uniform', r).map((x) => (i.name === 'gp_eps' ? (x - 0.5) / 1.5 : x));
      else {
        let v = initialState(c, i.name);
        if (i.role === 'param' && i.name.startsWith('d/')) {
          if (i.name.endsWith('/w')) v = v.map((x) => x * 10);
          else if (i.name.endsWith('/gamma')) v = draw(v.length, 'uniform', r).map((x) => 1 + 0.2 * x);
          else v = draw(v.length, 'uniform', r).map((x) => 0.1 * x);
        }
        feeds[i.name] = v;
      }
    }
    const run = await openGraph(g, { threads: 1 });
    const results: Checked[] = [];
    const zeros: string[] = [];
    try {
      const out = await run.run(feeds);
      const params = g.inputs.filter((i) => i.role === 'param' && i.name.startsWith('d/')).map((i) => i.name);
      for (const p of params) assert.ok(out[`grad/${p}`]?.every(Number.isFinite), `grad/${p}`);
      // A conv bias followed by batch norm is normalized away: its gradient is zero but for rounding (checked so).
      const withBn = params.some((p) => p.includes('batch_norm'));
      const beforeBn = (p: string) => withBn && /^d\/conv2d_[1-9]\/b$/.test(p);
      const scale = Math.max(...params.map((p) => norm(out[`grad/${p}`])));
      for (const p of params) {
        const grad = out[`grad/${p}`];
        if (beforeBn(p)) assert.ok(norm(grad) <= 1e-5 * scale, `|grad/${p}| = ${norm(grad)} should be ~0 (the bias feeds a batch norm); others ~${scale}`);
        else if (norm(grad) > 0) results.push(...(await ortCheck(run, 'd_loss', feeds, p, grad, r)));
        else zeros.push(p);
      }
    } finally {
      await run.release();
    }
    if (process.env.GANC_GRADCHECK_VERBOSE) for (const x of results) console.log(`${x.err.toExponential(1)} ${what} ${x.param} ${x.what}: ${x.detail}`);
    assert.ok(results.length >= 8, `only ${results.length} checks`);
    // Exact zeros only where the loss does not depend on a parameter almost everywhere: ∇ₓ of a piecewise-linear D
    // ignores its last bias, and a shift before a leaky ReLU only moves its kinks; the Wasserstein loss ignores the
    // last bias too. Only biases and batch-norm offsets, then (a weight with a zero gradient is a broken rule).
    assert.ok(zeros.every((p) => /\/(b|beta)$/.test(p)), `zero gradients: ${zeros.join(', ')}`);
    assert.deepEqual(results.filter((x) => !(x.err <= TOL)).map((x) => `${x.param} ${x.what}: error ${x.err.toExponential(2)} (${x.detail})`), []);
  });
}
