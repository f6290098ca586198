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
}

/** z → linear → [8gf, s/16, s/16] → BN/ReLU → three stride-2 deconvs with BN/ReLU → deconv to RGB → tanh. */
export function generator(z: Tensor, { size, gf, channels }: DcganSize): Tensor {
  const s = size / 16;
  let h = relu(batchNorm(reshape(linear(z, 8 * gf * s * s), [z.shape[0], 8 * gf, s, s])));
  for (const width of [4 * gf, 2 * gf, gf]) h = relu(batchNorm(deconv2d(h, width)));
  return tanh(deconv2d(h, channels));
}

/** Four stride-2 convs (BN from the second on), lrelu 0.2; the flattened last conv is the feature layer. */
export function discriminator(x: Tensor, { df }: DcganSize) {
  let h = leakyRelu(conv2d(x, df));
  const widths = [2 * df, 4 * df, 8 * df];
  const features: Record<string, Tensor> = {};
  widths.forEach((width, i) => {
    h = leakyRelu(batchNorm(conv2d(h, width)));
    features[`h${i + 1}`] = h;
  });
  features.penultimate = flatten(h);
  return { logits: linear(features.penultimate, 1), features };
}

export const dLoss = ({ dReal, dFake }: LossContext) =>
  sigmoidCrossEntropy(dReal.logits, 1).add(sigmoidCrossEntropy(dFake.logits, 0));

/** Non-saturating: G maximizes log D(G(z)). */
export const gLoss = ({ dFake }: LossContext) => sigmoidCrossEntropy(dFake.logits, 1);

export function dcgan(size: DcganSize = { size: 64, gf: 64, df: 64, channels: 3 }, name = 'dcgan') {
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
