/**
 * The seed's question — "was there any improvement?" — asked with several seeds: the base DCGAN against each trick
 * the seed tried, all at the same size and width (32 px, gf = df = 32, batch 64), on the built-in logos, for the same
 * number of iterations, evaluated along training on the same real images.
 *   npx ganc study studies/seed.ts              # runs into runs/study-seed, then writes its report
 * The K+1 model trains on logos + app icons (it needs two labelled classes); its generator is scored like the others,
 * against the same real logos.
 */
import { study } from '../src/dsl/study.ts';
import { type DcganSize, dcgan } from '../models/dcgan.ts';
import { dcganFm } from '../models/dcgan-fm.ts';
import { dcganMbd } from '../models/dcgan-mbd.ts';
import { dcganSsl } from '../models/dcgan-ssl.ts';

const size: DcganSize = { size: 32, gf: 32, df: 32, channels: 3 };
const base = dcgan(size, 'dcgan-32');

export default study({
  name: 'seed',
  baseline: 'dcgan',
  models: {
    dcgan: base,
    'fm-seed': dcganFm({ form: 'seed' }, 'fm-seed-32', base),
    'fm-salimans': dcganFm({ form: 'salimans' }, 'fm-salimans-32', base),
    mbd: dcganMbd(size, { kernels: 100, dims: 5 }, 'mbd-32'),
    'ssl-k1': dcganSsl({ gLoss: 'fm' }, size, 'ssl-k1-32'),
  },
  seeds: [1, 2, 3],
  steps: 500,
  eval: { every: 100, n: 256 },
});
