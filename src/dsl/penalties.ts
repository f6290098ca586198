/**
 * Gradient penalties on the discriminator: losses built from ∇ₓD, so training D differentiates a gradient (second
 * order; `grad` in tensor.ts). Both are added to D's loss.
 */
import type { LossContext } from './gan.ts';
import { Tensor, add, flatten, grad, mean, mul, sqrt, square, sub, sum } from './tensor.ts';

/** ‖t_i‖² per sample: t [B, ...] → [B]. */
const squaredNorms = (t: Tensor) => sum(square(flatten(t)), 1);

/**
 * R1 (Mescheder et al. 2018, "Which training methods for GANs do actually converge?"): γ/2 · E‖∇ₓD(x)‖² on the real
 * batch, D(x) its logits (the real batch's forward pass is shared with the adversarial loss).
 */
export function r1Penalty(c: LossContext, gamma = 10): Tensor {
  const g = grad(c.dReal.logits, c.real);
  return mul(mean(squaredNorms(g)), gamma / 2);
}

/**
 * WGAN-GP's penalty (Gulrajani et al. 2017): λ · E(‖∇D(x̂)‖ − 1)² at random interpolates x̂ = ε·x + (1 − ε)·G(z),
 * ε ~ U[0, 1) per sample (the graph input `gp_eps`, fresh each step). Per-sample gradients need a D without batch
 * norm (its samples must not see each other). 1e-12 under the root keeps its gradient finite at ∇ = 0.
 */
export function gradientPenalty(c: LossContext, lambda = 10): Tensor {
  const [batch, ...rest] = c.real.shape;
  const eps = c.uniform('gp_eps', [batch, ...rest.map(() => 1)]);
  const xhat = add(mul(eps, c.real), mul(sub(1, eps), c.fake));
  const norms = sqrt(add(squaredNorms(grad(c.D(xhat).logits, xhat)), 1e-12));
  return mul(mean(square(sub(norms, 1))), lambda);
}
