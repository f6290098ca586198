/**
 * Adam as compiled into the step graphs: every updated parameter, both moments and the step counter equal a
 * PyTorch-form Adam step (test/reference/naive.ts `adamStep`, float64) computed from the gradients the graph itself
 * emits (`grad/<p>`) and the state it was fed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dcgan } from '../models/dcgan.ts';
import { variant } from '../src/dsl/gan.ts';
import { compileGan } from '../src/compiler/compile.ts';
import type { Graph } from '../src/compiler/ir.ts';
import { adamStep, tensor, type AdamOptions } from './reference/naive.ts';
import { draw, initialState, rng } from './helpers/gradcheck.ts';
import { openGraph, type Feeds } from './helpers/run_graph.ts';

const def = variant(dcgan({ size: 16, gf: 4, df: 4, channels: 3 }), { batch: 4 });
const compiled = compileGan(def, { emitGrads: true });
const graphOf = (name: string): Graph => compiled.graphs.find((g) => g.name === name)!;
/** The seed's settings: lr 2e-4, β1 0.5, β2 0.999, ε 1e-8. */
const ADAM: AdamOptions = { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 };
function initialFeeds(g: Graph, seed: number): Feeds {
  const r = rng(seed);
  const feeds: Feeds = {};
  for (const i of g.inputs) feeds[i.name] = i.role === 'data' || i.role === 'noise' ? draw(i.value.size, 'uniform', r) : initialState(compiled, i.name);
  return feeds;
}

/**
 * Check one step's outputs against the reference, to 1e-6 relative to the magnitudes that enter each result
 * (|β1·m| + |(1−β1)·g| for m', the moment itself for v', the update for p' — plus one float32 ulp of p': p − u is
 * rounded to float32), so float32 cancellation and the final rounding do not count as error.
 */
function checkStep(g: Graph, net: 'd' | 'g', feeds: Feeds, out: Record<string, Float32Array>): number {
  const step = feeds[`adam/${net}/step`][0];
  const t = step + 1;
  assert.equal(out[`adam/${net}/step.next`][0], t, 'step counter');
  const params = g.outputs.filter((o) => o.role === 'param' && o.updates).map((o) => o.updates!);
  assert.deepEqual(params.sort(), compiled.manifest.state.filter((s) => s.role === 'param' && s.network === net).map((s) => s.name).sort());
  let worst = 0;
  for (const p of params) {
    const [P, G, M, V] = [feeds[p], out[`grad/${p}`], feeds[`adam/${net}/m/${p}`], feeds[`adam/${net}/v/${p}`]];
    const shape = [P.length];
    const want = adamStep(tensor(P, shape), tensor(G, shape), tensor(M, shape), tensor(V, shape), t, ADAM);
    const got = { p: out[`${p}.next`], m: out[`adam/${net}/m/${p}.next`], v: out[`adam/${net}/v/${p}.next`] };
    for (let i = 0; i < P.length; i++) {
      const checks: [string, number, number, number][] = [
        ['m', got.m[i], want.m.data[i], 1e-6 * (Math.abs(ADAM.beta1 * M[i]) + Math.abs((1 - ADAM.beta1) * G[i]))],
        ['v', got.v[i], want.v.data[i], 1e-6 * want.v.data[i]],
        ['param', got.p[i], want.p.data[i], 1e-6 * Math.abs(want.p.data[i] - P[i]) + 2 ** -23 * Math.abs(want.p.data[i])],
      ];
      for (const [what, a, b, tol] of checks) {
        const err = Math.abs(a - b);
        worst = Math.max(worst, err / Math.max(tol, 1e-38));
        assert.ok(err <= tol + 1e-38, `${p}[${i}] ${what}: graph ${a}, Adam ${b} (off by ${err.toExponential(2)}, tolerance ${tol.toExponential(2)}; step ${step})`);
      }
    }
    // The update moved the parameter (a graph that forgot to apply it would pass the checks above only where the
    // gradient is zero).
    if (G.some((x) => Math.abs(x) > 1e-6)) assert.ok(got.p.some((x, i) => x !== P[i]), `${p} did not move`);
  }
  return worst;
}

for (const net of ['d', 'g'] as const) {
  test(`${net}_step: Adam updates (first and second step from the initial state)`, async () => {
    const g = graphOf(`${net}_step`);
    const run = await openGraph(g, { threads: 1 });
    try {
      const feeds = initialFeeds(g, net === 'd' ? 21 : 22);
      assert.equal(feeds[`adam/${net}/step`][0], 0);
      const out1 = await run.run(feeds);
      const w1 = checkStep(g, net, feeds, out1);
      // Second step: the outputs replace the inputs they update (step is now 1); fresh data.
      const feeds2 = initialFeeds(g, 99);
      for (const i of g.inputs) if (i.role !== 'data' && i.role !== 'noise') feeds2[i.name] = feeds[i.name];
      for (const o of g.outputs) if (o.updates) feeds2[o.updates] = out1[o.name];
      assert.equal(feeds2[`adam/${net}/step`][0], 1);
      const out2 = await run.run(feeds2);
      const w2 = checkStep(g, net, feeds2, out2);
      if (process.env.GANC_GRADCHECK_VERBOSE) console.log(`worst error / tolerance: ${w1}, ${w2}`);
    } finally {
      await run.release();
    }
  });
}

test('d_step: Adam from a random state (moments, bias correction at t = 10)', async () => {
  // With zero moments m̂ = g and v̂ = g², which hides a wrong β; random moments do not.
  const g = graphOf('d_step');
  const run = await openGraph(g, { threads: 1 });
  try {
    const r = rng(5);
    const feeds = initialFeeds(g, 23);
    for (const i of g.inputs) {
      if (i.name.startsWith('adam/d/m/')) feeds[i.name] = draw(i.value.size, 'uniform', r).map((x) => 0.05 * x);
      if (i.name.startsWith('adam/d/v/')) feeds[i.name] = draw(i.value.size, 'positive', r).map((x) => 1e-3 * x);
    }
    feeds['adam/d/step'] = Float32Array.of(9);
    checkStep(g, 'd', feeds, await run.run(feeds));
  } finally {
    await run.release();
  }
});
