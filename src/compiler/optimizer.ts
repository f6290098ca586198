/**
 * Adam as graph nodes (PyTorch's form): params, m, v and a step counter in; updated values out.
 *   m' = β1·m + (1−β1)·g,  v' = β2·v + (1−β2)·g²,  p' = p − lr·(m'/(1−β1ᵗ)) / (√(v'/(1−β2ᵗ)) + ε)
 */
import type { Builder } from './builder.ts';
import type { Value } from './ir.ts';
import { add, div, mul, sub } from './ops/elementwise.ts';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export interface AdamSlot {
  param: Value;
  grad: Value;
  m: Value;
  v: Value;
}

export interface AdamResult {
  step: Value;
  updates: { param: Value; m: Value; v: Value }[];
}

/**
 * 1 − βᵗ without cancellation. In float32, 1 − Pow(0.999, t) keeps only a few digits (≈1e-5 relative error at t = 1,
 * so the update is off by ≈6e-6 from PyTorch, which computes it in float64). Instead −expm1(y) with y = t·ln β, and
 * ONNX has no Expm1: −expm1(y) = −2·tanh(y/2) / (1 − tanh(y/2)), accurate to a few float32 ulps for any t.
 */
function oneMinusPow(b: Builder, beta: number, t: Value): Value {
  if (beta === 0) return b.scalar(1);
  const th = b.emit1('Tanh', [mul(b, t, b.scalar(Math.log(beta) / 2))]);
  return div(b, mul(b, th, b.scalar(-2)), sub(b, b.scalar(1), th));
}

/** `step` is the number of updates done so far (float scalar); the update uses t = step + 1. */
export function adamUpdate(b: Builder, cfg: AdamConfig, step: Value, slots: readonly AdamSlot[]): AdamResult {
  const t = add(b, step, b.scalar(1));
  const bias1 = oneMinusPow(b, cfg.beta1, t);
  const bias2 = oneMinusPow(b, cfg.beta2, t);
  // The bias corrections are scalars, folded into two per-step constants so that the per-element work is 12 passes:
  // lr·m̂/(√v̂ + ε) = (lr·√(1−β2ᵗ)/(1−β1ᵗ))·m'/(√v' + ε·√(1−β2ᵗ)).
  const sqrtBias2 = b.emit1('Sqrt', [bias2]);
  const stepSize = div(b, mul(b, b.scalar(cfg.lr), sqrtBias2), bias1);
  const eps = mul(b, b.scalar(cfg.eps), sqrtBias2);
  const updates = slots.map(({ param, grad, m, v }) => {
    const m2 = add(b, mul(b, m, b.scalar(cfg.beta1)), mul(b, grad, b.scalar(1 - cfg.beta1)));
    // ((1−β2)·g)·g, PyTorch's addcmul order; and not g·g: ORT's transpose optimizer moves a Transpose shared by both
    // moments (a weight gradient laid out tap-major, passes/conv_forms.ts) below Mul(g, g), transposing twice.
    const v2 = add(b, mul(b, v, b.scalar(cfg.beta2)), mul(b, mul(b, grad, b.scalar(1 - cfg.beta2)), grad));
    const p2 = sub(b, param, mul(b, div(b, m2, add(b, b.emit1('Sqrt', [v2]), eps)), stepSize));
    return { param: p2, m: m2, v: v2 };
  });
  return { step: t, updates };
}
