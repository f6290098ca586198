/**
 * An exponential moving average of G's weights (Yazıcı et al. 2019; ProGAN/StyleGAN's G_ema): the base DCGAN,
 * trained as it is, plus ema ← d·ema + (1 − d)·weights after every G update, d = min(0.999, (1 + t)/(10 + t)) at G
 * update t (warm-up, so the average soon forgets the random start). G's batch-norm statistics for the averaged
 * weights come from one more forward pass of G with them per G update. Sample grids, `ganc export` and `ganc eval`
 * use the averaged weights (`--raw` for the trained ones).
 */
import { variant } from '../src/dsl/index.ts';
import { BASE_SIZE, type DcganSize, dcgan } from './dcgan.ts';

export function dcganEma(size: DcganSize = BASE_SIZE, { decay = 0.999, warmup = true } = {}, name = 'dcgan-ema') {
  return variant(dcgan(size, name), { ema: { decay, warmup } });
}

export default dcganEma();
