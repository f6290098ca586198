/**
 * The gradient-check cases: every differentiable op (and the DSL's composite layers and losses) as a small function
 * y = f(x…), with input distributions that keep central differences away from kinks and ties. Shared by the
 * first-order checks (test/gradcheck.test.ts) and the second-order ones (test/gradcheck2.test.ts).
 */
import type { Attrs } from '../../src/compiler/ir.ts';
import {
  Tensor, batchNorm, concat, conv2d, deconv2d, l2, leakyRelu, linear, logsumexp, mul, reshape, sigmoidCrossEntropy,
  softmaxCrossEntropy,
} from '../../src/dsl/index.ts';
import { currentTrace } from '../../src/dsl/trace.ts';
import type { GradCase } from './gradcheck.ts';

/** Emit one IR op directly (the checks target the op table, not the DSL's spelling of it). */
export const op = (name: string, xs: Tensor[], attrs: Attrs = {}) =>
  new Tensor(currentTrace().builder.emit1(name, xs.map((x) => x.value), attrs));
export const conv = (x: Tensor, w: Tensor, strides: number[], pads: number[], dilations: number[]) =>
  op('Conv', [x, w], { strides, pads, dilations });
export const convT = (x: Tensor, w: Tensor, strides: number[], pads: number[], dilations: number[], output_padding: number[]) =>
  op('ConvTranspose', [x, w], { strides, pads, dilations, output_padding });
/** Layers create parameters, which need a network scope. */
export const net = <T>(fn: () => T): T => currentTrace().network('n', fn);

export const cases: GradCase[] = [];
const add = (c: GradCase) => cases.push(c);

// ---- elementwise binary, with broadcasting in both directions ----------------------------------------------------
for (const name of ['Add', 'Sub', 'Mul', 'Div']) {
  const yDist = name === 'Div' ? 'positive' : 'uniform';
  const shapes: [string, number[], number[]][] = [
    ['same', [2, 3], [2, 3]],
    ['y broadcast', [2, 3, 4], [3, 1]],
    ['x broadcast', [4], [2, 3, 4]],
    ['both broadcast', [2, 1, 4], [3, 1]],
  ];
  for (const [what, xs, ys] of shapes) {
    add({ name: `${name} ${what} ${JSON.stringify(xs)}·${JSON.stringify(ys)}`, covers: [name], inputs: { x: xs, y: { shape: ys, dist: yDist } }, fn: ({ x, y }) => op(name, [x, y]) });
  }
}
// Div: a divisor that is the broadcast side with negative values too.
add({ name: 'Div negative divisor', covers: ['Div'], inputs: { x: [3, 4], y: { shape: [3, 1], dist: 'away' } }, fn: ({ x, y }) => op('Div', [x, y]), eps: 2e-3 });

// ---- elementwise unary ------------------------------------------------------------------------------------------
const unaryCases: [string, 'uniform' | 'positive' | 'away' | 'wide', Attrs?][] = [
  ['Neg', 'uniform'], ['Abs', 'away'], ['Exp', 'uniform'], ['Log', 'positive'], ['Sqrt', 'positive'],
  ['Tanh', 'wide'], ['Sigmoid', 'wide'], ['Softplus', 'wide'], ['Relu', 'away'], ['LeakyRelu', 'away', { alpha: 0.2 }],
  ['Identity', 'uniform'],
];
for (const [name, dist, attrs] of unaryCases) {
  add({ name, covers: [name], inputs: { x: { shape: [3, 4, 2], dist } }, fn: ({ x }) => op(name, [x], attrs) });
}
add({ name: 'LeakyRelu alpha 0.01', covers: ['LeakyRelu'], inputs: { x: { shape: [5, 4], dist: 'away' } }, fn: ({ x }) => op('LeakyRelu', [x], { alpha: 0.01 }) });

add({
  name: 'Where (condition broadcast, y broadcast)', covers: ['Where'],
  inputs: { c: { shape: [2, 1], dist: 'away', wrt: false }, x: [2, 3], y: [3] },
  fn: ({ c, x, y }) => op('Where', [op('Greater', [c, new Tensor(currentTrace().builder.scalar(0))]), x, y]),
});
add({
  name: 'Where (x broadcast)', covers: ['Where'],
  inputs: { c: { shape: [2, 3, 4], dist: 'away', wrt: false }, x: [3, 1], y: [2, 3, 4] },
  fn: ({ c, x, y }) => op('Where', [op('Greater', [c, new Tensor(currentTrace().builder.scalar(0))]), x, y]),
});

// ---- reductions -------------------------------------------------------------------------------------------------
for (const name of ['ReduceSum', 'ReduceMean', 'ReduceMax']) {
  for (const axes of [[1], [0, 2], [2], [0, 1, 2]]) {
    for (const keepdims of [0, 1]) {
      add({
        name: `${name} axes [${axes}] keepdims ${keepdims}`, covers: [name],
        inputs: { x: { shape: [2, 3, 4], dist: name === 'ReduceMax' ? 'distinct' : 'uniform' } },
        fn: ({ x }) => op(name, [x], { axes, keepdims }),
        directions: 2, elements: 3,
      });
    }
  }
}

// ---- data movement ----------------------------------------------------------------------------------------------
add({ name: 'Reshape', covers: ['Reshape'], inputs: { x: [2, 3, 4] }, fn: ({ x }) => op('Reshape', [x], { shape: [4, 6] }) });
add({ name: 'Transpose [2,0,1]', covers: ['Transpose'], inputs: { x: [2, 3, 4] }, fn: ({ x }) => op('Transpose', [x], { perm: [2, 0, 1] }) });
add({ name: 'Transpose [1,0,3,2]', covers: ['Transpose'], inputs: { x: [2, 3, 2, 4] }, fn: ({ x }) => op('Transpose', [x], { perm: [1, 0, 3, 2] }) });
add({ name: 'Concat axis 1', covers: ['Concat'], inputs: { a: [2, 1, 3], b: [2, 3, 3], c: [2, 2, 3] }, fn: ({ a, b, c }) => op('Concat', [a, b, c], { axis: 1 }) });
add({ name: 'Concat axis 0 (same input twice)', covers: ['Concat'], inputs: { a: [2, 3], b: [1, 3] }, fn: ({ a, b }) => op('Concat', [a, b, a], { axis: 0 }) });
add({ name: 'Slice two axes', covers: ['Slice'], inputs: { x: [4, 5, 6] }, fn: ({ x }) => op('Slice', [x], { starts: [1, 0], ends: [3, 4], axes: [0, 2] }) });
add({ name: 'Slice one axis to the end', covers: ['Slice'], inputs: { x: [3, 5] }, fn: ({ x }) => op('Slice', [x], { starts: [2], ends: [5], axes: [1] }) });
add({ name: 'Pad asymmetric', covers: ['Pad'], inputs: { x: [2, 3, 4] }, fn: ({ x }) => op('Pad', [x], { pads: [0, 1, 2, 1, 0, 3] }) });
add({ name: 'Expand [3,1]→[2,3,4]', covers: ['Expand'], inputs: { x: [3, 1] }, fn: ({ x }) => op('Expand', [x], { shape: [2, 3, 4] }) });
add({ name: 'Expand [1,4]→[3,4]', covers: ['Expand'], inputs: { x: [1, 4] }, fn: ({ x }) => op('Expand', [x], { shape: [3, 4] }) });

// ---- MatMul, all four transpose combinations ----------------------------------------------------------------------
for (const transA of [0, 1]) {
  for (const transB of [0, 1]) {
    add({
      name: `MatMul transA ${transA} transB ${transB}`, covers: ['MatMul'],
      inputs: { a: transA ? [4, 3] : [3, 4], b: transB ? [5, 4] : [4, 5] },
      fn: ({ a, b }) => op('MatMul', [a, b], { transA, transB }),
    });
  }
}

// Batched, with a 2-D operand broadcast over the batch on either side.
add({ name: 'MatMul batched [3,2,4]·[3,4,5]', covers: ['MatMul'], inputs: { a: [3, 2, 4], b: [3, 4, 5] }, fn: ({ a, b }) => op('MatMul', [a, b], { transA: 0, transB: 0 }) });
add({ name: 'MatMul broadcast [2,4]·[3,4,5]', covers: ['MatMul'], inputs: { a: [2, 4], b: [3, 4, 5] }, fn: ({ a, b }) => op('MatMul', [a, b], { transA: 0, transB: 0 }) });
add({ name: 'MatMul broadcast [3,2,4]·[4,5]', covers: ['MatMul'], inputs: { a: [3, 2, 4], b: [4, 5] }, fn: ({ a, b }) => op('MatMul', [a, b], { transA: 0, transB: 0 }) });
add({ name: 'MatMul 4-D, batch axes broadcast [2,1,3,4]·[3,4,5]', covers: ['MatMul'], inputs: { a: [2, 1, 3, 4], b: [3, 4, 5] }, fn: ({ a, b }) => op('MatMul', [a, b], { transA: 0, transB: 0 }) });

// ---- DepthToSpace / SpaceToDepth ----------------------------------------------------------------------------------
add({ name: 'DepthToSpace blocksize 2', covers: ['DepthToSpace'], inputs: { x: [2, 8, 2, 3] }, fn: ({ x }) => op('DepthToSpace', [x], { blocksize: 2 }) });
add({ name: 'DepthToSpace blocksize 2, CRD order', covers: ['DepthToSpace'], inputs: { x: [2, 8, 2, 3] }, fn: ({ x }) => op('DepthToSpace', [x], { blocksize: 2, mode: 'CRD' }) });
add({ name: 'SpaceToDepth blocksize 2', covers: ['SpaceToDepth'], inputs: { x: [2, 2, 4, 6] }, fn: ({ x }) => op('SpaceToDepth', [x], { blocksize: 2 }) });

// ---- Conv and ConvTranspose -------------------------------------------------------------------------------------
const convCases: [string, number[], number[], number[], number[], number[]][] = [
  // name, x shape, w shape [M, C, kh, kw], strides, pads [t, l, b, r], dilations
  ['stride 1, pads 1', [2, 3, 6, 6], [4, 3, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1]],
  ['stride 2, SAME-style pads [1,1,2,2], k5', [2, 2, 8, 8], [3, 2, 5, 5], [2, 2], [1, 1, 2, 2], [1, 1]],
  ['dilation 2', [1, 2, 7, 7], [3, 2, 3, 3], [1, 1], [2, 2, 2, 2], [2, 2]],
  ['stride 2, floor leaves unused rows (output padding, weight-grad slice)', [2, 2, 8, 8], [3, 2, 3, 3], [2, 2], [0, 0, 0, 0], [1, 1]],
  ['stride 3, two unused rows', [1, 2, 9, 10], [2, 2, 2, 2], [3, 3], [0, 1, 0, 0], [1, 1]],
  ['non-square kernel, strides and dilations', [2, 2, 10, 11], [3, 2, 3, 2], [2, 3], [1, 0, 0, 2], [2, 1]],
  ['VALID 5x5 stride 2 with unused row', [1, 3, 8, 8], [2, 3, 5, 5], [2, 2], [0, 0, 0, 0], [1, 1]],
];
for (const [what, xs, ws, s, p, d] of convCases) {
  add({ name: `Conv ${what}`, covers: ['Conv'], inputs: { x: xs, w: ws }, fn: ({ x, w }) => conv(x, w, s, p, d), directions: 2, elements: 3 });
}
const convTCases: [string, number[], number[], number[], number[], number[], number[]][] = [
  // name, x shape, w shape [C, M, kh, kw], strides, pads, dilations, output_padding
  ['stride 1, pads 1', [2, 3, 5, 5], [3, 2, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], [0, 0]],
  ['stride 2, DCGAN SAME pads [1,1,2,2], k5', [2, 3, 4, 4], [3, 2, 5, 5], [2, 2], [1, 1, 2, 2], [1, 1], [0, 0]],
  ['stride 2, k4, output padding 1', [2, 2, 3, 3], [2, 3, 4, 4], [2, 2], [1, 1, 1, 1], [1, 1], [1, 1]],
  ['dilation 2, stride 2, output padding 1', [1, 2, 4, 4], [2, 2, 3, 3], [2, 2], [1, 1, 1, 1], [2, 2], [1, 1]],
  ['non-square kernel, strides and dilations', [2, 2, 4, 5], [2, 3, 3, 2], [2, 1], [1, 0, 0, 1], [1, 2], [1, 0]],
];
for (const [what, xs, ws, s, p, d, opad] of convTCases) {
  add({ name: `ConvTranspose ${what}`, covers: ['ConvTranspose'], inputs: { x: xs, w: ws }, fn: ({ x, w }) => convT(x, w, s, p, d, opad), directions: 2, elements: 3 });
}

// The optional bias input B (passes/conv_bias.ts moves training graphs' bias Adds there).
add({ name: 'Conv with bias input B, stride 2 k5', covers: ['Conv'], inputs: { x: [2, 2, 8, 8], w: [3, 2, 5, 5], b: [3] }, fn: ({ x, w, b }) => op('Conv', [x, w, b], { strides: [2, 2], pads: [1, 1, 2, 2], dilations: [1, 1] }), directions: 2, elements: 3 });
add({ name: 'ConvTranspose with bias input B, stride 2 k5', covers: ['ConvTranspose'], inputs: { x: [2, 3, 4, 4], w: [3, 2, 5, 5], b: [2] }, fn: ({ x, w, b }) => op('ConvTranspose', [x, w, b], { strides: [2, 2], pads: [1, 1, 2, 2], dilations: [1, 1], output_padding: [1, 1] }), directions: 2, elements: 3 });

// ---- DSL composites -----------------------------------------------------------------------------------------------
add({ name: 'linear (x, w, b)', covers: ['MatMul', 'Add'], inputs: { x: [3, 5] }, fn: ({ x }) => net(() => linear(x, 4)) });
// The weight gradient as an op of its own (second derivatives, e.g. a gradient penalty, go through it).
const convWG = (x: Tensor, g: Tensor, strides: number[], pads: number[], kernel: number[]) =>
  op('ConvWeightGrad', [x, g], { strides, pads, dilations: [1, 1], kernel });
add({ name: 'ConvWeightGrad k3 s2 (floor drops a row)', covers: ['ConvWeightGrad'], inputs: { x: [2, 2, 8, 8], g: [2, 3, 3, 3] }, fn: ({ x, g }) => convWG(x, g, [2, 2], [0, 0, 0, 0], [3, 3]), directions: 2, elements: 3 });
add({ name: 'ConvWeightGrad k5 s2 SAME', covers: ['ConvWeightGrad'], inputs: { x: [2, 2, 6, 6], g: [2, 3, 3, 3] }, fn: ({ x, g }) => convWG(x, g, [2, 2], [1, 1, 2, 2], [5, 5]), directions: 2, elements: 3 });
add({ name: 'conv2d SAME stride 2 k5 (x, w, b)', covers: ['Conv', 'Add', 'Reshape'], inputs: { x: [2, 2, 8, 8] }, fn: ({ x }) => net(() => conv2d(x, 3)), directions: 2, elements: 3 });
add({ name: 'conv2d SAME stride 1 k3 dilation 2', covers: ['Conv'], inputs: { x: [2, 2, 7, 7] }, fn: ({ x }) => net(() => conv2d(x, 2, { kernel: 3, stride: 1, dilation: 2 })), directions: 2, elements: 3 });
add({ name: 'deconv2d SAME stride 2 k5 (x, w, b)', covers: ['ConvTranspose', 'Add', 'Reshape'], inputs: { x: [2, 3, 4, 4] }, fn: ({ x }) => net(() => deconv2d(x, 2)), directions: 2, elements: 3 });
add({ name: 'deconv2d SAME stride 2 k4', covers: ['ConvTranspose'], inputs: { x: [2, 2, 3, 3] }, fn: ({ x }) => net(() => deconv2d(x, 2, { kernel: 4 })), directions: 2, elements: 3 });
add({
  name: 'batchNorm training (x, gamma, beta)', covers: ['BatchNormTrain'],
  inputs: { x: [4, 3, 2, 2] }, fn: ({ x }) => net(() => batchNorm(x)),
  paramDist: (n) => (n.endsWith('gamma') ? 'positive' : 'uniform'),
});
add({ name: 'batchNorm training on [N, F]', covers: ['BatchNormTrain'], inputs: { x: [5, 3] }, fn: ({ x }) => net(() => batchNorm(x)) });
add({ name: 'batchNorm training without γ, β', covers: ['BatchNormTrain'], inputs: { x: [3, 2, 3] }, fn: ({ x }) => net(() => batchNorm(x, { scale: false, offset: false })) });
// The batch statistics as outputs too (their gradient terms), against a loss that uses all three.
add({
  name: 'BatchNormTrain: y, mean and variance all used', covers: ['BatchNormTrain'],
  inputs: { x: [4, 3, 2], g: { shape: [3], dist: 'positive' }, b: [3] },
  fn: ({ x, g, b }) => {
    const [y, m, v] = currentTrace().builder.emit('BatchNormTrain', [x.value, g.value, b.value], { eps: 1e-3, scale: 1, offset: 1 }).map((t) => new Tensor(t));
    return concat([reshape(y, [24]), m, mul(v, 3)], 0);
  },
});
// BN with given statistics (the training op's gradient uses it): all five inputs, on [N, C, H, W] and on [N, C].
for (const x of [[3, 2, 2, 2], [4, 3]]) {
  const C = x[1];
  add({
    name: `BatchNormApply ${JSON.stringify(x)}`, covers: ['BatchNormApply'],
    inputs: { x, s: [C], c: [C], m: [C], v: { shape: [C], dist: 'positive' } },
    fn: ({ x, s, c, m, v }) => op('BatchNormApply', [x, s, c, m, v], { eps: 1e-3 }),
  });
}
add({ name: 'logsumexp last axis', covers: ['ReduceMax', 'Exp', 'Log', 'ReduceSum', 'Reshape'], inputs: { x: { shape: [3, 5], dist: 'wide' } }, fn: ({ x }) => logsumexp(x) });
add({ name: 'logsumexp axis 0 keepdims', covers: ['Exp', 'Log'], inputs: { x: { shape: [4, 3], dist: 'wide' } }, fn: ({ x }) => logsumexp(x, 0, true) });
add({ name: 'sigmoidCrossEntropy target 1', covers: ['Relu', 'Abs', 'Softplus', 'Neg', 'ReduceMean'], inputs: { x: { shape: [4, 1], dist: 'away' } }, fn: ({ x }) => sigmoidCrossEntropy(x, 1) });
add({ name: 'sigmoidCrossEntropy target 0', covers: ['Relu', 'Abs', 'Softplus'], inputs: { x: { shape: [4, 1], dist: 'away' } }, fn: ({ x }) => sigmoidCrossEntropy(x, 0) });
add({
  name: 'sigmoidCrossEntropy soft targets', covers: ['Mul'],
  inputs: { x: { shape: [6, 1], dist: 'away' }, t: { shape: [6, 1], dist: 'positive', wrt: false } },
  fn: ({ x, t }) => sigmoidCrossEntropy(x, mul(t, 0.4)),
});
add({
  name: 'softmaxCrossEntropy', covers: ['ReduceSum', 'ReduceMean'],
  inputs: { x: { shape: [3, 4], dist: 'wide' }, t: { shape: [3, 4], dist: 'positive', wrt: false } },
  fn: ({ x, t }) => softmaxCrossEntropy(x, t),
});
add({ name: 'l2', covers: ['Mul', 'ReduceSum'], inputs: { x: [3, 4] }, fn: ({ x }) => l2(x) });
add({ name: 'leakyRelu (DSL)', covers: ['LeakyRelu'], inputs: { x: { shape: [3, 4], dist: 'away' } }, fn: ({ x }) => leakyRelu(x) });
add({ name: 'concat (DSL, negative axis)', covers: ['Concat'], inputs: { a: [2, 3], b: [2, 2] }, fn: ({ a, b }) => concat([a, b], -1) });
