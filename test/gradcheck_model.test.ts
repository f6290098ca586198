/**
 * Whole-model gradient check: the tiny DCGAN of models/dcgan.ts, compiled with `emitGrads`, its d_step / g_step
 * graphs run in onnxruntime-node. The gradients they output (`grad/<param>`) are compared with
 *  (a) central differences of the step graph's own loss output (the loss is computed from the fed parameters,
 *      before the update), float32 through and through;
 *  (b) central differences in float64 of the independent naive reference (test/reference/naive.ts), which has no
 *      float32 noise, so its tolerance is tight.
 * Plus the structure of the step graphs: each step updates only its own network.
 *
 * Why two kinds and a chosen evaluation point: with batch 4 the loss is a very curved function of the parameters
 * (batch norm over 4 samples at 1×1, ReLU kinks). At the initial point (weights N(0, 0.02)) D's batch-norm inputs
 * have variances below BN's ε and float32 central differences scatter by 10–50% at any step size, while the float64
 * reference agrees with ganc's gradients to 4–5 digits there. So (a) runs at a better-conditioned point (larger
 * weights, non-zero biases) with a few step sizes, and (b) runs both there and at the initial point.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dcgan } from '../models/dcgan.ts';
import { variant } from '../src/dsl/gan.ts';
import { compileGan } from '../src/compiler/compile.ts';
import type { Graph } from '../src/compiler/ir.ts';
import * as ref from './reference/naive.ts';
import { draw, initialState, referenceName, rng } from './helpers/gradcheck.ts';
import { type Checked, directions, norm, ortCheck } from './helpers/step_gradcheck.ts';
import { openGraph, type Feeds } from './helpers/run_graph.ts';

const SIZE = { size: 16, gf: 4, df: 4, channels: 3 };
const BATCH = 4;
const REF_CFG: ref.DcganConfig = { size: 16, gf: 4, df: 4, zdim: 100, channels: 3 };
const compiled = compileGan(variant(dcgan(SIZE), { batch: BATCH }), { emitGrads: true });
const graphOf = (name: string): Graph => compiled.graphs.find((g) => g.name === name)!;

type Point = 'initial' | 'conditioned';

/** Feeds for a step graph: state from init.bin (optionally moved to the better-conditioned point), random data. */
function stepFeeds(g: Graph, point: Point, seed = 11): Feeds {
  const r = rng(seed);
  const feeds: Feeds = {};
  for (const i of g.inputs) {
    if (i.role === 'data' || i.role === 'noise') {
      feeds[i.name] = draw(i.value.size, 'uniform', r);
      continue;
    }
    let v = initialState(compiled, i.name);
    if (point === 'conditioned' && i.role === 'param') {
      if (i.name.endsWith('/w')) {
        const scale = i.name === 'g/deconv2d_3/w' ? 3 : i.name.startsWith('g/') ? 5 : 10;
        v = v.map((x) => x * scale);
      } else if (i.name.endsWith('/gamma')) v = draw(v.length, 'uniform', r).map((x) => 1 + 0.2 * x);
      else v = draw(v.length, 'uniform', r).map((x) => 0.1 * x);
    }
    feeds[i.name] = v;
  }
  return feeds;
}

/** The step's loss in float64 by the naive reference, from the same feeds (`override` replaces one parameter). */
function referenceLoss(net: 'd' | 'g', feeds: Feeds, override?: [string, Float64Array]): number {
  const params: ref.Params = {};
  const shapes = ref.dcganParamShapes(REF_CFG);
  for (const [name, data] of Object.entries(feeds)) {
    if (!/^[dg]\//.test(name) || name.includes('running_')) continue;
    const rn = referenceName(name);
    params[rn] = ref.tensor(override?.[0] === name ? override[1] : data, shapes[rn]);
  }
  const fake = ref.dcganGenerator(ref.tensor(feeds.z, [BATCH, 100]), params, REF_CFG);
  const dFake = ref.dcganDiscriminator(fake, params, REF_CFG).logits;
  if (net === 'g') return ref.bceWithLogits(dFake, 1);
  const dReal = ref.dcganDiscriminator(ref.tensor(feeds.real, [BATCH, 3, 16, 16]), params, REF_CFG).logits;
  return ref.bceWithLogits(dReal, 1) + ref.bceWithLogits(dFake, 0);
}


/**
 * (b) float64 central differences of the reference: two directions and three single elements. Steps of 1e-8: the
 * initial point has ReLU / leaky-ReLU inputs within 1e-6 of their kink (BN's inputs there are ~1e-2), and float64
 * leaves ~1e-6 relative noise at that step.
 */
function referenceCheck(net: 'd' | 'g', feeds: Feeds, param: string, g: Float32Array, r: () => number): Checked[] {
  const x = Float64Array.from(feeds[param]);
  const out: Checked[] = [];
  const fd = (v: Float64Array, t: number) => {
    const xp = x.map((xi, i) => xi + t * v[i]);
    const xm = x.map((xi, i) => xi - t * v[i]);
    return (referenceLoss(net, feeds, [param, xp]) - referenceLoss(net, feeds, [param, xm])) / (2 * t);
  };
  const gmax = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (const [k, v] of directions(g, r).entries()) {
    const an = g.reduce((s, gi, i) => s + gi * v[i], 0);
    const f = fd(v, 1e-8);
    out.push({ param, what: k ? 'f64 mixed direction' : 'f64 gradient direction', err: Math.abs(f - an) / Math.abs(an), detail: `analytic ${an.toExponential(6)} fd ${f.toExponential(6)}` });
  }
  let imax = 0;
  g.forEach((v, i) => { if (Math.abs(v) > Math.abs(g[imax])) imax = i; });
  for (const i of new Set([imax, Math.floor(r() * g.length), Math.floor(r() * g.length)])) {
    const e = new Float64Array(g.length);
    e[i] = 1;
    const f = fd(e, 1e-8);
    const err = Math.abs(f - g[i]) / Math.max(Math.abs(f), Math.abs(g[i]), 1e-2 * gmax);
    out.push({ param, what: `f64 element ${i}`, err, detail: `analytic ${g[i].toExponential(6)} fd ${f.toExponential(6)}` });
  }
  return out;
}

// Parameters checked: per network, a sample covering every layer type; the biases right before a batch norm have
// (mathematically) zero gradient and are checked for that.
const SAMPLE = {
  d: ['d/conv2d_0/w', 'd/conv2d_0/b', 'd/batch_norm_0/gamma', 'd/conv2d_2/w', 'd/batch_norm_2/beta', 'd/conv2d_3/w', 'd/linear_0/w', 'd/linear_0/b'],
  g: ['g/linear_0/w', 'g/batch_norm_0/gamma', 'g/batch_norm_1/beta', 'g/deconv2d_1/w', 'g/batch_norm_3/gamma', 'g/deconv2d_3/w', 'g/deconv2d_3/b'],
};
const BEFORE_BN = { d: ['d/conv2d_1/b', 'd/conv2d_3/b'], g: ['g/linear_0/b', 'g/deconv2d_0/b', 'g/deconv2d_2/b'] };

/**
 * (a) is good to a few % at best here (measured worst 2.6e-2: G's last bias, which moves every pixel into D's first
 * leaky ReLU); it catches wiring errors, which are O(1). (b) measured worst 6.5e-5; it catches subtle ones (a 5%
 * change of LeakyRelu's slope, 2% of Tanh's or 3% of Softplus's gradient all fail).
 */
const ORT_TOL = 5e-2;
const F64_TOL = 1e-3;

for (const net of ['d', 'g'] as const) {
  test(`${net}_step: gradients match finite differences of its loss (float32 in ORT, float64 in the reference)`, async () => {
    const g = graphOf(`${net}_step`);
    const lossName = `${net}_loss`;
    const run = await openGraph(g, { threads: 1 });
    const r = rng(net === 'd' ? 3 : 4);
    const results: Checked[] = [];
    try {
      for (const point of ['conditioned', 'initial'] as Point[]) {
        const feeds = stepFeeds(g, point);
        const out = await run.run(feeds);
        // The loss output is the loss at the fed parameters, and agrees with the reference.
        const refLoss = referenceLoss(net, feeds);
        assert.ok(Math.abs(out[lossName][0] - refLoss) <= 1e-4 * Math.max(1, refLoss), `${point}: ${lossName} ${out[lossName][0]} vs reference ${refLoss}`);
        for (const p of SAMPLE[net]) {
          const grad = out[`grad/${p}`];
          assert.ok(grad && grad.length === feeds[p].length && grad.every(Number.isFinite), `grad/${p}`);
          if (point === 'conditioned') results.push(...(await ortCheck(run, lossName, feeds, p, grad, r)));
          results.push(...referenceCheck(net, feeds, p, grad, r).map((c) => ({ ...c, what: `${c.what} @${point}` })));
        }
        // Biases followed by batch norm: the normalization removes them, so their gradient is (numerically) zero.
        const scale = Math.max(...SAMPLE[net].map((p) => norm(out[`grad/${p}`])));
        for (const p of BEFORE_BN[net]) {
          const n = norm(out[`grad/${p}`]);
          assert.ok(n <= 1e-5 * scale, `${point}: |grad/${p}| = ${n} should be ~0 (the bias feeds a batch norm); other gradients ~${scale}`);
        }
      }
    } finally {
      await run.release();
    }
    const bad = results.filter((c) => c.err > (c.what.startsWith('ort') ? ORT_TOL : F64_TOL));
    if (process.env.GANC_GRADCHECK_VERBOSE) for (const c of results) console.log(`${c.err.toExponential(1)} ${c.param} ${c.what}: ${c.detail}`);
    assert.deepEqual(bad.map((c) => `${c.param} ${c.what}: error ${c.err.toExponential(2)} (${c.detail})`), []);
    // Every sampled parameter got all its checks.
    for (const p of SAMPLE[net]) {
      for (const kind of ['ort ', 'f64 gradient direction @initial', 'f64 gradient direction @conditioned', 'f64 element']) {
        assert.ok(results.some((c) => c.param === p && c.what.startsWith(kind.split(' @')[0]) && c.what.includes(kind.split(' @')[1] ?? '')), `${p}: no ${kind} check`);
      }
    }
  });
}

test('each step updates only its own network', () => {
  for (const [net, other] of [['d', 'g'], ['g', 'd']] as const) {
    const g = graphOf(`${net}_step`);
    const updates = g.outputs.filter((o) => o.updates).map((o) => o.updates!);
    const grads = g.outputs.filter((o) => o.role === 'grad').map((o) => o.name.slice('grad/'.length));
    // Everything updated belongs to this network (its parameters, BN statistics, Adam state).
    for (const u of updates) assert.ok(u.startsWith(`${net}/`) || u.startsWith(`adam/${net}/`), `${net}_step updates ${u}`);
    assert.ok(!g.outputs.some((o) => o.name.startsWith(`${other}/`) || o.name.startsWith(`adam/${other}/`)), `${net}_step outputs something of ${other}`);
    assert.ok(grads.every((p) => p.startsWith(`${net}/`)), `${net}_step outputs gradients of ${grads.filter((p) => !p.startsWith(`${net}/`))}`);
    // Every parameter of this network is updated and has its gradient and both Adam moments; the other network's
    // parameters are read (the loss needs them) but not updated.
    const own = compiled.manifest.state.filter((s) => s.role === 'param' && s.network === net).map((s) => s.name);
    const theirs = compiled.manifest.state.filter((s) => s.role === 'param' && s.network === other).map((s) => s.name);
    for (const p of own) {
      for (const want of [p, `adam/${net}/m/${p}`, `adam/${net}/v/${p}`]) assert.ok(updates.includes(want), `${net}_step does not update ${want}`);
      assert.ok(grads.includes(p), `${net}_step has no grad/${p}`);
    }
    assert.ok(updates.includes(`adam/${net}/step`));
    const inputs = new Set(g.inputs.map((i) => i.name));
    assert.ok(theirs.every((p) => inputs.has(p)), `${net}_step should read all of ${other}'s parameters`);
    // Batch-norm running statistics: only this network's move.
    const bn = updates.filter((u) => u.includes('running_'));
    assert.deepEqual(bn.sort(), compiled.manifest.state.filter((s) => s.role === 'bn_state' && s.network === net).map((s) => s.name).sort());
  }
});
