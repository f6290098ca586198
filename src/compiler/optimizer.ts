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

/** `step` is the number of updates done so far (float scalar); the update uses t = step + 1. */
export function adamUpdate(b: Builder, cfg: AdamConfig, step: Value, slots: readonly AdamSlot[]): AdamResult {
  const t = add(b, step, b.scalar(1));
  const bias1 = sub(b, b.scalar(1), b.emit1('Pow', [b.scalar(cfg.beta1), t]));
  const bias2 = sub(b, b.scalar(1), b.emit1('Pow', [b.scalar(cfg.beta2), t]));
  // lr / (1−β1ᵗ) and 1/√(1−β2ᵗ) are scalars: computing them once keeps the per-element work to a few ops.
  const stepSize = div(b, b.scalar(cfg.lr), bias1);
  const invSqrtBias2 = div(b, b.scalar(1), b.emit1('Sqrt', [bias2]));
  const updates = slots.map(({ param, grad, m, v }) => {
    const m2 = add(b, mul(b, m, b.scalar(cfg.beta1)), mul(b, grad, b.scalar(1 - cfg.beta1)));
    const v2 = add(b, mul(b, v, b.scalar(cfg.beta2)), mul(b, mul(b, grad, grad), b.scalar(1 - cfg.beta2)));
    const denom = add(b, mul(b, b.emit1('Sqrt', [v2]), invSqrtBias2), b.scalar(cfg.eps));
    const p2 = sub(b, param, mul(b, div(b, m2, denom), stepSize));
    return { param: p2, m: m2, v: v2 };
  });
  return { step: t, updates };
}
