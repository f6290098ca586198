/**
 * The statistics behind `ganc study`'s verdicts, against SciPy: values pinned from scipy 1.10.1
 * (stats.ttest_ind(a, b, equal_var=False); CI as diff ± stats.t.ppf(0.975, df)·se; stats.beta.cdf), and the same
 * computed live on random samples by Debian's /usr/bin/python3 when SciPy is installed (skipped, saying so, if not).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { betaInc, meanOverSteps, summarize, tCritical, tTwoSided, verdict, welch } from '../src/runtime/study/stats.ts';

const close = (got: number, want: number, rel = 1e-9, what = '') =>
  assert.ok(Math.abs(got - want) <= rel * Math.max(1, Math.abs(want)), `${what}: got ${got}, want ${want}`);

const PINNED: { a: number[]; b: number[]; t: number; p: number; df: number; lo: number; hi: number }[] = [
  { a: [52.1, 60.3, 48.7], b: [70.2, 66.1, 81.4], t: -3.2962175330879875, p: 0.0335023948751405, df: 3.7161434976322925, lo: -35.248664693304804, hi: -2.4846686400285307 },
  { a: [1, 2, 3, 4, 5], b: [2, 4, 6, 8, 10, 12], t: -2.3763541031440183, p: 0.04928433820673049, df: 6.9722557297949335, lo: -7.983468694612164, hi: -0.01653130538783598 },
  { a: [10.0, 10.5], b: [13.0, 12.2, 14.9], t: -3.715557714195377, p: 0.05029895152074533, df: 2.364021463071704, lo: -6.242213370914024, hi: 0.008880037580690558 },
  { a: [100.1, 99.2, 101.7, 98.8], b: [100.5, 101.2, 99.9], t: -0.7828195214745352, p: 0.4721432780185152, df: 4.592793132419749, lo: -2.551079924457386, hi: 1.3844132577907002 },
];

test("Welch's t-test equals scipy.stats.ttest_ind(equal_var=False) (pinned)", () => {
  for (const c of PINNED) {
    const w = welch(c.a, c.b)!;
    close(w.t, c.t, 1e-12, 't');
    close(w.df, c.df, 1e-12, 'df');
    close(w.p, c.p, 1e-10, 'p');
    close(w.ci[0], c.lo, 1e-8, 'CI low');
    close(w.ci[1], c.hi, 1e-8, 'CI high');
  }
});

test('verdicts: better / worse only at p < 0.05, on the side the difference lies', () => {
  assert.equal(verdict(welch(PINNED[0].a, PINNED[0].b)), 'better'); // p 0.034, a lower (SWD: lower is better)
  assert.equal(verdict(welch(PINNED[0].b, PINNED[0].a)), 'worse');
  assert.equal(verdict(welch(PINNED[2].a, PINNED[2].b)), 'no detectable difference'); // p 0.0503
  assert.equal(verdict(welch([1], [2, 3])), 'no test');
  assert.equal(welch([5, 5, 5], [5, 5]), undefined); // no spread: no test possible
});

test('the regularized incomplete beta and t tails equal scipy (pinned)', () => {
  close(betaInc(0.3, 2.5, 0.5), 0.018927124071945658, 1e-12, 'I(0.3; 2.5, 0.5)');
  close(betaInc(0.9, 0.7, 3.2), 0.9996598967697762, 1e-12, 'I(0.9; 0.7, 3.2)');
  close(betaInc(0.5, 50, 50), 0.5, 1e-12, 'I(0.5; 50, 50)');
  close(tTwoSided(2.5, 3.7), 0.07182202291182675, 1e-12, 'P(|T| > 2.5), df 3.7');
  // t.ppf(0.975, 2) = 4.302652729911275 (textbook table 4.303)
  close(tCritical(0.05, 2), 4.302652729911275, 1e-9, 't crit df 2');
});

test('summaries and the mean along training', () => {
  const s = summarize([2, 4, 9]);
  assert.deepEqual([s.n, s.mean, s.min, s.max], [3, 5, 2, 9]);
  close(s.std, Math.sqrt(13), 1e-12, 'sample std');
  assert.ok(Number.isNaN(summarize([3]).std));
  // Trapezoid over unequal steps, divided by the step range.
  close(meanOverSteps([[100, 10], [200, 6], [400, 4]]), (800 + 1000) / 300, 1e-12, 'mean over steps');
});

test('Welch on random samples equals live SciPy', (t) => {
  const py = '/usr/bin/python3';
  const probe = spawnSync(py, ['-c', 'import scipy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip(`no SciPy for ${py} (apt-get install python3-scipy): checked against the pinned values only`);
    return;
  }
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const cases = Array.from({ length: 20 }, (_, i) => {
    const n = 2 + (i % 5), m = 2 + ((i * 3) % 6);
    return { a: Array.from({ length: n }, () => 50 + 20 * rnd()), b: Array.from({ length: m }, () => 45 + 30 * rnd() + i) };
  });
  const script = `
import json, sys, numpy as np
from scipy import stats
out = []
for c in json.load(sys.stdin):
    a, b = np.array(c['a']), np.array(c['b'])
    r = stats.ttest_ind(a, b, equal_var=False)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    h = stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    d = a.mean() - b.mean()
    out.append([float(r.statistic), float(r.pvalue), d - h, d + h])
print(json.dumps(out))`;
  const r = spawnSync(py, ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const want = JSON.parse(r.stdout) as number[][];
  cases.forEach((c, i) => {
    const w = welch(c.a, c.b)!;
    close(w.t, want[i][0], 1e-10, `case ${i} t`);
    close(w.p, want[i][1], 1e-9, `case ${i} p`);
    close(w.ci[0], want[i][2], 1e-7, `case ${i} CI low`);
    close(w.ci[1], want[i][3], 1e-7, `case ${i} CI high`);
  });
});
