/**
 * Every differentiable op's gradient rule (and the DSL's composite layers and losses) against central finite
 * differences, all numbers computed by onnxruntime-node from the graphs ganc emits. Also: every op with a gradient
 * rule has a check here, the ops marked noGrad really pass no gradient, and every graph uses default-domain ONNX ops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import type { Attrs } from '../src/compiler/ir.ts';
import { allOps, opDef } from '../src/compiler/ops/index.ts';
import { OPSET, toOnnx } from '../src/compiler/onnx.ts';
import { compileGan } from '../src/compiler/compile.ts';
import { variant } from '../src/dsl/gan.ts';
import { GancError } from '../src/errors.ts';
import { dcgan } from '../models/dcgan.ts';
import {
  Tensor, batchNorm, concat, conv2d, deconv2d, l2, leakyRelu, linear, logsumexp, mul, reshape, sigmoidCrossEntropy,
  softmaxCrossEntropy, stopGradient, sum,
} from '../src/dsl/index.ts';
import { currentTrace } from '../src/dsl/trace.ts';
import { gradCheck, type GradCase } from './helpers/gradcheck.ts';
import { buildGraph, runGraph, randomData } from './helpers/run_graph.ts';

/** Emit one IR op directly (the checks target the op table, not the DSL's spelling of it). */
const op = (name: string, xs: Tensor[], attrs: Attrs = {}) =>
  new Tensor(currentTrace().builder.emit1(name, xs.map((x) => x.value), attrs));
const conv = (x: Tensor, w: Tensor, strides: number[], pads: number[], dilations: number[]) =>
  op('Conv', [x, w], { strides, pads, dilations });
const convT = (x: Tensor, w: Tensor, strides: number[], pads: number[], dilations: number[], output_padding: number[]) =>
  op('ConvTranspose', [x, w], { strides, pads, dilations, output_padding });
/** Layers create parameters, which need a network scope. */
const net = <T>(fn: () => T): T => currentTrace().network('n', fn);

/**
 * Tolerances. Measured worst errors over all cases: 4.4e-4 directional (Div: O(ε²) truncation of 1/y), 5e-4 per
 * element. Broken rules injected at run time (opDef(name).grad replaced before this file runs) all fail here: the
 * Sigmoid gradient scaled by 1.05 or written y(1+y), Conv weight-gradient or input-gradient pads with top/bottom
 * swapped, ReduceMean without the 1/n, LeakyRelu with slope 0, a transposed MatMul operand, Div's ∂/∂y sign, Slice's
 * pads reversed, ConvTranspose's weight gradient built as Conv's.
 */
const DIR_TOL = 2e-3;
const ELEM_TOL = 5e-3;

const cases: GradCase[] = [];
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

// ---- DepthToSpace / SpaceToDepth ----------------------------------------------------------------------------------
add({ name: 'DepthToSpace blocksize 2', covers: ['DepthToSpace'], inputs: { x: [2, 8, 2, 3] }, fn: ({ x }) => op('DepthToSpace', [x], { blocksize: 2 }) });
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

// ---- the checks -------------------------------------------------------------------------------------------------

const NO_GRAD = ['Cast', 'Constant', 'Equal', 'Gather', 'Greater', 'Loop', 'Pow', 'Sign', 'StopGradient'];
const onnxSeen: Uint8Array[] = [];

test('every op with a gradient rule has a finite-difference check; noGrad ops are exactly the expected ones', () => {
  const differentiable = allOps().filter((o) => opDef(o).grad);
  const covered = new Set(cases.flatMap((c) => c.covers));
  const missing = differentiable.filter((o) => !covered.has(o));
  assert.deepEqual(missing, [], `ops with a gradient rule but no check in test/gradcheck.test.ts: ${missing.join(', ')}`);
  const noGrad = allOps().filter((o) => opDef(o).noGrad);
  assert.deepEqual(noGrad, NO_GRAD);
  for (const o of allOps()) assert.ok(!!opDef(o).grad !== !!opDef(o).noGrad, `${o} must have either a gradient rule or noGrad`);
});

test('gradient rules match central finite differences', async (t) => {
  const summary: string[] = [];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const r = await gradCheck(c);
      onnxSeen.push(...r.onnx);
      for (const o of c.covers) assert.ok(r.forwardOps.includes(o), `${c.name} claims to cover ${o} but its forward graph has no ${o} (ops: ${[...new Set(r.forwardOps)].join(', ')})`);
      summary.push(`${r.dirErr.toExponential(1)} ${r.elemErr.toExponential(1)} ${c.name}`);
      const msg = `${c.name}:\n  ${r.details.join('\n  ')}`;
      assert.ok(r.dirErr <= DIR_TOL, `directional derivative off by ${r.dirErr.toExponential(2)} (tolerance ${DIR_TOL})\n${msg}`);
      assert.ok(r.elemErr <= ELEM_TOL, `element derivative off by ${r.elemErr.toExponential(2)} (tolerance ${ELEM_TOL})\n${msg}`);
    });
  }
  if (process.env.GANC_GRADCHECK_VERBOSE) console.log(summary.join('\n'));
});

test('ConvTranspose: output padding ≥ stride is a compile error (ONNX Runtime cannot run it)', () => {
  assert.throws(
    () => buildGraph({ x: [1, 2, 4, 4], w: [2, 2, 3, 3] }, ({ x, w }) => ({ y: convT(x, w, [1, 1], [1, 1, 1, 1], [2, 2], [1, 1]) })),
    (e: unknown) => e instanceof GancError && /output padding/.test(e.message),
  );
});

test('the Conv cases exercise output padding and weight-gradient slicing', () => {
  // 8×8, k3, stride 2, no pads: the floor drops one row, so dx needs output padding 1 and dW a slice from 4×4 to 3×3.
  const g = buildGraph({ x: [2, 2, 8, 8], w: [3, 2, 3, 3], r: [2, 3, 3, 3] },
    ({ x, w, r }) => ({ loss: sum(mul(conv(x, w, [2, 2], [0, 0, 0, 0], [1, 1]), r)) }), { grads: ['x', 'w'] });
  const ct = g.nodes.filter((n) => n.op === 'ConvTranspose');
  assert.deepEqual(ct.map((n) => n.attrs.output_padding), [[1, 1]]);
  assert.deepEqual(g.nodes.filter((n) => n.op === 'ConvWeightGrad').map((n) => n.attrs.kernel), [[3, 3]]);
  const onnxOps = onnxProto.onnx.ModelProto.decode(toOnnx(g)).graph!.node!.map((n) => n.opType);
  assert.ok(onnxOps.includes('Slice'), 'the weight gradient (4×4 out of the transposed Conv) is sliced to the 3×3 kernel');
});

test('ReduceMax splits the gradient evenly between tied maxima', async () => {
  const x = Float32Array.from([1, 1, 0, 2, 0, 2, 3, -1, 0]);
  const g = buildGraph({ x: [3, 3] }, ({ x }) => ({ loss: sum(op('ReduceMax', [x], { axes: [1], keepdims: 0 })) }), { grads: ['x'] });
  const out = await runGraph(g, { x });
  assert.deepEqual([...out['grad/x']], [0.5, 0.5, 0, 0.5, 0, 0.5, 1, 0, 0]);
});

test('noGrad ops pass no gradient', async (t) => {
  const scalar = (v: number) => new Tensor(currentTrace().builder.scalar(v));
  const blocked: [string, (x: Tensor) => Tensor][] = [
    ['StopGradient', (x) => stopGradient(x)],
    ['Sign', (x) => op('Sign', [x])],
    ['Greater + Cast', (x) => op('Cast', [op('Greater', [x, scalar(0)])], { to: 'float32' })],
    ['Equal + Cast', (x) => op('Cast', [op('Equal', [x, x])], { to: 'float32' })],
    ['Cast float32 → float32', (x) => op('Cast', [x], { to: 'float32' })],
    ['Pow', (x) => op('Pow', [x, scalar(2)])],
  ];
  const n = 12;
  const x = randomData(n, 7);
  const r1 = randomData(n, 8);
  const r2 = randomData(n, 9);
  for (const [name, f] of blocked) {
    await t.test(name, async () => {
      // loss = Σ x·R1 + Σ f(x)·R2: only the first term may contribute, so ∂loss/∂x = R1 exactly.
      const g = buildGraph({ x: [3, 4], r1: [3, 4], r2: [3, 4] }, ({ x, r1, r2 }) => ({
        loss: sum(mul(x, r1)).add(sum(mul(f(x), r2))),
      }), { grads: ['x'] });
      onnxSeen.push(toOnnx(g));
      const out = await runGraph(g, { x, r1, r2 });
      assert.deepEqual([...out['grad/x']], [...r1]);
    });
  }
  await t.test('a loss reached only through stopGradient has no gradient (an error, not a silent zero)', () => {
    assert.throws(
      () => buildGraph({ x: [3] }, ({ x }) => ({ loss: sum(stopGradient(x)) }), { grads: ['x'] }),
      (e: unknown) => e instanceof GancError && /does not depend/.test(e.message),
    );
  });
  await t.test('logsumexp: no gradient flows through its stopped max', async () => {
    // d/dx logsumexp(x) = softmax(x) exactly; a leak through the max would add a one-hot term.
    const data = Float32Array.from([0.3, -1.2, 2.0, 0.5]);
    const g = buildGraph({ x: [1, 4] }, ({ x }) => ({ loss: sum(logsumexp(x)) }), { grads: ['x'] });
    const out = await runGraph(g, { x: data });
    const e = [...data].map(Math.exp);
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((v, i) => assert.ok(Math.abs(out['grad/x'][i] - v / z) < 1e-6, `softmax[${i}]`));
  });
});

/** The ai.onnx operators (opset ≤ 17) a ganc graph may contain. */
const ONNX_OPS = new Set([
  'Abs', 'Add', 'Cast', 'Concat', 'Constant', 'Conv', 'ConvTranspose', 'Div', 'Equal', 'Exp', 'Expand', 'Gemm',
  'Greater', 'Identity', 'LeakyRelu', 'Log', 'MatMul', 'Mul', 'Neg', 'Pad', 'Pow', 'ReduceMax', 'ReduceMean',
  'ReduceSum', 'Relu', 'Reshape', 'Sigmoid', 'Sign', 'Slice', 'Softplus', 'Sqrt', 'Sub', 'Tanh', 'Transpose', 'Where',
  'DepthToSpace', 'SpaceToDepth', 'Flatten', 'Squeeze', 'Unsqueeze', 'Max', 'Min', 'Clip', 'Not', 'And', 'Less',
]);

test('every graph built above, and the compiled DCGAN steps, use only default-domain ONNX ops at opset 17', () => {
  assert.ok(onnxSeen.length > cases.length, 'the gradient checks ran first and recorded their graphs');
  const tiny = compileGan(variant(dcgan({ size: 16, gf: 4, df: 4, channels: 3 }), { batch: 4 }), { emitGrads: true });
  assert.deepEqual(tiny.graphs.map((g) => g.name).sort(), ['d_step', 'g_step', 'generate']);
  onnxSeen.push(...tiny.graphs.map((g) => toOnnx(g)));
  const { onnx } = onnxProto;
  const types = new Set<string>();
  for (const bytes of onnxSeen) {
    const m = onnx.ModelProto.decode(bytes);
    assert.deepEqual(m.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', OPSET]]);
    for (const n of m.graph?.node ?? []) {
      const opType = n.opType ?? '';
      assert.ok(!n.domain || n.domain === 'ai.onnx', `node ${n.name} (${opType}) in domain ${n.domain}`);
      assert.ok(ONNX_OPS.has(opType), `node ${n.name}: ${opType} is not a standard op ganc is expected to emit`);
      types.add(opType);
    }
  }
  // The gradient graphs exercised the lowering of the interesting ops.
  for (const o of ['Conv', 'ConvTranspose', 'Gemm', 'Where', 'Pad', 'Slice', 'Expand']) assert.ok(types.has(o), `no ${o} emitted`);
});
