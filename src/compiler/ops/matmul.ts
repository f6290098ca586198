/** 2-D matrix product with optional transposes (lowered to Gemm, so gradients need no Transpose nodes). */
import type { Builder } from '../builder.ts';
import { type Value, shapeStr } from '../ir.ts';
import { defineOp, ShapeError } from './registry.ts';

function dims(x: Value, trans: boolean): [number, number] {
  return trans ? [x.shape[1], x.shape[0]] : [x.shape[0], x.shape[1]];
}

defineOp('MatMul', {
  label: 'matmul',
  infer: ([a, b], at) => {
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new ShapeError(`expects 2-D operands, got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
    const [m, k] = dims(a, at.transA === 1);
    const [k2, n] = dims(b, at.transB === 1);
    if (k !== k2) throw new ShapeError(`inner sizes differ: ${shapeStr(a.shape)}${at.transA ? 'ᵀ' : ''} × ${shapeStr(b.shape)}${at.transB ? 'ᵀ' : ''} (${k} vs ${k2})`);
    return [{ shape: [m, n], dtype: a.dtype }];
  },
  lower: (n, cx) => {
    const { transA, transB } = n.attrs as { transA: number; transB: number };
    if (!transA && !transB) cx.node('MatMul', n.inputs.map(cx.name), [cx.name(n.outputs[0])]);
    else cx.node('Gemm', n.inputs.map(cx.name), [cx.name(n.outputs[0])], { transA, transB });
  },
  grad: (n, [g], b) => {
    // Y = op(A)·op(B): dop(A) = g·op(B)ᵀ, dop(B) = op(A)ᵀ·g, transposed back where A or B was transposed.
    const [A, B] = n.inputs;
    const tA = n.attrs.transA === 1, tB = n.attrs.transB === 1;
    const dA = tA ? matmul(b, B, g!, tB, true) : matmul(b, g!, B, false, !tB);
    const dB = tB ? matmul(b, g!, A, true, tA) : matmul(b, A, g!, !tA, false);
    return [dA, dB];
  },
  flops: (n) => {
    const [m, k] = dims(n.inputs[0], n.attrs.transA === 1);
    return 2 * m * k * n.outputs[0].shape[1];
  },
});

export const matmul = (b: Builder, x: Value, y: Value, transA = false, transB = false) =>
  b.emit1('MatMul', [x, y], { transA: transA ? 1 : 0, transB: transB ? 1 : 0 });
