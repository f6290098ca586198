/**
 * Reusable blocks for the tricks of "Improved Techniques for Training GANs" (Salimans et al., 2016), as the reference
 * code (openai/improved-gan) and the seed have them: feature matching, minibatch discrimination, the K+1
 * semi-supervised losses, and a classification accuracy metric.
 */
import { GancError } from '../errors.ts';
import { callSite } from '../compiler/builder.ts';
import * as ir from '../compiler/ops/index.ts';
import type { DOutput, LossContext } from './gan.ts';
import { type Init, normal } from './init.ts';
import { layer, parameter } from './layers.ts';
import { l2 } from './losses.ts';
import { Tensor, abs, concat, exp, logsumexp, matmul, max, mean, mul, neg, reshape, softplus, sub, sum } from './tensor.ts';
import { currentTrace } from './trace.ts';

// ---- feature matching -------------------------------------------------------------------------------------------

/** A named feature of a discriminator output, with an error naming the ones there are. */
export function feature(out: DOutput, name: string): Tensor {
  const f = out.features[name];
  if (!f) throw new GancError(`the discriminator returns no feature '${name}' (it has: ${Object.keys(out.features).join(', ') || 'none'})`, callSite());
  return f;
}

/** Batch means of two tensors [B, ...], subtracted: mean_b(a) − mean_b(b). */
export const batchMeanDiff = (a: Tensor, b: Tensor) => sub(mean(a, 0), mean(b, 0));

/**
 * Feature-matching loss between real and fake features [B, ...]:
 * - 'abs' (openai/improved-gan): mean |E[f(x)] − E[f(G(z))]| over the features;
 * - 'l2' (the seed, tf.nn.l2_loss): Σ (E[f(G(z))] − E[f(x)])² / 2.
 */
export function featureMatchingLoss(real: Tensor, fake: Tensor, form: 'abs' | 'l2' = 'abs'): Tensor {
  if (real.shape.slice(1).join() !== fake.shape.slice(1).join()) {
    throw new GancError(`featureMatchingLoss: real features [${real.shape}] and fake features [${fake.shape}] differ`, callSite());
  }
  return form === 'l2' ? l2(batchMeanDiff(fake, real)) : mean(abs(batchMeanDiff(real, fake)));
}

/**
 * The seed's feature-matching term (added to the usual G loss):
 * weight·l2(E[G(z)] − E[x]) + weight·l2(E[f(G(z))] − E[f(x)]), f = the discriminator feature `name`.
 */
export function seedFeatureMatching(c: LossContext, { weight = 0.1, name = 'penultimate' } = {}): Tensor {
  const pixels = featureMatchingLoss(c.real, c.fake, 'l2');
  const feats = featureMatchingLoss(feature(c.dReal, name), feature(c.dFake, name), 'l2');
  return mul(pixels, weight).add(mul(feats, weight));
}

// ---- minibatch discrimination ---------------------------------------------------------------------------------

export interface MinibatchOptions {
  /** B: number of kernels (default 100, as the reference). */
  kernels?: number;
  /** C: dimensions per kernel (default 5). */
  dims?: number;
  name?: string;
  /** Init of T [A, B·C]. Default N(0, 1/√A): the scale of the reference's weight-normalized T (unit columns), so that
   * distances ‖M_i − M_j‖₁ start O(1) instead of saturating exp(−·) to 0 (N(0, 0.05) does that for A in the thousands). */
  init?: Init;
}

/**
 * Minibatch discrimination (Salimans et al. 2016, §3.2). x: [N, A] or a feature map [N, C, H, W] (A = C·H·W).
 * M_i = f(x_i)·T ∈ R^{B×C}; c_b(i,j) = exp(−‖M_{i,b} − M_{j,b}‖₁); o(x_i)_b = Σ_{j≠i} c_b(i,j) (self excluded by
 * subtracting c_b(i,i) = exp(0) = 1, as the reference's +1e6 on the diagonal distance).
 * Returns concat[x, o(x)] along axis 1; for a feature map o is broadcast over the spatial positions as B extra channels.
 */
export function minibatchDiscrimination(x: Tensor, opts: MinibatchOptions = {}): Tensor {
  for (const k of Object.keys(opts)) {
    if (!['kernels', 'dims', 'name', 'init'].includes(k)) throw new GancError(`minibatchDiscrimination: unknown option '${k}' (known: kernels, dims, name, init)`, callSite());
  }
  const { kernels: B = 100, dims: C = 5 } = opts;
  return layer('minibatch_discrimination', opts.name, () => {
    if (x.rank !== 2 && x.rank !== 4) throw new GancError(`minibatchDiscrimination: input must be [N, A] or [N, C, H, W], got [${x.shape}]`, callSite());
    const o = minibatchFeatures(x, B, C, opts.init);
    if (x.rank === 2) return concat([x, o], 1);
    const [n, , h, w] = x.shape;
    const map = new Tensor(ir.expand(currentTrace().builder, reshape(o, [n, B, 1, 1]).value, [n, B, h, w]));
    return concat([x, map], 1);
  });
}

/** o(x) [N, B] alone (inside a layer scope: creates the parameter T). */
function minibatchFeatures(x: Tensor, B: number, C: number, init?: Init): Tensor {
  const n = x.shape[0];
  const f = reshape(x, [n, -1]);
  const A = f.shape[1];
  const T = parameter('T', [A, B * C], init ?? normal(1 / Math.sqrt(A)));
  const M = reshape(matmul(f, T), [n, B, C]);
  const dist = sum(abs(sub(reshape(M, [n, 1, B, C]), reshape(M, [1, n, B, C]))), 3); // [N, N, B]
  return sub(sum(exp(neg(dist)), 1), 1); // Σ_j c_b(i, j) − c_b(i, i)
}

// ---- semi-supervised K+1 --------------------------------------------------------------------------------------

/** −mean(l[label]) + mean(lse(l)): cross-entropy over the K real classes (logits [N, K], one-hot [N, K]). */
export function kPlusOneLabelledLoss(logits: Tensor, onehot: Tensor): Tensor {
  return neg(mean(sum(mul(onehot, logits), -1))).add(mean(logsumexp(logits, -1)));
}

/**
 * Real-vs-generated part with the generated class as a fixed zero logit, D(x) = Z/(Z+1), Z = Σ exp(l_k):
 * −½·mean(lse(l_unl)) + ½·mean(softplus(lse(l_unl))) + ½·mean(softplus(lse(l_gen))).
 */
export function kPlusOneUnlabelledLoss(unl: Tensor, gen: Tensor): Tensor {
  const lu = logsumexp(unl, -1), lg = logsumexp(gen, -1);
  return mul(neg(mean(lu)), 0.5).add(mul(mean(softplus(lu)), 0.5)).add(mul(mean(softplus(lg)), 0.5));
}

/** The reference's alternative G loss for K+1: −mean(softplus(lse(l_gen))). */
export function kPlusOneGeneratorLoss(gen: Tensor): Tensor {
  return neg(mean(softplus(logsumexp(gen, -1))));
}

/**
 * Classification accuracy (a metric, no gradient): the fraction of rows whose labelled class has the largest logit,
 * i.e. mean over rows of [l[label] ≥ max(l)] = 1 − [max(l) > l[label]] (ties count as right).
 */
export function classAccuracy(logits: Tensor, onehot: Tensor): Tensor {
  const b = currentTrace().builder;
  const picked = sum(mul(onehot, logits), -1);
  const wrong = b.emit1('Cast', [b.emit1('Greater', [max(logits, -1).value, picked.value])], { to: 'float32' });
  return sub(1, mean(new Tensor(wrong)));
}
