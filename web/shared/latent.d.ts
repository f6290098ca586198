// Types of latent.js.
export function lerp(a: Float32Array, b: Float32Array, t: number): Float32Array;
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array;
export function interpolate(a: Float32Array, b: Float32Array, steps: number, dist: string): Float32Array[];
