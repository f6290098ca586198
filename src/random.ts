/**
 * A small seeded RNG (xoshiro128**) whose whole state is four 32-bit words, so checkpoints can store it and a resumed
 * run draws exactly the numbers an uninterrupted one would.
 */
export class Rng {
  private s: Uint32Array;
  private spare: number | undefined;

  constructor(seed: number | string) {
    this.s = new Uint32Array(4);
    // splitmix32 expands the seed so that nearby seeds give unrelated streams.
    let x = typeof seed === 'number' ? seed >>> 0 : hashString(seed);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /**
   * Fill with uniform [0, 1) numbers: the same stream as repeated uniform(). The state is kept in int32 locals
   * (`| 0`), which V8 keeps unboxed — about 5× faster than uint32 arithmetic for the millions of initial weights.
   */
  fillUniform(out: Float64Array): void {
    let s0 = this.s[0] | 0, s1 = this.s[1] | 0, s2 = this.s[2] | 0, s3 = this.s[3] | 0;
    for (let i = 0; i < out.length; i++) {
      const m = Math.imul(s1, 5);
      const r = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      out[i] = (r >>> 0) / 4294967296;
    }
    this.s[0] = s0; this.s[1] = s1; this.s[2] = s2; this.s[3] = s3;
  }

  /** Fill with standard normal numbers (Marsaglia's polar method: no trigonometry, so bulk init stays fast). */
  fillNormal(out: Float64Array): void {
    const n = out.length;
    const u = new Float64Array(4096);
    let k = u.length;
    const next = () => {
      if (k === u.length) {
        this.fillUniform(u);
        k = 0;
      }
      return u[k++] * 2 - 1;
    };
    for (let i = 0; i < n; ) {
      const a = next();
      const b = next();
      const s = a * a + b * b;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * Math.log(s)) / s);
      out[i++] = a * f;
      if (i < n) out[i++] = b * f;
    }
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  getState(): number[] {
    return [...this.s, this.spare ?? NaN];
  }

  setState(st: number[]): void {
    this.s.set(st.slice(0, 4));
    this.spare = Number.isNaN(st[4]) || st[4] === null ? undefined : st[4];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function hashString(s: string): number {
  // FNV-1a
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
