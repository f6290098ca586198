/**
 * R1 penalty (Mescheder et al. 2018, "Which training methods for GANs do actually converge?"): the base DCGAN with
 * D's loss + γ/2·E‖∇ₓD(x)‖² on the real batch (D's logits). Training D differentiates that gradient once more
 * (second-order autodiff). γ = 10 as in the paper. The base D keeps its batch norm unless `batchNorm: false` (then the
 * gradient is per sample, as in the paper; with batch norm each sample's gradient also sees its batch).
 * Logs the penalty as the metric `r1`.
 */
import { type LossContext, r1Penalty, variant } from '../src/dsl/index.ts';
import { BASE_SIZE, type DcganSize, dLoss, dcgan, discriminator } from './dcgan.ts';

export interface R1Options {
  gamma?: number;
  batchNorm?: boolean;
}

export function dcganR1(size: DcganSize = BASE_SIZE, { gamma = 10, batchNorm = true }: R1Options = {}, name = 'dcgan-r1') {
  return variant(dcgan(size, name), {
    discriminator: (x) => discriminator(x, size, { batchNorm }),
    dLoss: (c: LossContext) => {
      const penalty = r1Penalty(c, gamma);
      c.metric('r1', penalty);
      return dLoss(c).add(penalty);
    },
  });
}

export default dcganR1();
