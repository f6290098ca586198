// Seeded randomness for the metrics: Math.random is unseedable, and metric values must be reproducible for a given
// seed. The generator is ganc's own (src/random.ts); this adds the metrics' interface and per-purpose sub-streams.
import { Rng as Stream } from '../../random.ts';

/** A deterministic stream of random numbers. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal sample. */
  normal(): number;
}

/** splitmix32 finalizer: spreads any 32-bit input over all output bits. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * Seed for an independent sub-stream, e.g. deriveSeed(seed, level, side).
 * Keying streams by purpose keeps results stable when unrelated draws change.
 */
export function deriveSeed(seed: number, ...tags: number[]): number {
  let h = mix32(seed >>> 0);
  for (const t of tags) h = mix32((h ^ mix32(t >>> 0)) >>> 0);
  return h;
}

export function makeRng(seed: number): Rng {
  const s = new Stream(seed >>> 0);
  return { next: () => s.uniform(), int: (n) => s.int(n), normal: () => s.normal() };
}
