/**
 * Paths between two latent vectors for the playground. For normal noise, spherical interpolation: a straight line
 * between two samples of a high-dimensional Gaussian passes through vectors of atypically small norm (the middle of
 * the line is √2 shorter), which the generator never saw; slerp keeps the norm typical. For uniform noise (a cube),
 * the straight line stays inside the box the generator was trained on.
 */

export function lerp(a, b, t) {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] * (1 - t) + b[i] * t;
  return out;
}

export function slerp(a, b, t) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const cos = Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb || 1)));
  const omega = Math.acos(cos);
  const s = Math.sin(omega);
  if (s < 1e-6) return lerp(a, b, t); // (anti)parallel within rounding: slerp's formula divides by sin ω ≈ 0
  const wa = Math.sin((1 - t) * omega) / s;
  const wb = Math.sin(t * omega) / s;
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = wa * a[i] + wb * b[i];
  return out;
}

/** `steps` vectors from a to b (both ends included): slerp for normal noise, lerp for uniform. */
export function interpolate(a, b, steps, dist) {
  const f = dist === 'normal' ? slerp : lerp;
  return Array.from({ length: steps }, (_, i) => f(a, b, steps === 1 ? 0 : i / (steps - 1)));
}
