/**
 * The baseline of fmnist-ssl.ts: the same discriminator, seeds and labelled batches (the labelled order depends only on
 * the run's seed and step), trained with the supervised cross-entropy alone — D never sees the unlabelled batch or
 * G(z). G's step still runs (feature matching against this D): it costs time, but D's loss ignores it and G's step
 * updates only G, so it cannot change what D learns.
 */
import { type LossContext, classAccuracy, kPlusOneLabelledLoss, variant } from '../src/dsl/index.ts';
import fmnistSsl from './fmnist-ssl.ts';

function dLoss(c: LossContext) {
  const lab = c.D(c.labelled.x).logits;
  const loss = kPlusOneLabelledLoss(lab, c.labelled.labels);
  c.metric('acc', classAccuracy(lab, c.labelled.labels));
  c.metric('loss_lab', loss);
  return loss;
}

export default variant(fmnistSsl, { name: 'fmnist-supervised', dLoss });
