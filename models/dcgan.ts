/**
 * The seed's DCGAN (carpedm20/DCGAN-tensorflow defaults): 64×64 RGB, z 100-d uniform[-1, 1], gf = df = 64,
 * 5×5 stride-2 SAME (de)convolutions, batch norm, lrelu 0.2, non-saturating BCE losses, Adam 2e-4 / β1 0.5.
 * The blocks are exported so that variants reuse them and state only what differs.
 */
import {
  type LossContext, type Tensor, batchNorm, conv2d, deconv2d, flatten, gan, leakyRelu, linear, relu, reshape,
  sigmoidCrossEntropy, tanh,
} from '../src/dsl/index.ts';

export interface DcganSize {
  size: number;
  gf: number;
  df: number;
  channels: number;
  /** Stride-2 stages (default 4: G starts at size/16). Widths double per stage from gf / df, capped at 8·gf / 8·df. */
  stages?: number;
}

/** Options of the discriminator block that variants use. */
export interface DOptions {
  /** Number of logits (default 1; K for the K+1 semi-supervised D). */
  logits?: number;
  /** Applied to the output of conv `layer` (1-based) before the next conv (e.g. minibatch discrimination). */
  between?: (h: Tensor, layer: number) => Tensor;
  /** Batch norm after the second and later convs (default true; WGAN-GP and spectral norm go without). */
  batchNorm?: boolean;
}

const mult = (i: number) => Math.min(2 ** i, 8);

/** z → linear → [8gf, s/16, s/16] → BN/ReLU → three stride-2 deconvs with BN/ReLU → deconv to RGB → tanh
 * (with `stages` n: starts at size/2ⁿ with gf·min(2ⁿ⁻¹, 8) channels, then n − 1 deconvs with BN/ReLU). */
export function generator(z: Tensor, { size, gf, channels, stages = 4 }: DcganSize): Tensor {
  const s = size / 2 ** stages;
  const w0 = mult(stages - 1) * gf;
  let h = relu(batchNorm(reshape(linear(z, w0 * s * s), [z.shape[0], w0, s, s])));
  for (let i = stages - 2; i >= 0; i--) h = relu(batchNorm(deconv2d(h, mult(i) * gf)));
  return tanh(deconv2d(h, channels));
}

/** Four (`stages`) stride-2 convs (BN from the second on, unless `batchNorm: false`), lrelu 0.2; features h1, h2, … are the outputs of the 2nd,
 * 3rd, … conv; the flattened last conv is the feature layer (`penultimate`). */
export function discriminator(x: Tensor, { df, stages = 4 }: DcganSize, { logits = 1, between, batchNorm: bn = true }: DOptions = {}) {
  let h = leakyRelu(conv2d(x, df));
  const features: Record<string, Tensor> = {};
  for (let i = 1; i < stages; i++) {
    const c = conv2d(between ? between(h, i) : h, mult(i) * df);
    h = leakyRelu(bn ? batchNorm(c) : c);
    features[`h${i}`] = h;
  }
  features.penultimate = flatten(h);
  return { logits: linear(features.penultimate, logits), features };
}

export const dLoss = ({ dReal, dFake }: LossContext) =>
  sigmoidCrossEntropy(dReal.logits, 1).add(sigmoidCrossEntropy(dFake.logits, 0));

/** Non-saturating: G maximizes log D(G(z)). */
export const gLoss = ({ dFake }: LossContext) => sigmoidCrossEntropy(dFake.logits, 1);

/** The seed's size: 64×64 RGB, gf = df = 64. */
export const BASE_SIZE: DcganSize = { size: 64, gf: 64, df: 64, channels: 3 };

export function dcgan(size: DcganSize = BASE_SIZE, name = 'dcgan') {
  return gan({
    name,
    image: { channels: size.channels, size: size.size },
    z: { size: 100, dist: 'uniform' },
    batch: 64,
    generator: (z) => generator(z, size),
    discriminator: (x) => discriminator(x, size),
    dLoss,
    gLoss,
    optimizer: { g: { lr: 2e-4, beta1: 0.5 }, d: { lr: 2e-4, beta1: 0.5 } },
    gUpdatesPerD: 2,
  });
}

export default dcgan();
