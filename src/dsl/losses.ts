/** Losses. All return scalars (means over the batch), except l2 which is TensorFlow's Σt²/2. */
import { Tensor, type TensorLike, abs, add, logsumexp, mean, mul, neg, relu, softplus, sub, sum } from './tensor.ts';

/** Mean sigmoid cross-entropy with logits: max(x,0) − x·t + log(1 + e^−|x|), stable for any x. */
export function sigmoidCrossEntropy(logits: Tensor, target: TensorLike): Tensor {
  return mean(add(sub(relu(logits), mul(logits, target)), softplus(neg(abs(logits)))));
}

/** Mean softmax cross-entropy: logits [N, K], one-hot (or soft) targets [N, K]. */
export function softmaxCrossEntropy(logits: Tensor, onehot: Tensor): Tensor {
  return mean(sub(logsumexp(logits, -1), sum(mul(onehot, logits), -1)));
}

/** tf.nn.l2_loss: Σ t² / 2. */
export function l2(t: Tensor): Tensor {
  return mul(sum(mul(t, t)), 0.5);
}

/** Mean absolute value (the feature-matching loss of openai/improved-gan). */
export function meanAbs(t: Tensor): Tensor {
  return mean(abs(t));
}

/** Mean squared value. */
export function meanSquare(t: Tensor): Tensor {
  return mean(mul(t, t));
}

/** The discriminator's hinge loss (Lim & Ye 2017; Miyato et al. 2018): E[relu(1 − D(x))] + E[relu(1 + D(G(z)))]. */
export function hingeDLoss(real: Tensor, fake: Tensor): Tensor {
  return add(mean(relu(sub(1, real))), mean(relu(add(1, fake))));
}

/** The critic's Wasserstein loss (Arjovsky et al. 2017): E[D(G(z))] − E[D(x)]. */
export function wassersteinDLoss(real: Tensor, fake: Tensor): Tensor {
  return sub(mean(fake), mean(real));
}

/** The generator's loss against a critic (Wasserstein) or a hinge discriminator: −E[D(G(z))]. */
export function criticGLoss(fake: Tensor): Tensor {
  return neg(mean(fake));
}
