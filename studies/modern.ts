/**
 * Beyond 2016: the stabilizers GAN people use today against the same base DCGAN, at the seed study's protocol
 * (32 px, gf = df = 32, batch 64, 500 iterations, 3 seeds, SWD + MS-SSIM every 100 iterations on 256 images):
 * R1 on real data, spectral norm + hinge loss, WGAN-GP (5 critic steps per G step), and an EMA of G's weights.
 *   npx ganc study studies/modern.ts           # runs into runs/study-modern, then writes its report
 * The base is the seed study's base (studies/seed.ts), model for model: its runs can be shared between the two.
 * An "iteration" is one G update's worth of the schedule: WGAN-GP runs 5 D updates in each, the others 1 D + 2 G.
 */
import { study } from '../src/dsl/study.ts';
import { type DcganSize, dcgan } from '../models/dcgan.ts';
import { dcganEma } from '../models/dcgan-ema.ts';
import { dcganR1 } from '../models/dcgan-r1.ts';
import { dcganSnHinge } from '../models/dcgan-sn-hinge.ts';
import { dcganWganGp } from '../models/dcgan-wgan-gp.ts';

const size: DcganSize = { size: 32, gf: 32, df: 32, channels: 3 };

export default study({
  name: 'modern',
  baseline: 'dcgan',
  models: {
    dcgan: dcgan(size, 'dcgan-32'),
    r1: dcganR1(size, {}, 'r1-32'),
    'sn-hinge': dcganSnHinge(size, 'sn-hinge-32'),
    'wgan-gp': dcganWganGp(size, {}, 'wgan-gp-32'),
    ema: dcganEma(size, {}, 'ema-32'),
  },
  seeds: [1, 2, 3],
  steps: 500,
  eval: { every: 100, n: 256 },
});
