// Small seeded RNG for the metrics. Math.random is unseedable, and metric values
// must be reproducible for a given seed, so every random draw goes through here.

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

/**
 * xoshiro128** seeded through splitmix32 (period 2^128 - 1; plenty for millions of draws).
 * A class, not closures: hot loops call one shared method, which V8 can inline.
 */
class Xoshiro128 implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = NaN; // Box-Muller yields pairs; keep the second one

  constructor(seed: number) {
    this.s0 = mix32(seed >>> 0);
    this.s1 = mix32(this.s0 ^ 0x6a09e667);
    this.s2 = mix32(this.s1 ^ 0xbb67ae85);
    this.s3 = mix32(this.s2 ^ 0x3c6ef372);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero is a fixed point
  }

  private nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  next(): number {
    return this.nextU32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next(); // log(0) guard
    const r = Math.sqrt(-2 * Math.log(u));
    const theta = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

export function makeRng(seed: number): Rng {
  return new Xoshiro128(seed);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
