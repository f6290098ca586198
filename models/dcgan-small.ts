/**
 * A small DCGAN for the browser (the training page of `ganc board`) and for quick trials: the base's blocks and
 * optimizer at 32×32 with gf = df = 16 and batch 16 — about 1/240 of the base's work per iteration.
 */
import { variant } from '../src/dsl/index.ts';
import { dcgan } from './dcgan.ts';

export default variant(dcgan({ size: 32, gf: 16, df: 16, channels: 3 }, 'dcgan-small'), { batch: 16 });
