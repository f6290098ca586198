/**
 * The DSL pieces of the modern stabilizers against hand computations: hinge and Wasserstein losses on given logits;
 * R1 and WGAN-GP penalties — values and D's gradients, which differentiate ∇ₓD — on a linear discriminator, where
 * ∇ₓD(x) = w for every x, so R1 = γ/2·‖w‖² with gradient γ·w and GP = λ(‖w‖ − 1)² with gradient 2λ(1 − 1/‖w‖)·w;
 * and the errors of the new gan() options and c.uniform.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { compileGan, initArray } from '../src/compiler/compile.ts';
import {
  type LossContext, type Tensor, criticGLoss, flatten, gan, gradientPenalty, hingeDLoss, linear, r1Penalty, reshape, tanh,
  variant, wassersteinDLoss,
} from '../src/dsl/index.ts';
import { GancError } from '../src/errors.ts';
import { StateStore } from '../src/runtime/state.ts';
import { openSessions } from '../src/runtime/steps.ts';
import { buildGraph, runGraph } from './helpers/run_graph.ts';
import { draw, rng } from './helpers/gradcheck.ts';

test('hinge, Wasserstein and critic G losses equal a hand computation', async () => {
  const real = [1.5, 0.2, -0.7, 3], fake = [-2, 0.4, -0.9, 1.1];
  const g = buildGraph({ r: [4, 1], f: [4, 1] }, ({ r, f }) => ({ hinge: hingeDLoss(r, f), wass: wassersteinDLoss(r, f), gen: criticGLoss(f) }));
  const out = await runGraph(g, { r: Float32Array.from(real), f: Float32Array.from(fake) });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const relu = (x: number) => Math.max(0, x);
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);
  close(out.hinge[0], mean(real.map((x) => relu(1 - x))) + mean(fake.map((x) => relu(1 + x))), 'hinge');
  close(out.wass[0], mean(fake) - mean(real), 'wasserstein');
  close(out.gen[0], -mean(fake), 'critic G loss');
});

/** A GAN with a linear D on 1×4×4 images (∇ₓD = w everywhere), batch 3, emitting D's gradients. */
const linearGan = (dLoss: (c: LossContext) => Tensor) => gan({
  name: 'linear-d', image: { channels: 1, size: 4 }, z: { size: 3 }, batch: 3,
  generator: (z) => tanh(reshape(linear(z, 16), [z.shape[0], 1, 4, 4])),
  discriminator: (x) => linear(flatten(x), 1),
  dLoss, gLoss: ({ dFake }) => criticGLoss(dFake.logits),
});

async function dStep(dLoss: (c: LossContext) => Tensor): Promise<{ loss: number; grad: Float32Array; w: Float32Array; inputs: string[] }> {
  const c = compileGan(linearGan(dLoss), { emitGrads: true });
  const s = await openSessions(c, { threads: 1 });
  const store = StateStore.fromInit(c.manifest, initArray(c));
  // Weights uniform in [−1, 1) rather than the N(0, 0.02) init, so that ‖w‖ − 1 is well away from 0.
  const r = rng(3);
  store.tensors.set('d/linear_0/w', new ort.Tensor('float32', draw(16, 'uniform', r), [16, 1]));
  const w = Float32Array.from(store.data('d/linear_0/w'));
  const feeds: Record<string, ort.Tensor> = {};
  for (const i of s.d.entry.inputs) if (!store.has(i.name)) feeds[i.name] = new ort.Tensor('float32', draw(i.shape.reduce((a, b) => a * b, 1), 'positive', r).map((x) => x - 1), i.shape);
  const out = await s.d.run(store, feeds);
  await Promise.all([s.d, s.g, s.generate].map((x) => x.session.release()));
  return { loss: (out.d_loss.data as Float32Array)[0], grad: out['grad/d/linear_0/w'].data as Float32Array, w, inputs: s.d.entry.inputs.map((i) => i.name) };
}

test('R1 on a linear D: γ/2·‖w‖², and D\'s gradient γ·w (second order through ∇ₓD)', async () => {
  const { loss, grad, w } = await dStep((c) => r1Penalty(c, 4));
  const w2 = w.reduce((s, x) => s + x * x, 0);
  assert.ok(Math.abs(loss - 2 * w2) < 1e-5 * 2 * w2, `r1 ${loss} vs ${2 * w2}`);
  w.forEach((x, i) => assert.ok(Math.abs(grad[i] - 4 * x) < 1e-5, `grad[${i}] ${grad[i]} vs ${4 * x}`));
});

test('WGAN-GP on a linear D: λ(‖w‖ − 1)², gradient 2λ(1 − 1/‖w‖)·w (independent of the interpolates)', async () => {
  const { loss, grad, w, inputs } = await dStep((c) => gradientPenalty(c, 10));
  // ∇ₓD = w whatever x̂ is: real, fake and ε drop out of the graph.
  assert.ok(!inputs.includes('gp_eps') && !inputs.includes('real'), inputs.join());
  const n = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(n - 1) > 0.2, `‖w‖ = ${n}`);
  assert.ok(Math.abs(loss - 10 * (n - 1) ** 2) < 1e-5 * Math.max(1, loss), `gp ${loss} vs ${10 * (n - 1) ** 2}`);
  w.forEach((x, i) => assert.ok(Math.abs(grad[i] - 20 * (1 - 1 / n) * x) < 1e-5, `grad[${i}] ${grad[i]} vs ${20 * (1 - 1 / n) * x}`));
});

test('the new options and c.uniform: one error naming the model\'s line each', () => {
  const base = linearGan((c) => wassersteinDLoss(c.dReal.logits, c.dFake.logits));
  const fails = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof GancError && re.test(e.message) && /modern_dsl\.test\.ts$/.test(e.site?.file ?? ''), String(re));
  fails(() => variant(base, { ema: { decay: 1 } }), /ema\.decay must be a number between 0 and 1/);
  fails(() => variant(base, { ema: { decay: 0.9, warm: true } as never }), /unknown option 'warm' in ema/);
  fails(() => variant(base, { dUpdatesPerG: 0 }), /dUpdatesPerG must be a positive integer/);
  for (const [name, re] of [['z', /uniform name 'z' is taken/], ['d_loss', /uniform name 'd_loss' is taken/], ['2x', /is taken or invalid/]] as const) {
    fails(() => compileGan(variant(base, { dLoss: (c) => wassersteinDLoss(c.dReal.logits, c.dFake.logits).add(c.uniform(name, [3, 1]).mean()) })), re);
  }
  fails(() => compileGan(variant(base, {
    dLoss: (c) => wassersteinDLoss(c.dReal.logits, c.dFake.logits).add(c.uniform('u', [3, 1]).mean()).add(c.uniform('u', [3]).mean()),
  })), /uniform 'u' asked for as \[3\] and before as \[3,1\]/);
});
