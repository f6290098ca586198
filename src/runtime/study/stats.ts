/**
 * The statistics behind a study's verdicts: mean ± sample std, and Welch's two-sample t-test (unequal variances,
 * two-sided) with the 95% confidence interval of the difference of means. Student's t CDF is the regularized
 * incomplete beta function (continued fraction, Numerical Recipes §6.4); test/study_stats.test.ts pins it against
 * scipy.stats.
 */

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); NaN below 2 values. */
  std: number;
  min: number;
  max: number;
}

export function summarize(xs: readonly number[]): Summary {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : NaN;
  const std = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : NaN;
  return { n, mean, std, min: n ? Math.min(...xs) : NaN, max: n ? Math.max(...xs) : NaN };
}

// ---------------------------------------------------------------- special functions

const LANCZOS = [676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** ln Γ(x) for x > 0 (Lanczos, g = 7: ~15 significant digits). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = 0.99999999999980993;
  const t = x + 7.5;
  for (let i = 0; i < LANCZOS.length; i++) a += LANCZOS[i] / (x + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaContinuedFraction(a: number, b: number, x: number): number {
  const TINY = 1e-300, EPS = 1e-15;
  const qab = a + b, qap = a + 1, qam = a - 1;
  let c = 1, d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 1000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d; if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c; if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d; h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d; if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c; if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b), a, b > 0, 0 ≤ x ≤ 1. */
export function betaInc(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) return NaN;
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry beyond it.
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(a, b, x)) / a : 1 - (front * betaContinuedFraction(b, a, 1 - x)) / b;
}

/** P(|T| ≥ |t|) for Student's t with df degrees of freedom (df may be fractional, as Welch's is). */
export function tTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return Number.isNaN(t) ? NaN : 0;
  return betaInc(df / (df + t * t), df / 2, 0.5);
}

/** The t with P(|T| ≥ t) = p (0 < p < 1), by bisection on the tail (within ~1e-9 of scipy's t.ppf: ample for an interval). */
export function tCritical(p: number, df: number): number {
  let lo = 0, hi = 1;
  while (tTwoSided(hi, df) > p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tTwoSided(mid, df) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

// ---------------------------------------------------------------- Welch's t-test

export interface WelchResult {
  /** mean(a) − mean(b). */
  diff: number;
  t: number;
  df: number;
  /** Two-sided p-value. */
  p: number;
  /** 95% confidence interval of the difference of means. */
  ci: [number, number];
}

/** Welch's t-test of a against b, as scipy.stats.ttest_ind(a, b, equal_var=False); undefined below 2 values a side
 * or when both sides have no spread (no test is possible). */
export function welch(a: readonly number[], b: readonly number[], level = 0.95): WelchResult | undefined {
  const A = summarize(a), B = summarize(b);
  if (A.n < 2 || B.n < 2) return undefined;
  const va = A.std ** 2 / A.n, vb = B.std ** 2 / B.n;
  const se = Math.sqrt(va + vb);
  if (!(se > 0)) return undefined;
  const diff = A.mean - B.mean;
  const t = diff / se;
  const df = (va + vb) ** 2 / (va ** 2 / (A.n - 1) + vb ** 2 / (B.n - 1));
  const half = tCritical(1 - level, df) * se;
  return { diff, t, df, p: tTwoSided(t, df), ci: [diff - half, diff + half] };
}

export type Verdict = 'better' | 'worse' | 'no detectable difference' | 'no test';

/** Lower is better (SWD): "better"/"worse" only at p < alpha. */
export function verdict(w: WelchResult | undefined, alpha = 0.05): Verdict {
  if (!w) return 'no test';
  if (!(w.p < alpha)) return 'no detectable difference';
  return w.diff < 0 ? 'better' : 'worse';
}

/** Area under a curve of (step, value) points by the trapezoid rule, divided by the step range: the curve's mean. */
export function meanOverSteps(points: readonly [number, number][]): number {
  if (points.length === 0) return NaN;
  if (points.length === 1) return points[0][1];
  let area = 0;
  for (let i = 1; i < points.length; i++) area += ((points[i][1] + points[i - 1][1]) / 2) * (points[i][0] - points[i - 1][0]);
  return area / (points.at(-1)![0] - points[0][0]);
}
