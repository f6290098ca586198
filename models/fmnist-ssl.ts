/**
 * Does K+1 help a classifier? Fashion-MNIST with 100 labels (`ganc data fashion-mnist`: 10 labelled images per class
 * in train/<class>/, the other 59,900 in train/_unlabelled/). The K+1 discriminator of dcgan-ssl with K = 10: per
 * step a labelled batch (drawn from the 100), an unlabelled batch (drawn from all 60,000) and G(z); G learns by
 * feature matching (Salimans et al. 2016); one G update per D update, as theirs.
 * 32×32, 1 channel: the 28×28 grey images resized by the loader; grey needs no colour, and one channel keeps the
 * first conv and G's last layer a third of the RGB cost. Three stride-2 stages (32 → 16 → 8 → 4), widths 16 (D: 16,
 * 32, 64 channels): about 0.3 s an iteration on 2 shared cores, where widths 32 took 0.9–1.6 s.
 * D has no batch norm: with it, D's running statistics would blend labelled, unlabelled and generated batches, and the
 * classify graph would normalize test images partly by statistics of G's images.
 * Train with `--held-out 0` (the test images are the separate test/ folder) and score with `ganc eval --test`.
 * fmnist-supervised.ts trains the same D on the same labelled batches alone.
 */
import { variant } from '../src/dsl/index.ts';
import type { DcganSize } from './dcgan.ts';
import { dcganSsl } from './dcgan-ssl.ts';

export const SIZE: DcganSize = { size: 32, gf: 16, df: 16, channels: 1, stages: 3 };

export default variant(dcganSsl({ classes: 10, d: { batchNorm: false } }, SIZE, 'fmnist-ssl'), { gUpdatesPerD: 1 });
