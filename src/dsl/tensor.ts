/** The Tensor a model file works with: a traced value with a static shape, and its operations. */
import { gradients } from '../compiler/autodiff.ts';
import { callSite } from '../compiler/builder.ts';
import type { Value } from '../compiler/ir.ts';
import * as ir from '../compiler/ops/index.ts';
import { currentTrace } from './trace.ts';

export type TensorLike = Tensor | number;

export class Tensor {
  constructor(readonly value: Value) {}

  get shape(): number[] {
    return [...this.value.shape];
  }
  get rank(): number {
    return this.value.shape.length;
  }

  add(o: TensorLike): Tensor { return add(this, o); }
  sub(o: TensorLike): Tensor { return sub(this, o); }
  mul(o: TensorLike): Tensor { return mul(this, o); }
  div(o: TensorLike): Tensor { return div(this, o); }
  neg(): Tensor { return neg(this); }
  abs(): Tensor { return abs(this); }
  exp(): Tensor { return exp(this); }
  log(): Tensor { return log(this); }
  sqrt(): Tensor { return sqrt(this); }
  square(): Tensor { return square(this); }
  sum(axes?: number | number[], keepDims = false): Tensor { return sum(this, axes, keepDims); }
  mean(axes?: number | number[], keepDims = false): Tensor { return mean(this, axes, keepDims); }
  max(axes?: number | number[], keepDims = false): Tensor { return max(this, axes, keepDims); }
  reshape(shape: number[]): Tensor { return reshape(this, shape); }
  flatten(): Tensor { return flatten(this); }
  transpose(perm: number[]): Tensor { return transpose(this, perm); }
}

const b = () => currentTrace().builder;
const val = (x: TensorLike): Value => (typeof x === 'number' ? b().scalar(x) : x.value);
const wrap = (v: Value) => new Tensor(v);
const unary = (op: string) => (x: Tensor) => wrap(b().emit1(op, [x.value]));
const axesOf = (x: Tensor, axes?: number | number[]) =>
  axes === undefined ? x.shape.map((_, i) => i) : (Array.isArray(axes) ? axes : [axes]).map((a) => (a < 0 ? a + x.rank : a));

export const add = (x: TensorLike, y: TensorLike) => wrap(ir.add(b(), val(x), val(y)));
export const sub = (x: TensorLike, y: TensorLike) => wrap(ir.sub(b(), val(x), val(y)));
export const mul = (x: TensorLike, y: TensorLike) => wrap(ir.mul(b(), val(x), val(y)));
export const div = (x: TensorLike, y: TensorLike) => wrap(ir.div(b(), val(x), val(y)));
export const neg = unary('Neg');
export const abs = unary('Abs');
export const exp = unary('Exp');
export const log = unary('Log');
export const sqrt = unary('Sqrt');
export const tanh = unary('Tanh');
export const sigmoid = unary('Sigmoid');
export const softplus = unary('Softplus');
export const relu = unary('Relu');
export const square = (x: Tensor) => mul(x, x);
export const leakyRelu = (x: Tensor, alpha = 0.2) => wrap(b().emit1('LeakyRelu', [x.value], { alpha }));
/** Identity forward, no gradient backward. */
export const stopGradient = unary('StopGradient');

export const sum = (x: Tensor, axes?: number | number[], keepDims = false) => wrap(ir.reduceSum(b(), x.value, axesOf(x, axes), keepDims));
export const mean = (x: Tensor, axes?: number | number[], keepDims = false) => wrap(ir.reduceMean(b(), x.value, axesOf(x, axes), keepDims));
export const max = (x: Tensor, axes?: number | number[], keepDims = false) => wrap(ir.reduceMax(b(), x.value, axesOf(x, axes), keepDims));

export const reshape = (x: Tensor, shape: number[]) => wrap(ir.reshape(b(), x.value, shape));
/** [N, ...] → [N, rest] in row-major (NCHW) order. */
export const flatten = (x: Tensor) => reshape(x, [x.shape[0], -1]);
export const transpose = (x: Tensor, perm: number[]) => wrap(ir.transpose(b(), x.value, perm));
export const concat = (xs: Tensor[], axis: number) => wrap(ir.concat(b(), xs.map((x) => x.value), axis));
export const matmul = (x: Tensor, y: Tensor) => wrap(ir.matmul(b(), x.value, y.value));

/** log Σ exp(x) along `axis`, stable: the max is subtracted (and gets no gradient, since the result does not depend on it). */
export function logsumexp(x: Tensor, axis = -1, keepDims = false): Tensor {
  const m = stopGradient(max(x, axis, true));
  const s = add(log(sum(exp(sub(x, m)), axis, true)), m);
  return keepDims ? s : reshape(s, s.shape.filter((_, i) => i !== axesOf(x, axis)[0]));
}

/** A constant tensor (float32). */
export function constantTensor(data: number[] | Float32Array, shape: number[]): Tensor {
  return wrap(b().constant(Float32Array.from(data), shape));
}

/**
 * ∂(Σ y)/∂x inside a loss, as ordinary graph nodes (PyTorch's `autograd.grad(y.sum(), x, create_graph=True)`): a loss
 * built from the result is differentiated again when ganc takes the step's gradient, which is how gradient penalties
 * (R1, WGAN-GP) train the discriminator. x is any tensor y was computed from: a data input, an intermediate value.
 */
export function grad(y: Tensor, x: Tensor): Tensor;
export function grad(y: Tensor, xs: readonly Tensor[]): Tensor[];
export function grad(y: Tensor, x: Tensor | readonly Tensor[]): Tensor | Tensor[] {
  const xs = x instanceof Tensor ? [x] : x;
  const g = gradients(b(), y.value, xs.map((t) => t.value), callSite(), `grad(y, x): y [${y.shape}]`, `x${xs.length > 1 ? ' (any of them)' : ''}`);
  const out = xs.map((t) => wrap(g.get(t.value)!));
  return x instanceof Tensor ? out[0] : out;
}
