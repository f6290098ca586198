/**
 * Seeded draws of the browser-training page, shared with node (the test that checks the page's losses against
 * onnxruntime-node replays them): a small PRNG (mulberry32), noise, the data order. Plain ES module, no imports.
 */

/** mulberry32: 32 bits of state, uniform [0, 1) in steps of 2^-32; the same stream in every JS engine. */
export class Random {
  constructor(seed) {
    this.s = seed >>> 0;
    this.spare = undefined;
  }

  uniform() {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal() {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const u = 1 - this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
}

/** Fill `out` with noise: uniform in [-1, 1) or standard normal (the model's z distribution). */
export function fillNoise(rand, out, dist) {
  if (dist === 'normal') for (let i = 0; i < out.length; i++) out[i] = rand.normal();
  else for (let i = 0; i < out.length; i++) out[i] = rand.uniform() * 2 - 1;
  return out;
}

/** A seeded permutation of 0..n-1 (Fisher–Yates). */
export function permutation(rand, n) {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand.uniform() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * What one training iteration draws, in order: the batch's image indices (a fresh permutation per epoch, the last
 * partial batch dropped, as ganc run does), then the D step's noise and each G step's.
 */
export class TrainDraws {
  constructor({ seed, count, batch, zSize, zDist, gUpdatesPerD }) {
    Object.assign(this, { count, batch, zSize, zDist, gUpdatesPerD });
    this.rand = new Random(seed);
    this.epoch = 0;
    this.pos = 0;
    this.perm = permutation(this.rand, count);
  }

  next() {
    if (this.pos + this.batch > this.count) {
      this.epoch++;
      this.pos = 0;
      this.perm = permutation(this.rand, this.count);
    }
    const indices = this.perm.slice(this.pos, this.pos + this.batch);
    this.pos += this.batch;
    const z = [];
    for (let j = 0; j <= this.gUpdatesPerD; j++) z.push(fillNoise(this.rand, new Float32Array(this.batch * this.zSize), this.zDist));
    return { indices, z, epoch: this.epoch };
  }
}

/** Images `indices` of uint8 NCHW `pixels` (vol values each) as floats in [-1, 1], as ganc run feeds them. */
export function batchToFloat(pixels, vol, indices, out = new Float32Array(indices.length * vol)) {
  for (let j = 0; j < indices.length; j++) {
    const src = indices[j] * vol;
    const dst = j * vol;
    for (let k = 0; k < vol; k++) out[dst + k] = pixels[src + k] / 127.5 - 1;
  }
  return out;
}
