/**
 * Matrix product: 2-D with optional transposes (lowered to Gemm, so gradients need no Transpose nodes), or batched
 * over leading axes that broadcast as in numpy (ONNX MatMul; the conv forms of passes/conv_forms.ts use it).
 */
import type { Builder } from '../builder.ts';
import { type Value, shapeStr } from '../ir.ts';
import { defineOp, ShapeError } from './registry.ts';
import { broadcastShapes, sumToShape } from './elementwise.ts';
import { transpose } from './shape.ts';

function dims(x: Value, trans: boolean): [number, number] {
  const [r, c] = x.shape.slice(-2);
  return trans ? [c, r] : [r, c];
}

/** The batch axes of a batched product: both operands' leading axes, broadcast ([] when both are 2-D). */
function batchOf(a: Value, b: Value): number[] {
  return [...broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2))];
}

defineOp('MatMul', {
  label: 'matmul',
  infer: ([a, b], at) => {
    const ranks = [a.shape.length, b.shape.length];
    if (ranks.some((r) => r < 2)) throw new ShapeError(`expects operands of at least 2 axes, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
    const batched = ranks.some((r) => r > 2);
    if (batched && (at.transA || at.transB)) throw new ShapeError('transposed operands are 2-D only');
    const [m, k] = dims(a, at.transA === 1);
    const [k2, n] = dims(b, at.transB === 1);
    if (k !== k2) throw new ShapeError(`inner sizes differ: ${shapeStr(a.shape)}${at.transA ? 'ᵀ' : ''} × ${shapeStr(b.shape)}${at.transB ? 'ᵀ' : ''} (${k} vs ${k2})`);
    return [{ shape: [...batchOf(a, b), m, n], dtype: a.dtype }];
  },
  lower: (n, cx) => {
    const { transA, transB } = n.attrs as { transA: number; transB: number };
    if (!transA && !transB) cx.node('MatMul', n.inputs.map(cx.name), [cx.name(n.outputs[0])]);
    else cx.node('Gemm', n.inputs.map(cx.name), [cx.name(n.outputs[0])], { transA, transB });
  },
  grad: (n, [g], b) => {
    // Y = op(A)·op(B): dop(A) = g·op(B)ᵀ, dop(B) = op(A)ᵀ·g, transposed back where A or B was transposed.
    const [A, B] = n.inputs;
    if (n.outputs[0].shape.length > 2) {
      // Batched: the same with explicit transposes of the last two axes; a broadcast operand sums over the batch.
      const t = (v: Value) => transpose(b, v, [...Array(v.shape.length - 2).keys(), v.shape.length - 1, v.shape.length - 2]);
      return [sumToShape(b, matmul(b, g!, t(B)), A.shape), sumToShape(b, matmul(b, t(A), g!), B.shape)];
    }
    const tA = n.attrs.transA === 1, tB = n.attrs.transB === 1;
    const dA = tA ? matmul(b, B, g!, tB, true) : matmul(b, g!, B, false, !tB);
    const dB = tB ? matmul(b, g!, A, true, tA) : matmul(b, A, g!, !tA, false);
    return [dA, dB];
  },
  flops: (n) => {
    const [m, k] = dims(n.inputs[0], n.attrs.transA === 1);
    const y = n.outputs[0];
    return 2 * m * k * y.size / y.shape[y.shape.length - 2];
  },
});

export const matmul = (b: Builder, x: Value, y: Value, transA = false, transB = false) =>
  b.emit1('MatMul', [x, y], { transA: transA ? 1 : 0, transB: transB ? 1 : 0 });
