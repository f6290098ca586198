/**
 * The held-out labelled split: images that training never sees, on which `ganc eval` measures a semi-supervised
 * model's accuracy. Shared by the training loop (which leaves them out) and the evaluation.
 */
import { createHash } from 'node:crypto';
import type { Dataset } from './images.ts';

export const HELD_OUT_FRACTION = 0.1;
export const HELD_OUT_SEED = 0;

// ---------------------------------------------------------------- held-out split

export interface Split {
  /** Indices to train on: every unlabelled image and the labelled ones not held out (ascending). */
  train: Uint32Array;
  /** Labelled images kept out of training, for measuring accuracy (ascending). */
  heldOut: Uint32Array;
}

export interface SplitOptions {
  fraction?: number;
  seed?: number;
}

/**
 * The held-out labelled split of a data set. Per class c with n_c images, h_c = round(fraction·n_c) of them are held
 * out (at least 1 and at most n_c − 1 when n_c ≥ 2; none when n_c < 2): those whose seeded hash of their pixels is
 * smallest (ties by index). Unlabelled images (label −1) and data without labels are all training data.
 *
 * Keyed by content, not by position: the split does not depend on the order files are listed in, adding or removing
 * other images does not move an image across it (beyond the per-class count), and identical copies of one image
 * hash alike, so they land side by side in the ranking. The seed is a constant (HELD_OUT_SEED), not the run's seed,
 * so that every run on the same data holds out the same images and their accuracies compare.
 */
export function heldOutSplit(data: Pick<Dataset, 'pixels' | 'count' | 'size' | 'labels'>, opts: SplitOptions = {}): Split {
  const fraction = opts.fraction ?? HELD_OUT_FRACTION;
  const seed = opts.seed ?? HELD_OUT_SEED;
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`heldOutSplit: fraction must be in [0, 1), got ${fraction}`);
  const { count, labels } = data;
  const all = Uint32Array.from({ length: count }, (_, i) => i);
  if (!labels || fraction === 0) return { train: all, heldOut: new Uint32Array(0) };
  const vol = 3 * data.size * data.size;
  const byClass = new Map<number, { i: number; key: bigint }[]>();
  for (let i = 0; i < count; i++) {
    const c = labels[i];
    if (c < 0) continue;
    const key = createHash('sha1').update(`ganc-held-out/${seed}/`).update(data.pixels.subarray(i * vol, (i + 1) * vol)).digest().readBigUInt64BE(0);
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push({ i, key });
  }
  const held = new Uint8Array(count);
  for (const list of byClass.values()) {
    const n = list.length;
    if (n < 2) continue;
    const h = Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
    list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i));
    for (let k = 0; k < h; k++) held[list[k].i] = 1;
  }
  return { train: all.filter((i) => !held[i]), heldOut: all.filter((i) => held[i] === 1) };
}
