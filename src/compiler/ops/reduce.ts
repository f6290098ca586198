/** Reductions over static axes. */
import type { Builder } from '../builder.ts';
import { type Shape, type Value, numel, shapeStr } from '../ir.ts';
import { defineOp, ShapeError } from './registry.ts';
import { mul, div } from './elementwise.ts';
import { reshape, expand } from './shape.ts';

function reducedShape(shape: Shape, axes: number[], keep: boolean): Shape {
  return keep ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

function checkAxes(x: Value, axes: number[]): void {
  for (const a of axes) if (!Number.isInteger(a) || a < 0 || a >= x.shape.length) {
    throw new ShapeError(`axis ${a} out of range for shape ${shapeStr(x.shape)}`);
  }
}

/** Broadcast a reduced gradient back to the input's shape. */
function unreduce(b: Builder, g: Value, x: Value, axes: number[], keep: boolean): Value {
  const kept = keep ? g : reshape(b, g, reducedShape(x.shape, axes, true));
  return expand(b, kept, x.shape);
}

function count(x: Value, axes: number[]): number {
  return axes.reduce((n, a) => n * x.shape[a], 1);
}

function reduction(name: string, grad: Parameters<typeof defineOp>[1]['grad'], fold?: (vals: number[]) => number): void {
  defineOp(name, {
    infer: ([x], a) => {
      const axes = a.axes as number[];
      checkAxes(x, axes);
      return [{ shape: reducedShape(x.shape, axes, a.keepdims === 1), dtype: x.dtype }];
    },
    lower: (n, cx) => {
      const axes = n.attrs.axes as number[];
      // Opset 17: ReduceSum takes axes as an input, ReduceMean/ReduceMax as an attribute.
      if (name === 'ReduceSum') cx.node(name, [cx.name(n.inputs[0]), cx.ints(axes)], [cx.name(n.outputs[0])], { keepdims: n.attrs.keepdims as number });
      else cx.node(name, [cx.name(n.inputs[0])], [cx.name(n.outputs[0])], { axes, keepdims: n.attrs.keepdims as number });
    },
    grad,
    fold: fold && ((ins, a, out) => {
      const x = ins[0];
      if (x.dtype !== 'float32' || numel(x.shape) > 65536) return undefined;
      const axes = a.axes as number[];
      const outData = new Float32Array(numel(out.shape));
      const groups: number[][] = Array.from({ length: outData.length }, () => []);
      const shape = x.shape;
      for (let flat = 0; flat < numel(shape); flat++) {
        let rem = flat, o = 0, stride = 1;
        for (let d = shape.length - 1; d >= 0; d--) {
          const c = rem % shape[d];
          rem = Math.floor(rem / shape[d]);
          if (!axes.includes(d)) { o += c * stride; stride *= shape[d]; }
        }
        groups[o].push(x.data[flat]);
      }
      groups.forEach((vals, i) => (outData[i] = fold(vals)));
      return { kind: 'const', dtype: 'float32', shape: out.shape, data: outData };
    }),
    flops: (n) => n.inputs[0].size,
  });
}

reduction('ReduceSum', (n, [g], b) => [unreduce(b, g!, n.inputs[0], n.attrs.axes as number[], n.attrs.keepdims === 1)],
  (v) => v.reduce((s, x) => s + x, 0));
reduction('ReduceMean', (n, [g], b) => {
  const x = n.inputs[0];
  const axes = n.attrs.axes as number[];
  return [div(b, unreduce(b, g!, x, axes, n.attrs.keepdims === 1), b.scalar(count(x, axes)))];
}, (v) => v.reduce((s, x) => s + x, 0) / v.length);
reduction('ReduceMax', (n, [g], b) => {
  // Gradient goes to the maxima, split evenly between ties.
  const x = n.inputs[0];
  const axes = n.attrs.axes as number[];
  const keep = n.attrs.keepdims === 1;
  const y = unreduce(b, n.outputs[0], x, axes, keep);
  const mask = b.emit1('Cast', [b.emit1('Equal', [x, y])], { to: 'float32' });
  const ties = unreduce(b, reduceSum(b, mask, axes, true), x, axes, true);
  return [div(b, mul(b, mask, unreduce(b, g!, x, axes, keep)), ties)];
}, (v) => Math.max(...v));

function normAxes(x: Value, axes: number[]): number[] {
  return [...new Set(axes.map((a) => (a < 0 ? a + x.shape.length : a)))].sort((p, q) => p - q);
}

export const reduceSum = (b: Builder, x: Value, axes: number[], keep = false) =>
  b.emit1('ReduceSum', [x], { axes: normAxes(x, axes), keepdims: keep ? 1 : 0 });
export const reduceMean = (b: Builder, x: Value, axes: number[], keep = false) =>
  b.emit1('ReduceMean', [x], { axes: normAxes(x, axes), keepdims: keep ? 1 : 0 });
export const reduceMax = (b: Builder, x: Value, axes: number[], keep = false) =>
  b.emit1('ReduceMax', [x], { axes: normAxes(x, axes), keepdims: keep ? 1 : 0 });
