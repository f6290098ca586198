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
import { add, div, mul, sub } from './elementwise.ts';
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
    const axes = axesOf(x), bshape = cx.ints(channelShape(x)), cshape = cx.ints([x.shape[1]]);
    const t = (hint: string, shape: Shape = channelShape(x)) => cx.fresh(`bn_${hint}`, shape);
    const [m, v, ve, sd] = ['mean', 'var', 'var_eps', 'sd'].map((h) => t(h));
    const [xc, sq] = ['xc', 'sq'].map((h) => t(h, x.shape));
    cx.node('ReduceMean', [cx.name(x)], [m], { axes, keepdims: 1 });
    cx.node('Sub', [cx.name(x), m], [xc]);
    cx.node('Mul', [xc, xc], [sq]);
    cx.node('ReduceMean', [sq], [v], { axes, keepdims: 1 });
    const epsName = t('eps', []);
    cx.node('Constant', [], [epsName], { value: { kind: 'const', dtype: 'float32', shape: [], data: [eps] } satisfies ConstData });
    cx.node('Add', [v, epsName], [ve]);
    cx.node('Sqrt', [ve], [sd]);
    // γ/σ per channel first, so that normalizing and scaling is one pass over x.
    let normed = offset ? t('scaled', x.shape) : y;
    if (scale) {
      const g = t('gamma'), s = t('scale');
      cx.node('Reshape', [cx.name(params[0]), bshape], [g]);
      cx.node('Div', [g, sd], [s]);
      cx.node('Mul', [xc, s], [normed]);
    } else cx.node('Div', [xc, sd], [normed]);
    if (offset) {
      const beta = t('beta');
      cx.node('Reshape', [cx.name(params[scale]), bshape], [beta]);
      cx.node('Add', [normed, beta], [y]);
    }
    cx.node('Reshape', [m, cshape], [mean]);
    cx.node('Reshape', [v, cshape], [variance]);
  },
  grad: (n, [gy, gMean, gVar], b) => batchNormGrad(b, n.inputs, n.outputs, n.attrs as unknown as BnAttrs, gy, gMean, gVar),
  flops: (n) => 8 * n.inputs[0].size,
});

/**
 * With x̂ = (x − μ)/σ, a = γ/σ, Σ over the reduced axes and n their size:
 *   ∂x = a·g − (x − μ)·(a·Σ(g·(x − μ))/(n·σ²)) − a·Σg/n,  ∂γ = Σ(g·(x − μ))/σ,  ∂β = Σg
 * plus, where the batch statistics themselves are used, ∂μ/n and ∂σ²·2(x − μ)/n.
 */
function batchNormGrad(b: Builder, inputs: readonly Value[], outputs: readonly Value[], attrs: BnAttrs, gy?: Value, gMean?: Value, gVar?: Value): (Value | undefined)[] {
  const [x, ...params] = inputs;
  const [, mean, variance] = outputs;
  const axes = axesOf(x);
  const count = x.size / x.shape[1];
  const perChannel = (v: Value) => reshape(b, v, channelShape(x));
  const xc = sub(b, x, perChannel(mean));
  const inv = div(b, b.scalar(1), b.emit1('Sqrt', [add(b, variance, b.scalar(attrs.eps))]));
  const a = attrs.scale ? mul(b, params[0], inv) : inv;
  let dx: Value | undefined;
  let dGamma: Value | undefined, dBeta: Value | undefined;
  if (gy) {
    const s1 = reduceSum(b, gy, axes);
    const s2 = reduceSum(b, mul(b, gy, xc), axes);
    const k = div(b, mul(b, mul(b, a, mul(b, inv, inv)), s2), b.scalar(count));
    const c = div(b, mul(b, a, s1), b.scalar(count));
    dx = sub(b, sub(b, mul(b, gy, perChannel(a)), mul(b, xc, perChannel(k))), perChannel(c));
    dGamma = mul(b, s2, inv);
    dBeta = s1;
  }
  const plus = (v: Value) => (dx ? add(b, dx, v) : v);
  if (gMean) dx = plus(b.emit1('Expand', [perChannel(div(b, gMean, b.scalar(count)))], { shape: [...x.shape] }));
  if (gVar) dx = plus(mul(b, xc, perChannel(div(b, mul(b, gVar, b.scalar(2)), b.scalar(count)))));
  return [dx, ...(attrs.scale ? [dGamma] : []), ...(attrs.offset ? [dBeta] : [])];
}

export function batchNormTrain(b: Builder, x: Value, gamma: Value | undefined, beta: Value | undefined, eps: number): Value[] {
  return b.emit('BatchNormTrain', [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : [])], { eps, scale: gamma ? 1 : 0, offset: beta ? 1 : 0 });
}
