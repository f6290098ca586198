// Sanity checks of the naive reference itself, so other tests can trust it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  adamStep,
  batchNormTrain,
  bceWithLogits,
  concat,
  conv2d,
  convTranspose2d,
  dcganDiscriminator,
  dcganGenerator,
  dcganParamShapes,
  deconvSamePads,
  dot,
  flatten,
  initDcganParams,
  linear,
  logsumexp,
  minibatchDiscrimination,
  moments,
  randn,
  rng,
  samePads,
  softmaxCrossEntropy,
  softplus,
  sslLosses,
  tensor,
  uniform,
  zeros,
  type ConvOptions,
} from './reference/naive.ts';

const close = (a: number, b: number, tol = 1e-9, what = '') =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b)), `${what} ${a} vs ${b}`);

test('conv2d of a delta image is the kernel flipped (cross-correlation)', () => {
  const x = zeros([1, 1, 5, 5]);
  x.data[2 * 5 + 2] = 1;
  const w = randn([2, 1, 3, 3], rng(1));
  const y = conv2d(x, w, { pads: [1, 1, 1, 1] });
  assert.deepEqual(y.shape, [1, 2, 5, 5]);
  for (let m = 0; m < 2; m++)
    for (let oh = 0; oh < 5; oh++)
      for (let ow = 0; ow < 5; ow++) {
        const inside = oh >= 1 && oh <= 3 && ow >= 1 && ow <= 3;
        const want = inside ? w.data[m * 9 + (3 - oh) * 3 + (3 - ow)]! : 0;
        assert.equal(y.data[(m * 5 + oh) * 5 + ow], want);
      }
});

test('conv2d shape formula, bias, stride and dilation by hand', () => {
  const x = tensor([...Array(16).keys()], [1, 1, 4, 4]);
  const w = tensor([1, 0, 0, 1], [1, 1, 2, 2]);
  // dilation 2: x[i,j] + x[i+2,j+2]; stride 2 on 4×4 → 1×1.
  const y = conv2d(x, w, { stride: [2, 2], dilation: [2, 2] }, tensor([0.5], [1]));
  assert.deepEqual(y.shape, [1, 1, 1, 1]);
  assert.equal(y.data[0], 0 + 10 + 0.5);
});

// convT(·, w) with the same pads must be the adjoint of conv(·, w): ⟨conv(x), y⟩ = ⟨x, convT(y)⟩.
function checkAdjoint(xShape: number[], wShape: number[], opts: ConvOptions & { stride: [number, number] }) {
  const r = rng(7);
  const x = randn(xShape, r);
  const w = randn(wShape, r);
  const cx = conv2d(x, w, opts);
  const y = randn(cx.shape, r);
  const [, , H, W] = xShape as [number, number, number, number];
  const [, , kh, kw] = wShape as [number, number, number, number];
  const [pt, pl, pb, pr] = opts.pads ?? [0, 0, 0, 0];
  const [dh, dw] = opts.dilation ?? [1, 1];
  const op: [number, number] = [
    H - (opts.stride[0] * (cx.shape[2]! - 1) + dh * (kh - 1) + 1 - pt - pb),
    W - (opts.stride[1] * (cx.shape[3]! - 1) + dw * (kw - 1) + 1 - pl - pr),
  ];
  const ty = convTranspose2d(y, w, { ...opts, outputPadding: op });
  assert.deepEqual(ty.shape, x.shape);
  close(dot(cx, y), dot(x, ty), 1e-10, 'adjoint');
  return op;
}

test('convTranspose2d is the adjoint of conv2d', () => {
  // stride 2, k5, SAME on 8×8 (pads 1 before, 2 after): no output padding needed.
  const [b, e] = samePads(8, 5, 2);
  assert.deepEqual(checkAdjoint([2, 3, 8, 8], [4, 3, 5, 5], { stride: [2, 2], pads: [b, b, e, e] }), [0, 0]);
  // k3 s2 p1 on 8×8 → 4×4; back to 8 needs output padding 1.
  assert.deepEqual(checkAdjoint([1, 2, 8, 8], [3, 2, 3, 3], { stride: [2, 2], pads: [1, 1, 1, 1] }), [1, 1]);
  // Asymmetric everything, with dilation.
  checkAdjoint([1, 2, 9, 11], [2, 2, 3, 2], { stride: [2, 3], pads: [0, 1, 2, 1], dilation: [2, 1] });
});

test('convTranspose2d bias and a hand-computed scatter', () => {
  // 1×1 input of value 2, 2×2 kernel, stride 2: output is 2·kernel + bias.
  const y = convTranspose2d(tensor([2], [1, 1, 1, 1]), tensor([1, 2, 3, 4], [1, 1, 2, 2]), { stride: [2, 2] }, tensor([1], [1]));
  assert.deepEqual([...y.data], [3, 5, 7, 9]);
});

test('samePads matches TensorFlow SAME', () => {
  assert.deepEqual(samePads(64, 5, 2), [1, 2]);
  assert.deepEqual(samePads(32, 5, 2), [1, 2]);
  assert.deepEqual(samePads(7, 5, 2), [2, 2]);
  assert.deepEqual(samePads(5, 3, 1), [1, 1]);
  assert.deepEqual(samePads(4, 1, 2), [0, 0]);
  assert.deepEqual(samePads(10, 3, 1, 2), [2, 2]);
});

test('deconvSamePads doubles the size exactly', () => {
  for (const size of [1, 2, 4, 5, 8]) {
    const { pads: [b, e], outputPadding: op } = deconvSamePads(size, 5, 2);
    const y = convTranspose2d(randn([1, 2, size, size], rng(size)), randn([2, 3, 5, 5], rng(9)), {
      stride: [2, 2],
      pads: [b, b, e, e],
      outputPadding: [op, op],
    });
    assert.deepEqual(y.shape, [1, 3, 2 * size, 2 * size]);
  }
  assert.deepEqual(deconvSamePads(32, 5, 2), { pads: [1, 2], outputPadding: 0 });
  // kernel < stride: SAME pads clamp to 0 and output padding makes up the size.
  assert.deepEqual(deconvSamePads(4, 1, 2), { pads: [0, 0], outputPadding: 1 });
});

test('TF SAME deconv differs from PyTorch padding=2, output_padding=1 by a one-pixel shift', () => {
  // Both give 2× size, but they crop differently; this is why bench/dcgan_torch.py crops explicitly.
  const x = randn([1, 1, 4, 4], rng(3));
  const w = randn([1, 1, 5, 5], rng(4));
  const tf = convTranspose2d(x, w, { stride: [2, 2], pads: [1, 1, 2, 2] });
  const pt = convTranspose2d(x, w, { stride: [2, 2], pads: [2, 2, 2, 2], outputPadding: [1, 1] });
  assert.deepEqual(tf.shape, pt.shape);
  // pt[i, j] = tf[i+1, j+1]
  for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) close(pt.data[i * 8 + j]!, tf.data[(i + 1) * 8 + j + 1]!);
  assert.ok(Math.abs(pt.data[0]! - tf.data[0]!) > 1e-6);
});

test('linear, flatten order, concat', () => {
  const y = linear(tensor([1, 2], [1, 2]), tensor([1, 2, 3, 4, 5, 6], [2, 3]), tensor([1, 1, 1], [3]));
  assert.deepEqual([...y.data], [1 + 1 * 1 + 2 * 4, 1 + 2 + 10, 1 + 3 + 12]);
  const f = flatten(tensor([...Array(8).keys()], [2, 2, 1, 2]));
  assert.deepEqual(f.shape, [2, 4]);
  assert.deepEqual([...f.data], [0, 1, 2, 3, 4, 5, 6, 7]);
  const c = concat([tensor([1, 2], [2, 1]), tensor([3, 4, 5, 6], [2, 2])], 1);
  assert.deepEqual([...c.data], [1, 3, 4, 2, 5, 6]);
});

test('batchNormTrain normalizes per channel with batch statistics', () => {
  const x = randn([4, 3, 5, 5], rng(11), 3);
  const y = batchNormTrain(x, tensor([1, 2, 3], [3]), tensor([0, -1, 1], [3]), 1e-5, [0, 2, 3]);
  const { mean, variance } = moments(y, [0, 2, 3]);
  const { variance: vx } = moments(x, [0, 2, 3]);
  for (let c = 0; c < 3; c++) {
    close(mean[c]!, [0, -1, 1][c]!, 1e-12);
    close(variance[c]!, ((c + 1) ** 2 * vx[c]!) / (vx[c]! + 1e-5), 1e-12);
  }
  // Over [N] of an [N, F] input (dense BN): biased variance of [1, 3] is 1.
  const d = batchNormTrain(tensor([1, 3], [2, 1]), tensor([1], [1]), tensor([0], [1]), 0, [0]);
  assert.deepEqual([...d.data], [-1, 1]);
});

test('bceWithLogits and softmaxCrossEntropy equal hand-computed numbers', () => {
  // Terms: log 2; 2 + log(1+e^-2); 3 + log(1+e^-3).
  const bce = bceWithLogits(tensor([0, 2, -3], [3]), tensor([1, 0, 1], [3]));
  close(bce, (0.6931471805599453 + 2.1269280110429727 + 3.048587351573742) / 3, 1e-14);
  close(bceWithLogits(tensor([0], [1]), 1), Math.LN2, 1e-15);
  // No overflow at large logits.
  close(bceWithLogits(tensor([1000], [1]), 0), 1000, 1e-15);
  // Rows: −log softmax([1,2,3])[2] = 0.40760596444437977; −log softmax([0,0,0])[0] = log 3.
  const ce = softmaxCrossEntropy(
    tensor([1, 2, 3, 0, 0, 0], [2, 3]),
    tensor([0, 0, 1, 1, 0, 0], [2, 3]),
  );
  close(ce, (0.40760596444437977 + Math.log(3)) / 2, 1e-14);
  close(logsumexp(tensor([1000, 1000], [1, 2]), 1).data[0]!, 1000 + Math.LN2, 1e-15);
  close(softplus(tensor([-800, 0, 800], [3])).data[1]!, Math.LN2, 1e-15);
  assert.deepEqual([...softplus(tensor([-800, 800], [2])).data], [0, 800]);
});

test('adam first step moves each parameter by about lr·sign(g)', () => {
  const r = rng(5);
  const p = randn([50], r);
  const g = randn([50], r);
  const opts = { lr: 2e-4, beta1: 0.5, beta2: 0.999, eps: 1e-8 };
  const s1 = adamStep(p, g, zeros([50]), zeros([50]), 1, opts);
  for (let i = 0; i < 50; i++) {
    const step = s1.p.data[i]! - p.data[i]!;
    // Exactly −lr·g/(|g|+eps), i.e. lr·sign(g) up to eps/|g|.
    assert.ok(Math.abs(step + opts.lr * Math.sign(g.data[i]!)) <= opts.lr * 1e-4, `step ${step}`);
  }
  // Second step of a scalar by hand: g1 = 1, g2 = −1.
  const a = adamStep(tensor([0], [1]), tensor([1], [1]), zeros([1]), zeros([1]), 1, { ...opts, eps: 0 });
  const b = adamStep(a.p, tensor([-1], [1]), a.m, a.v, 2, { ...opts, eps: 0 });
  // m2 = 0.5·0.5 − 0.5 = −0.25, m̂ = −0.25/0.75; v2 = 0.999·0.001 + 0.001 = 0.001999, v̂ = v2/(1−0.999²).
  const mh = -0.25 / 0.75;
  const vh = 0.001999 / (1 - 0.999 ** 2);
  close(b.p.data[0]!, -2e-4 - (2e-4 * mh) / Math.sqrt(vh), 1e-12);
});

test('DCGAN at 16×16, gf=4: G gives [N,3,16,16] in [−1,1], D gives [N,1]', () => {
  const cfg = { size: 16, gf: 4, df: 4, zdim: 100 };
  const params = initDcganParams(cfg, 3);
  const shapes = dcganParamShapes(cfg);
  assert.deepEqual(shapes['g.h0.w'], [100, 32]);
  assert.deepEqual(shapes['g.h1.w'], [32, 16, 5, 5]);
  assert.deepEqual(shapes['d.h0.w'], [4, 3, 5, 5]);
  assert.deepEqual(shapes['d.h4.w'], [32, 1]);
  const z = uniform([3, 100], rng(4));
  const img = dcganGenerator(z, params, cfg);
  assert.deepEqual(img.shape, [3, 3, 16, 16]);
  assert.ok(img.data.every((v) => v >= -1 && v <= 1 && Number.isFinite(v)));
  assert.ok(Math.max(...img.data) > Math.min(...img.data), 'G output is not constant');
  const { logits, features } = dcganDiscriminator(img, params, cfg);
  assert.deepEqual(logits.shape, [3, 1]);
  assert.deepEqual(features.shape, [3, 32]);
  assert.ok(logits.data.every(Number.isFinite));
});

test('DCGAN at 32×32 with 1 channel: spatial size 2 after the linear layer', () => {
  const cfg = { size: 32, gf: 2, df: 2, zdim: 8, channels: 1 };
  const params = initDcganParams(cfg, 1);
  assert.deepEqual(dcganParamShapes(cfg)['g.h0.w'], [8, 16 * 4]);
  const img = dcganGenerator(uniform([2, 8], rng(2)), params, cfg);
  assert.deepEqual(img.shape, [2, 1, 32, 32]);
  const { logits, features } = dcganDiscriminator(img, params, cfg);
  assert.deepEqual(logits.shape, [2, 1]);
  assert.deepEqual(features.shape, [2, 16 * 4]);
});

test('minibatch discrimination by hand', () => {
  // A=1, B=1, C=1, T=1: M = f; o_i = Σ_{j≠i} exp(−|f_i − f_j|) + bias.
  const y = minibatchDiscrimination(tensor([0, 1, 3], [3, 1]), tensor([1], [1, 1, 1]), tensor([0.5], [1]));
  assert.deepEqual(y.shape, [3, 2]);
  const e = Math.exp;
  const want = [0, e(-1) + e(-3) + 0.5, 1, e(-1) + e(-2) + 0.5, 3, e(-3) + e(-2) + 0.5];
  want.forEach((w, i) => close(y.data[i]!, w, 1e-15));
});

test('K+1 semi-supervised losses by hand', () => {
  // K=2; all logits 0 → lse = log 2.
  const z = tensor([0, 0], [1, 2]);
  const r = sslLosses(z, [1], z, z);
  close(r.lossLab, Math.LN2, 1e-15);
  const sp = Math.log(1 + 2); // softplus(log 2)
  close(r.lossUnl, -0.5 * Math.LN2 + sp, 1e-15);
  close(r.dLoss, r.lossLab + r.lossUnl, 1e-15);
  close(r.gLoss, -sp, 1e-15);
  // lossLab is softmax cross-entropy on the labelled batch.
  const l = tensor([1, 2, 3, 0, 0.5, -1], [2, 3]);
  close(sslLosses(l, [2, 0], z, z).lossLab, softmaxCrossEntropy(l, tensor([0, 0, 1, 1, 0, 0], [2, 3])), 1e-14);
});
