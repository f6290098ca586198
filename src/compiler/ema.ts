/**
 * An exponential moving average of weights as graph nodes, taken after the optimizer's update (Polyak averaging as
 * GAN training uses it: Yazıcı et al. 2019; Karras et al. 2018):
 *   ema' = d·ema + (1 − d)·param',  d = decay, or with warmup min(decay, (1 + t)/(10 + t)), t = 1, 2, … the update's
 * number (TensorFlow's ExponentialMovingAverage with num_updates).
 */
import type { Builder } from './builder.ts';
import type { Value } from './ir.ts';
import { add, div, mul, sub } from './ops/elementwise.ts';

export interface EmaConfig {
  decay: number;
  warmup: boolean;
}

/** New averages for `slots` (each the updated parameter and its average so far); `t` is the update's number. */
export function emaUpdate(b: Builder, cfg: EmaConfig, t: Value, slots: readonly { param: Value; ema: Value }[]): Value[] {
  let d = b.scalar(cfg.decay);
  if (cfg.warmup) {
    const ramp = div(b, add(b, t, b.scalar(1)), add(b, t, b.scalar(10)));
    d = b.emit1('Where', [b.emit1('Greater', [ramp, d]), d, ramp]);
  }
  const keep = sub(b, b.scalar(1), d);
  return slots.map(({ param, ema }) => add(b, mul(b, ema, d), mul(b, param, keep)));
}
