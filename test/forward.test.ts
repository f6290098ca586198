/**
 * The forward pass of the compiled tiny DCGAN (models/dcgan.ts) against an independent float64 implementation
 * (test/reference/naive.ts): G and D in training mode (batch statistics), the losses the step graphs report, the
 * running statistics they propose, and the `generate` graph (inference mode: running statistics).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dcgan, discriminator, generator } from '../models/dcgan.ts';
import { variant } from '../src/dsl/gan.ts';
import { compileGan } from '../src/compiler/compile.ts';
import type { Graph } from '../src/compiler/ir.ts';
import { currentTrace } from '../src/dsl/trace.ts';
import * as ref from './reference/naive.ts';
import { draw, initialState, referenceName, rng } from './helpers/gradcheck.ts';
import { buildGraph, openGraph, type Feeds } from './helpers/run_graph.ts';

const SIZE = { size: 16, gf: 4, df: 4, channels: 3 };
const B = 4;
const Z = 100;
const CFG: ref.DcganConfig = { size: 16, gf: 4, df: 4, zdim: Z, channels: 3 };
const compiled = compileGan(variant(dcgan(SIZE), { batch: B }));
const graphOf = (name: string): Graph => compiled.graphs.find((g) => g.name === name)!;
const TOL = 1e-4;

/**
 * Random parameters (not the initial ones: biases and β of zero, γ of one would hide mixed-up names), keyed by ganc
 * name. Weights uniform ±0.1, biases and β ±0.2, γ 1 ± 0.3.
 */
function randomParams(seed: number): Feeds {
  const r = rng(seed);
  const out: Feeds = {};
  for (const s of compiled.manifest.state) {
    if (s.role !== 'param') continue;
    const n = s.shape.reduce((a, b) => a * b, 1);
    const u = draw(n, 'uniform', r);
    out[s.name] = s.name.endsWith('/w') ? u.map((x) => 0.1 * x) : s.name.endsWith('/gamma') ? u.map((x) => 1 + 0.3 * x) : u.map((x) => 0.2 * x);
  }
  return out;
}

/** The same parameters under the reference's names, with a check that the shapes agree. */
function referenceParams(p: Feeds): ref.Params {
  const shapes = ref.dcganParamShapes(CFG);
  const out: ref.Params = {};
  for (const [name, data] of Object.entries(p)) {
    const rn = referenceName(name);
    const state = compiled.manifest.state.find((s) => s.name === name)!;
    assert.deepEqual(state.shape, shapes[rn], `${name} (${rn}) shape`);
    out[rn] = ref.tensor(data, shapes[rn]);
  }
  assert.deepEqual(Object.keys(out).sort(), Object.keys(shapes).sort(), 'every reference parameter has a ganc counterpart');
  return out;
}

function assertClose(got: Float32Array, want: ref.Tensor | number[], what: string, tol = TOL): void {
  const w = Array.isArray(want) ? want : want.data;
  assert.equal(got.length, w.length, `${what}: ${got.length} values, expected ${w.length}`);
  let worst = 0;
  let at = 0;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - w[i]) / Math.max(1, Math.abs(w[i]));
    if (!(err <= worst)) [worst, at] = [err, i];
  }
  assert.ok(worst <= tol, `${what}: element ${at} is ${got[at]}, reference ${w[at]} (error ${worst.toExponential(2)})`);
}

async function runOnce(g: Graph, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const run = await openGraph(g, { threads: 1 });
  try {
    return await run.run(feeds);
  } finally {
    await run.release();
  }
}

const params = randomParams(1);
const P = referenceParams(params);
const r = rng(2);
const z = draw(B * Z, 'uniform', r);
const real = draw(B * 3 * 16 * 16, 'uniform', r);
const zRef = ref.tensor(z, [B, Z]);
const realRef = ref.tensor(real, [B, 3, 16, 16]);

test('G forward in training mode (batch statistics) matches the reference', async () => {
  const g = buildGraph({ z: [B, Z] }, ({ z }) => ({ image: currentTrace().network('g', () => generator(z, SIZE)) }), { training: true });
  const feeds: Feeds = { z };
  for (const i of g.inputs) if (i.role === 'param') feeds[i.name] = params[i.name];
  assert.deepEqual(g.inputs.filter((i) => i.role !== 'param').map((i) => i.name), ['z'], 'training mode reads no running statistics');
  const out = await runOnce(g, feeds);
  const want = ref.dcganGenerator(zRef, P, CFG);
  assert.deepEqual(want.shape, [B, 3, 16, 16]);
  assertClose(out.image, want, 'G(z)');
  // Not a trivial output: the images vary across the batch and are not saturated.
  const img = [...out.image];
  assert.ok(Math.max(...img.map(Math.abs)) < 0.9999 && new Set(img.map((v) => v.toFixed(3))).size > 100);
});

test('D forward in training mode: logits and penultimate features on a real batch match the reference', async () => {
  const g = buildGraph({ x: [B, 3, 16, 16] }, ({ x }) => {
    const o = currentTrace().network('d', () => discriminator(x, SIZE));
    return { logits: o.logits, features: o.features.penultimate };
  }, { training: true });
  const feeds: Feeds = { x: real };
  for (const i of g.inputs) if (i.role === 'param') feeds[i.name] = params[i.name];
  const out = await runOnce(g, feeds);
  const want = ref.dcganDiscriminator(realRef, P, CFG);
  assertClose(out.logits, want.logits, 'D(real) logits');
  assertClose(out.features, want.features, 'D(real) features');
});

/** Feeds for a compiled step graph: the random parameters, initial BN / optimizer state, the data above. */
function stepFeeds(g: Graph): Feeds {
  const feeds: Feeds = {};
  for (const i of g.inputs) {
    if (i.name === 'z') feeds.z = z;
    else if (i.name === 'real') feeds.real = real;
    else if (i.role === 'param') feeds[i.name] = params[i.name];
    else feeds[i.name] = initialState(compiled, i.name);
  }
  return feeds;
}

test('the compiled steps report the reference losses (D: BCE(D(x), 1) + BCE(D(G(z)), 0); G: BCE(D(G(z)), 1))', async () => {
  const fake = ref.dcganGenerator(zRef, P, CFG);
  const dFake = ref.dcganDiscriminator(fake, P, CFG).logits;
  const dReal = ref.dcganDiscriminator(realRef, P, CFG).logits;
  const dOut = await runOnce(graphOf('d_step'), stepFeeds(graphOf('d_step')));
  assertClose(dOut.d_loss, [ref.bceWithLogits(dReal, 1) + ref.bceWithLogits(dFake, 0)], 'd_loss');
  const gOut = await runOnce(graphOf('g_step'), stepFeeds(graphOf('g_step')));
  assertClose(gOut.g_loss, [ref.bceWithLogits(dFake, 1)], 'g_loss');

  // The G step proposes new running statistics (decay 0.9, biased batch variance as TensorFlow); check the first
  // batch norm's, whose input is the linear layer's output.
  const h = ref.reshape(ref.linear(zRef, P['g.h0.w'], P['g.h0.b']), [B, 8 * SIZE.gf, 1, 1]);
  const { mean, variance } = ref.moments(h, [0, 2, 3]);
  const old = { m: initialState(compiled, 'g/batch_norm_0/running_mean'), v: initialState(compiled, 'g/batch_norm_0/running_var') };
  assertClose(gOut['g/batch_norm_0/running_mean.next'], [...mean].map((x, i) => 0.9 * old.m[i] + 0.1 * x), 'running mean');
  assertClose(gOut['g/batch_norm_0/running_var.next'], [...variance].map((x, i) => 0.9 * old.v[i] + 0.1 * x), 'running variance');
});

/** The generator in inference mode: batch norm with running statistics, y = (x − μ)/√(σ² + ε)·γ + β. */
function referenceGenerate(zz: ref.Tensor, p: ref.Params, running: Feeds): ref.Tensor {
  const bn = (x: ref.Tensor, layer: number): ref.Tensor => {
    const [mu, v] = [running[`g/batch_norm_${layer}/running_mean`], running[`g/batch_norm_${layer}/running_var`]];
    const [gamma, beta] = [p[`g.bn${layer}.gamma`].data, p[`g.bn${layer}.beta`].data];
    const [n, c, hh, ww] = x.shape;
    const y = ref.zeros(x.shape);
    for (let i = 0; i < n * c * hh * ww; i++) {
      const ch = Math.floor(i / (hh * ww)) % c;
      y.data[i] = ((x.data[i] - mu[ch]) / Math.sqrt(v[ch] + 1e-5)) * gamma[ch] + beta[ch];
    }
    return y;
  };
  let h = ref.relu(bn(ref.reshape(ref.linear(zz, p['g.h0.w'], p['g.h0.b']), [B, 8 * SIZE.gf, 1, 1]), 0));
  for (let l = 1; l <= 4; l++) {
    const { pads: [p0, p1], outputPadding } = ref.deconvSamePads(h.shape[2], 5, 2);
    h = ref.convTranspose2d(h, p[`g.h${l}.w`], { stride: [2, 2], pads: [p0, p0, p1, p1], outputPadding: [outputPadding, outputPadding] }, p[`g.h${l}.b`]);
    if (l < 4) h = ref.relu(bn(h, l));
  }
  return ref.tanh(h);
}

test('generate (inference mode: running statistics) matches the reference', async () => {
  const g = graphOf('generate');
  const rr = rng(3);
  const feeds: Feeds = { z };
  for (const i of g.inputs) {
    if (i.role === 'param') feeds[i.name] = params[i.name];
    else if (i.name.endsWith('running_mean')) feeds[i.name] = draw(i.value.size, 'uniform', rr).map((x) => 0.3 * x);
    else if (i.name.endsWith('running_var')) feeds[i.name] = draw(i.value.size, 'positive', rr);
  }
  for (const i of g.inputs) assert.ok(feeds[i.name], `unexpected input ${i.name} of generate`);
  const out = await runOnce(g, feeds);
  assertClose(out.image, referenceGenerate(zRef, P, feeds), 'generate image');

  // With the initial running statistics (mean 0, variance 1) batch norm is y = x/√(1 + ε)·γ + β: still not the
  // training-mode output (which normalizes by the batch's statistics).
  for (const i of g.inputs) if (i.role === 'bn_state') feeds[i.name] = initialState(compiled, i.name);
  const atInit = await runOnce(g, feeds);
  assertClose(atInit.image, referenceGenerate(zRef, P, feeds), 'generate image, initial running statistics');
  const train = ref.dcganGenerator(zRef, P, CFG);
  assert.ok(train.data.some((x, i) => Math.abs(x - atInit.image[i]) > 1e-2), 'inference and training mode differ');
});
