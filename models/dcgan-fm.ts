/**
 * Seed step 2: feature matching. Default (the seed): G loss = the usual non-saturating loss
 * + 0.1·l2(E[G(z)] − E[x]) + 0.1·l2(E[f(G(z))] − E[f(x)]), f = D's penultimate features, l2(t) = Σt²/2.
 * `dcganFm({ form: 'salimans' })`: G loss = mean |E[f(x)] − E[f(G(z))]| alone (openai/improved-gan).
 * The real batch's features in the G step carry no gradient to G (D's parameters are not trained there).
 */
import { type GanDef, type LossContext, variant } from '../src/dsl/index.ts';
import { feature, featureMatchingLoss, seedFeatureMatching } from '../src/dsl/tricks.ts';
import base, { gLoss } from './dcgan.ts';

export interface FmOptions {
  form?: 'seed' | 'salimans';
  /** Weight of each l2 term in the seed form (default 0.1). */
  weight?: number;
}

/** Feature matching on `on` (default the 64-px base DCGAN; e.g. `dcgan(SIZE_32)` for another size). */
export function dcganFm({ form = 'seed', weight = 0.1 }: FmOptions = {}, name = form === 'seed' ? 'dcgan-fm' : 'dcgan-fm-salimans', on: GanDef = base) {
  const fm = form === 'seed'
    ? (c: LossContext) => gLoss(c).add(seedFeatureMatching(c, { weight }))
    : (c: LossContext) => featureMatchingLoss(feature(c.dReal, 'penultimate'), feature(c.dFake, 'penultimate'), 'abs');
  return variant(on, { name, gLoss: fm });
}

export default dcganFm();
