/**
 * Batch normalization in training mode, over every axis but the channel axis (1), as one op so that its gradient is
 * the compact closed form instead of what autodiff makes of the composite (about 16 full-size elementwise passes per
 * layer backward, 6 here; 4 forward instead of 5).
 *
 *   inputs  x [N, C, …], and γ [C] if attrs.scale, β [C] if attrs.offset
 *   outputs y (x's shape), the batch mean [C] and biased variance [C] (for the running averages)
 *   y = (x − μ)·γ/√(σ² + ε) + β
 */
import type { Builder } from '../builder.ts';
import { type ConstData, type Shape, type Value, shapeStr } from '../ir.ts';
import { defineOp, ShapeError } from './registry.ts';
import { add, div, mul, neg } from './elementwise.ts';
import { reduceSum } from './reduce.ts';
import { reshape } from './shape.ts';

interface BnAttrs { eps: number; scale: number; offset: number }

const axesOf = (x: Value) => x.shape.map((_, i) => i).filter((i) => i !== 1);
/** [1, C, 1, …]: a per-channel value broadcast against x. */
const channelShape = (x: Value): Shape => x.shape.map((d, i) => (i === 1 ? d : 1));

defineOp('BatchNormTrain', {
  label: 'batchNorm',
  infer: ([x, ...params], a) => {
    const { scale, offset } = a as unknown as BnAttrs;
    if (x.shape.length < 2) throw new ShapeError(`input must have a channel axis, got ${shapeStr(x.shape)}`);
    const C = x.shape[1];
    if (params.length !== scale + offset || params.some((p) => p.shape.length !== 1 || p.shape[0] !== C)) {
      throw new ShapeError(`γ/β must be [${C}] (${scale + offset} of them), got ${params.map((p) => shapeStr(p.shape)).join(', ')}`);
    }
    return [{ shape: x.shape, dtype: x.dtype }, { shape: [C], dtype: x.dtype }, { shape: [C], dtype: x.dtype }];
  },
  lower: (n, cx) => {
    const [x, ...params] = n.inputs;
    const { eps, scale, offset } = n.attrs as unknown as BnAttrs;
    const [y, mean, variance] = n.outputs.map(cx.name);
    const axes = axesOf(x), cshape = cx.ints([x.shape[1]]);
    const t = (hint: string, shape: Shape = channelShape(x)) => cx.fresh(`bn_${hint}`, shape);
    const [m, v] = ['mean', 'var'].map((h) => t(h));
    const [xc, sq] = ['xc', 'sq'].map((h) => t(h, x.shape));
    cx.node('ReduceMean', [cx.name(x)], [m], { axes, keepdims: 1 });
    cx.node('Sub', [cx.name(x), m], [xc]);
    cx.node('Mul', [xc, xc], [sq]);
    cx.node('ReduceMean', [sq], [v], { axes, keepdims: 1 });
    // y by ONNX's BatchNormalization with these statistics: one pass over x, where a Mul and an Add broadcasting a
    // [1, C, 1, 1] value cost ORT 3–4× a plain pass at 2×2 and 4×4 pixels.
    cx.node('Reshape', [m, cshape], [mean]);
    cx.node('Reshape', [v, cshape], [variance]);
    const param = (present: number, i: number, fill: number) => {
      if (present) return cx.name(params[i]);
      const c = cx.fresh(`bn_${fill}`, [x.shape[1]]);
      cx.node('Constant', [], [c], { value: { kind: 'const', dtype: 'float32', shape: [x.shape[1]], data: new Array(x.shape[1]).fill(fill) } satisfies ConstData });
      return c;
    };
    cx.node('BatchNormalization', [cx.name(x), param(scale, 0, 1), param(offset, scale, 0), mean, variance], [y], { epsilon: eps });
  },
  grad: (n, [gy, gMean, gVar], b) => batchNormGrad(b, n.inputs, n.outputs, n.attrs as unknown as BnAttrs, gy, gMean, gVar),
  flops: (n) => 8 * n.inputs[0].size,
});

/**
 * y = s·(x − μ)/√(v + ε) + c per channel with given statistics (ONNX's BatchNormalization, inference mode): inputs
 * x [N, C, …], s, c, μ, v [C]. The training op's gradient uses it as a one-pass per-channel affine map of x.
 */
defineOp('BatchNormApply', {
  infer: ([x, ...rest]) => {
    if (x.shape.length < 2) throw new ShapeError(`input must have a channel axis, got ${shapeStr(x.shape)}`);
    if (rest.length !== 4 || rest.some((p) => p.shape.length !== 1 || p.shape[0] !== x.shape[1])) {
      throw new ShapeError(`scale, bias, mean and variance must be [${x.shape[1]}], got ${rest.map((p) => shapeStr(p.shape)).join(', ')}`);
    }
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  lower: (n, cx) => cx.node('BatchNormalization', n.inputs.map(cx.name), [cx.name(n.outputs[0])], { epsilon: n.attrs.eps as number }),
  grad: (n, [g], b) => {
    if (!g) return [];
    const [x, s, , mu, v] = n.inputs;
    const eps = n.attrs.eps as number;
    const axes = axesOf(x);
    const inv = rsqrt(b, v, eps);
    const sgx = reduceSum(b, mul(b, g, normalize(b, x, mu, v, eps)), axes);
    const sg = reduceSum(b, g, axes);
    const sInv = mul(b, s, inv);
    // ∂y/∂μ = −s/σ, ∂y/∂v = −½·s·x̂/σ²
    return [mul(b, g, perChannel(b, x, sInv)), sgx, sg, neg(b, mul(b, sg, sInv)), mul(b, mul(b, sgx, mul(b, sInv, inv)), b.scalar(-0.5))];
  },
  flops: (n) => 2 * n.inputs[0].size,
});

/** σ = √(v + ε), and 1/σ. */
const stddev = (b: Builder, v: Value, eps: number) => b.emit1('Sqrt', [add(b, v, b.scalar(eps))]);
const rsqrt = (b: Builder, v: Value, eps: number) => div(b, b.scalar(1), stddev(b, v, eps));
const filled = (b: Builder, x: Value, v: number) => b.constant(new Float32Array(x.shape[1]).fill(v), [x.shape[1]]);
const perChannel = (b: Builder, x: Value, v: Value) => reshape(b, v, channelShape(x));
const batchNormApply = (b: Builder, x: Value, s: Value, c: Value, mu: Value, v: Value, eps: number) =>
  b.emit1('BatchNormApply', [x, s, c, mu, v], { eps });
/** x̂ = (x − μ)/√(v + ε). */
const normalize = (b: Builder, x: Value, mu: Value, v: Value, eps: number) => batchNormApply(b, x, filled(b, x, 1), filled(b, x, 0), mu, v, eps);

/**
 * With x̂ = (x − μ)/σ, a = γ/σ, Σ over the reduced axes and n their size:
 *   ∂x = a·g − x̂·a·Σ(g·x̂)/n − a·Σg/n,  ∂γ = Σ(g·x̂),  ∂β = Σg
 * plus, where the batch statistics themselves are used, ∂μ/n and ∂σ²·2σ·x̂/n. Everything but a·g is a per-channel
 * affine map of x̂, so one BatchNormApply pass: ORT's Mul/Sub broadcasting [1, C, 1, 1] cost 3–4× a plain pass at
 * 2×2 and 4×4 pixels.
 */
function batchNormGrad(b: Builder, inputs: readonly Value[], outputs: readonly Value[], attrs: BnAttrs, gy?: Value, gMean?: Value, gVar?: Value): (Value | undefined)[] {
  const [x, ...params] = inputs;
  const [, mean, variance] = outputs;
  const { eps } = attrs;
  const axes = axesOf(x);
  const count = b.scalar(x.size / x.shape[1]);
  let scale: Value | undefined, shift: Value | undefined, ag: Value | undefined;
  let dGamma: Value | undefined, dBeta: Value | undefined;
  const plus = (acc: Value | undefined, v: Value) => (acc ? add(b, acc, v) : v);
  if (gy) {
    const inv = rsqrt(b, variance, eps);
    const a = attrs.scale ? mul(b, params[0], inv) : inv;
    dBeta = reduceSum(b, gy, axes);
    dGamma = reduceSum(b, mul(b, gy, normalize(b, x, mean, variance, eps)), axes);
    ag = mul(b, gy, perChannel(b, x, a));
    scale = neg(b, div(b, mul(b, a, dGamma), count));
    shift = neg(b, div(b, mul(b, a, dBeta), count));
  }
  if (gMean) shift = plus(shift, div(b, gMean, count));
  if (gVar) scale = plus(scale, div(b, mul(b, mul(b, gVar, b.scalar(2)), stddev(b, variance, eps)), count));
  const affine = scale || shift ? batchNormApply(b, x, scale ?? filled(b, x, 0), shift ?? filled(b, x, 0), mean, variance, eps) : undefined;
  const dx = ag && affine ? add(b, ag, affine) : (ag ?? affine);
  return [dx, ...(attrs.scale ? [dGamma] : []), ...(attrs.offset ? [dBeta] : [])];
}

export function batchNormTrain(b: Builder, x: Value, gamma: Value | undefined, beta: Value | undefined, eps: number): Value[] {
  return b.emit('BatchNormTrain', [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])], { eps, scale: gamma ? 1 : 0, offset: beta ? 1 : 0 });
}
