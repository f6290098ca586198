/**
 * Spectral normalization (src/dsl/spectral_norm.ts): after enough power iterations — each a run of the graph ganc
 * emits, its u' fed back as u — σ equals the largest singular value from an independent SVD; the gradient treats u
 * and v as constants (checked against the closed form); the layer hook covers conv2d, deconv2d and linear weights.
 *
 * The weights are given by formulas so that numpy can rebuild them; the pinned σ₁ were computed with Debian's numpy
 * 1.24.2 (/usr/bin/python3), rounding each weight to float32 first as ganc does:
 *   import numpy as np
 *   i = np.arange(108.); W = np.sin(0.37*i + 0.5*np.cos(1.3*i)).astype(np.float32).astype(np.float64).reshape(6, -1)
 *   j = np.arange(35.); L = np.cos(0.61*j - 0.2*np.sin(0.9*j)).astype(np.float32).astype(np.float64).reshape(5, 7)
 *   k = np.arange(48.); T = np.sin(0.23*k*k % 7.0 + 0.4*k).astype(np.float32).astype(np.float64)
 *   T = T.reshape(3, 4, 2, 2).transpose(1, 0, 2, 3).reshape(4, -1)
 *   for M in (W, L.T, T): print('%.12g' % np.linalg.svd(M, compute_uv=False)[0])
 * → 5.73424758483, 3.33294763426, 3.04679440923 (σ₂/σ₁ = 0.67, 0.73, 0.74: 60 iterations converge to float32;
 * measured relative errors 6.4e-8, 3.1e-8, 2.0e-9; with the deconv weight viewed along the wrong axis the error is 4.4e-2).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, conv2d, deconv2d, layer, linear, mul, spectralNorm, spectralNormalize, sum } from '../src/dsl/index.ts';
import { currentTrace } from '../src/dsl/trace.ts';
import { buildGraph, openGraph, runGraph } from './helpers/run_graph.ts';
import { rng } from './helpers/gradcheck.ts';
import { net } from './helpers/grad_cases.ts';

const U = 'n/sn/sn_u';

interface Case { what: string; shape: number[]; outAxis: number; values: (i: number) => number; sigma: number }
const CASES: Case[] = [
  { what: 'conv weight [6, 2, 3, 3], output axis 0', shape: [6, 2, 3, 3], outAxis: 0, values: (i) => Math.sin(0.37 * i + 0.5 * Math.cos(1.3 * i)), sigma: 5.73424758483 },
  { what: 'linear weight [5, 7], output axis 1', shape: [5, 7], outAxis: 1, values: (j) => Math.cos(0.61 * j - 0.2 * Math.sin(0.9 * j)), sigma: 3.33294763426 },
  { what: 'deconv weight [3, 4, 2, 2], output axis 1', shape: [3, 4, 2, 2], outAxis: 1, values: (k) => Math.sin(((0.23 * k * k) % 7) + 0.4 * k), sigma: 3.04679440923 },
];

/** W/σ(W), the new u, and (with `r`) the loss Σ (W/σ)·R and its gradient w.r.t. W. */
function snGraph(shape: number[], outAxis: number, withGrad = false) {
  return buildGraph(withGrad ? { w: shape, r: shape } : { w: shape }, ({ w, r }) => net(() => layer('sn', 'sn', () => {
    const wsn = spectralNormalize(w, outAxis);
    const u = new Tensor(currentTrace().stateUpdates.get(U)!);
    const out: Record<string, Tensor> = { wsn, u };
    if (withGrad) out.loss = sum(mul(wsn, r));
    return out;
  })), withGrad ? { grads: ['w'] } : {});
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** The matrix view [m, n] of a weight in float64: output axis first. */
function matrix(w: Float32Array, shape: number[], outAxis: number): number[][] {
  const m = shape[outAxis];
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const rest = shape.map((_, i) => i).filter((i) => i !== outAxis);
  const n = w.length / m;
  return Array.from({ length: m }, (_, r) => Array.from({ length: n }, (_, c) => {
    let rem = c, off = r * strides[outAxis];
    for (let k = rest.length - 1; k >= 0; k--) {
      off += (rem % shape[rest[k]]) * strides[rest[k]];
      rem = Math.floor(rem / shape[rest[k]]);
    }
    return w[off];
  }));
}

for (const c of CASES) {
  test(`σ after 60 power iterations equals numpy's largest singular value: ${c.what}`, async () => {
    const g = snGraph(c.shape, c.outAxis);
    const w = Float32Array.from({ length: c.shape.reduce((a, b) => a * b, 1) }, (_, i) => c.values(i));
    const r = rng(5);
    let u: Float32Array = Float32Array.from({ length: c.shape[c.outAxis] }, () => 2 * r() - 1);
    const run = await openGraph(g, { threads: 1 });
    const sigmas: number[] = [];
    try {
      for (let it = 0; it < 60; it++) {
        const out = await run.run({ w, [U]: u });
        sigmas.push(norm(w) / norm(out.wsn));
        if (it === 59) {
          // At the fixed point u' = u (unit length).
          assert.ok(Math.abs(norm(out.u) - 1) < 1e-6);
          out.u.forEach((x, i) => assert.ok(Math.abs(x - u[i]) < 1e-5, `u'[${i}] ${x} vs u ${u[i]}`));
        }
        u = out.u;
      }
    } finally {
      await run.release();
    }
    const err = Math.abs(sigmas[59] - c.sigma) / c.sigma;
    assert.ok(err < 2e-6, `σ ${sigmas[59]} vs numpy ${c.sigma} (relative ${err.toExponential(2)})`);
    // One iteration from a random u is a lower bound that the iterations raise towards σ₁.
    assert.ok(sigmas[0] < c.sigma * 0.999, `first estimate ${sigmas[0]} is already σ₁`);
    for (let i = 1; i < sigmas.length; i++) assert.ok(sigmas[i] >= sigmas[i - 1] - 1e-5 * c.sigma, `σ estimate fell at iteration ${i}`);
  });
}

test('the gradient holds u and v constant: ∂Σ(W/σ)·R/∂W = R/σ − (Σ W·R/σ²)·u′vᵀ', async () => {
  const c = CASES[0];
  const [m, n] = [c.shape[0], c.shape.slice(1).reduce((a, b) => a * b, 1)];
  const r = rng(9);
  const w = Float32Array.from({ length: m * n }, (_, i) => c.values(i));
  const R = Float32Array.from({ length: m * n }, () => 2 * r() - 1);
  const u = Float32Array.from({ length: m }, () => 2 * r() - 1); // far from converged
  const out = await runGraph(snGraph(c.shape, 0, true), { w, r: R, [U]: u });
  // Float64: v = normalize(Wᵀu), u' = normalize(W v), σ = u'ᵀ W v.
  const W = matrix(w, c.shape, 0);
  const unit = (x: number[]) => { const k = norm(x); return x.map((e) => e / k); };
  const v = unit(Array.from({ length: n }, (_, j) => W.reduce((s, row, i) => s + row[j] * u[i], 0)));
  const wv = W.map((row) => row.reduce((s, x, j) => s + x * v[j], 0));
  const u2 = unit(wv);
  const sigma = u2.reduce((s, x, i) => s + x * wv[i], 0);
  const wr = w.reduce((s, x, i) => s + x * R[i], 0);
  let worst = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    const want = R[i * n + j] / sigma - (wr / sigma ** 2) * u2[i] * v[j];
    worst = Math.max(worst, Math.abs(out['grad/w'][i * n + j] - want));
  }
  assert.ok(worst < 1e-6, `max |analytic − closed form| = ${worst}`);
  out.u.forEach((x, i) => assert.ok(Math.abs(x - u2[i]) < 1e-6, `u'[${i}]`));
});

test('spectralNorm(fn) normalizes the weights of conv2d, deconv2d and linear created in fn, one u each', () => {
  const g = buildGraph({ x: [2, 3, 8, 8] }, ({ x }) => net(() => {
    const h = spectralNorm(() => deconv2d(conv2d(x, 4), 2, { kernel: 3 }));
    const y = spectralNorm(() => linear(h.reshape([2, -1]), 1));
    return { y: conv2d(h, 2).sum().add(y.sum()) }; // the last conv is outside: no u
  }), { optimize: false });
  const state = g.inputs.filter((i) => i.role === 'sn_state').map((i) => `${i.name} [${i.value.shape}]`);
  assert.deepEqual(state, ['n/conv2d_0/sn_u [4]', 'n/deconv2d_0/sn_u [2]', 'n/linear_0/sn_u [1]']);
});
