// Types of random.js (plain JS, so the page loads it without a build step).
export class Random {
  constructor(seed: number);
  uniform(): number;
  normal(): number;
}
export function fillNoise(rand: Random, out: Float32Array, dist: string): Float32Array;
export function permutation(rand: Random, n: number): Uint32Array;
export interface TrainDrawOptions {
  seed: number;
  count: number;
  batch: number;
  zSize: number;
  zDist: string;
  gUpdatesPerD: number;
}
export class TrainDraws {
  constructor(opts: TrainDrawOptions);
  epoch: number;
  next(): { indices: Uint32Array; z: Float32Array[]; epoch: number };
}
export function batchToFloat(pixels: Uint8Array, vol: number, indices: ArrayLike<number>, out?: Float32Array): Float32Array;
