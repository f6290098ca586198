/**
 * Seed step 4: semi-supervised K+1 (Salimans et al. 2016). K = 2 real classes (logo / app icon: the subfolders of
 * the data; the built-in set is the labelled logos + app icons); the generated class is a fixed zero logit.
 * Per step D sees a labelled batch (ctx.labelled: x_lab, y), a separate unlabelled batch (ctx.real) and G(z):
 *   D loss = loss_lab(l_lab, y) + loss_unl(l_unl, l_gen);
 *   G loss = feature matching, mean |E[f(x_unl)] − E[f(G(z))]| (the paper's best for SSL), or with
 *   `dcganSsl({ gLoss: 'softplus' })` the reference's −mean(softplus(lse(l_gen))).
 * Metrics: acc (D's classification accuracy on the labelled batch), loss_lab, loss_unl.
 */
import { type LossContext, variant } from '../src/dsl/index.ts';
import {
  classAccuracy, feature, featureMatchingLoss, kPlusOneGeneratorLoss, kPlusOneLabelledLoss, kPlusOneUnlabelledLoss,
} from '../src/dsl/tricks.ts';
import { type DOptions, type DcganSize, dcgan, discriminator } from './dcgan.ts';

export function dLoss(c: LossContext) {
  const lab = c.D(c.labelled.x).logits;
  const lossLab = kPlusOneLabelledLoss(lab, c.labelled.labels);
  const lossUnl = kPlusOneUnlabelledLoss(c.dReal.logits, c.dFake.logits);
  c.metric('acc', classAccuracy(lab, c.labelled.labels));
  c.metric('loss_lab', lossLab);
  c.metric('loss_unl', lossUnl);
  return lossLab.add(lossUnl);
}

export const gLossFm = (c: LossContext) => featureMatchingLoss(feature(c.dReal, 'penultimate'), feature(c.dFake, 'penultimate'), 'abs');
export const gLossSoftplus = (c: LossContext) => kPlusOneGeneratorLoss(c.dFake.logits);

/** K (`classes`, default 2) real classes; `d` options of the discriminator block (e.g. batchNorm: false). */
export function dcganSsl(
  { gLoss = 'fm', classes = 2, d = {} }: { gLoss?: 'fm' | 'softplus'; classes?: number; d?: DOptions } = {},
  size: DcganSize = { size: 64, gf: 64, df: 64, channels: 3 }, name = 'dcgan-ssl',
) {
  return variant(dcgan(size, name), {
    classes,
    discriminator: (x) => discriminator(x, size, { ...d, logits: classes }),
    dLoss,
    gLoss: gLoss === 'fm' ? gLossFm : gLossSoftplus,
  });
}

export default dcganSsl();
