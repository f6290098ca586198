/**
 * Every differentiable op's gradient rule (and the DSL's composite layers and losses) against central finite
 * differences, all numbers computed by onnxruntime-node from the graphs ganc emits. Also: every op with a gradient
 * rule has a check here, the ops marked noGrad really pass no gradient, and every graph uses default-domain ONNX ops.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import { allOps, opDef } from '../src/compiler/ops/index.ts';
import { OPSET, toOnnx } from '../src/compiler/onnx.ts';
import { compileGan } from '../src/compiler/compile.ts';
import { variant } from '../src/dsl/gan.ts';
import { GancError } from '../src/errors.ts';
import { dcgan } from '../models/dcgan.ts';
import { Tensor, logsumexp, mul, stopGradient, sum } from '../src/dsl/index.ts';
import { currentTrace } from '../src/dsl/trace.ts';
import { gradCheck } from './helpers/gradcheck.ts';
import { cases, convT, conv, op } from './helpers/grad_cases.ts';
import { buildGraph, runGraph, randomData } from './helpers/run_graph.ts';

/**
 * Tolerances. Measured worst errors over all cases: 4.4e-4 directional (Div: O(ε²) truncation of 1/y), 5e-4 per
 * element. Broken rules injected at run time (opDef(name).grad replaced before this file runs) all fail here: the
 * Sigmoid gradient scaled by 1.05 or written y(1+y), Conv weight-gradient or input-gradient pads with top/bottom
 * swapped, ReduceMean without the 1/n, LeakyRelu with slope 0, a transposed MatMul operand, Div's ∂/∂y sign, Slice's
 * pads reversed, ConvTranspose's weight gradient built as Conv's.
 */
const DIR_TOL = 2e-3;
const ELEM_TOL = 5e-3;

// ---- the checks -------------------------------------------------------------------------------------------------

const NO_GRAD = ['Cast', 'Constant', 'Equal', 'Gather', 'Greater', 'Loop', 'Pow', 'Scan', 'Sign', 'StopGradient'];
const onnxSeen: Uint8Array[] = [];

test('every op with a gradient rule has a finite-difference check; noGrad ops are exactly the expected ones', () => {
  const differentiable = allOps().filter((o) => opDef(o).grad);
  const covered = new Set(cases.flatMap((c) => c.covers));
  const missing = differentiable.filter((o) => !covered.has(o));
  assert.deepEqual(missing, [], `ops with a gradient rule but no case in test/helpers/grad_cases.ts: ${missing.join(", ")}`);
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
  'DepthToSpace', 'SpaceToDepth', 'Flatten', 'Squeeze', 'Unsqueeze', 'Max', 'Min', 'Clip', 'Not', 'And', 'Less', 'Gather',
  'BatchNormalization', 'Scan',
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
