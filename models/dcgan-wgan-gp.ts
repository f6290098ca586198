/**
 * WGAN-GP (Gulrajani et al. 2017): a critic without batch norm, Wasserstein losses, and λ·E(‖∇D(x̂)‖ − 1)² at random
 * interpolates x̂ = ε·x + (1 − ε)·G(z); n_critic = 5 D updates (each on its own batch and noise) per G update; Adam
 * lr 1e-4, β1 0, β2 0.9 (the paper's Algorithm 1). λ = 10. Logs `gp` and the critic's estimate of the Wasserstein
 * distance, `w_dist` = E[D(x)] − E[D(G(z))].
 */
import { type LossContext, criticGLoss, gradientPenalty, neg, variant, wassersteinDLoss } from '../src/dsl/index.ts';
import { BASE_SIZE, type DcganSize, dcgan, discriminator } from './dcgan.ts';

export interface WganGpOptions {
  lambda?: number;
  nCritic?: number;
}

export function dcganWganGp(size: DcganSize = BASE_SIZE, { lambda = 10, nCritic = 5 }: WganGpOptions = {}, name = 'dcgan-wgan-gp') {
  const adam = { lr: 1e-4, beta1: 0, beta2: 0.9 };
  return variant(dcgan(size, name), {
    discriminator: (x) => discriminator(x, size, { batchNorm: false }),
    dLoss: (c: LossContext) => {
      const critic = wassersteinDLoss(c.dReal.logits, c.dFake.logits);
      const gp = gradientPenalty(c, lambda);
      c.metric('w_dist', neg(critic));
      c.metric('gp', gp);
      return critic.add(gp);
    },
    gLoss: ({ dFake }: LossContext) => criticGLoss(dFake.logits),
    optimizer: { g: adam, d: adam },
    gUpdatesPerD: 1,
    dUpdatesPerG: nCritic,
  });
}

export default dcganWganGp();
