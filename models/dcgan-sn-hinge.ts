/**
 * Spectral normalization + hinge loss (Miyato et al. 2018): every weight of D divided by its largest singular value
 * (one power iteration per D update, its vector u kept as state), D without batch norm; hinge losses
 * E[relu(1 − D(x))] + E[relu(1 + D(G(z)))] for D and −E[D(G(z))] for G. Optimizer and G updates as the base (the
 * paper's setting C: Adam 2e-4, β1 0.5, one D update per iteration).
 */
import { type LossContext, criticGLoss, hingeDLoss, spectralNorm, variant } from '../src/dsl/index.ts';
import { BASE_SIZE, type DcganSize, dcgan, discriminator } from './dcgan.ts';

export function dcganSnHinge(size: DcganSize = BASE_SIZE, name = 'dcgan-sn-hinge') {
  return variant(dcgan(size, name), {
    discriminator: (x) => spectralNorm(() => discriminator(x, size, { batchNorm: false })),
    dLoss: ({ dReal, dFake }: LossContext) => hingeDLoss(dReal.logits, dFake.logits),
    gLoss: ({ dFake }: LossContext) => criticGLoss(dFake.logits),
  });
}

export default dcganSnHinge();
