/**
 * The moving average of G's weights (gan option `ema`, src/compiler/ema.ts) against a hand computation in float64:
 * a tiny models/dcgan-ema.ts runs three iterations (2 G updates each) through ganc's step graphs; from the parameters
 * each G update left in the state, ema_t = d_t·ema_{t−1} + (1 − d_t)·p_t with ema_0 the initial weights, and the
 * averaged G's batch-norm statistics — blended (decay 0.9) from the batch statistics of G with the averaged weights
 * on that update's z, computed by the naive float64 reference generator (test/reference/naive.ts).
 * Measured worst relative errors 1.4e-7 (weights) and 3.5e-7 (statistics); with the extra forward pass of G run on
 * the trained instead of the averaged weights the statistics fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { compileGan, initArray } from '../src/compiler/compile.ts';
import { variant } from '../src/dsl/index.ts';
import { EMA_PREFIX } from '../src/dsl/trace.ts';
import { StateStore } from '../src/runtime/state.ts';
import { openSessions } from '../src/runtime/steps.ts';
import { dcganEma } from '../models/dcgan-ema.ts';
import * as ref from './reference/naive.ts';
import { referenceName, rng, draw } from './helpers/gradcheck.ts';

const SIZE = { size: 16, gf: 4, df: 4, channels: 3 };
const REF_CFG: ref.DcganConfig = { size: 16, gf: 4, df: 4, zdim: 100, channels: 3 };
const B = 4;
const ITERATIONS = 3;

/** max |a − b| / max(|b|), over a tensor. */
function relErr(a: Float32Array, b: ArrayLike<number>): number {
  let d = 0, m = 1e-12;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

function dist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

for (const ema of [{ decay: 0.3, warmup: true }, { decay: 0.7, warmup: false }]) {
  test(`ema ${JSON.stringify(ema)}: averaged weights and their BN statistics after ${2 * ITERATIONS} G updates equal a hand computation`, async () => {
    const c = compileGan(variant(dcganEma(SIZE, ema), { batch: B }));
    const s = await openSessions(c, { threads: 1 });
    const store = StateStore.fromInit(c.manifest, initArray(c));
    const params = c.manifest.state.filter((e) => e.role === 'param' && e.network === 'g').map((e) => e.name);
    const bnStats = c.manifest.state.filter((e) => e.role === 'bn_state' && e.network === 'g').map((e) => e.name);
    // Every G parameter and BN statistic has its average, starting from the same initial values.
    assert.deepEqual(c.manifest.state.filter((e) => e.role === 'ema').map((e) => e.name).sort(), [...params, ...bnStats].map((n) => EMA_PREFIX + n).sort());
    const hand = new Map<string, Float64Array>([...params, ...bnStats].map((n) => [n, Float64Array.from(store.data(n))]));
    const initial = new Map(params.map((n) => [n, Float32Array.from(store.data(n))]));
    const r = rng(77);
    let t = 0;
    try {
      for (let it = 0; it < ITERATIONS; it++) {
        const real = new ort.Tensor('float32', draw(B * 3 * 16 * 16, 'uniform', r), [B, 3, 16, 16]);
        await s.d.run(store, { z: new ort.Tensor('float32', draw(B * 100, 'uniform', r), [B, 100]), real });
        for (let k = 0; k < c.def.gUpdatesPerD; k++) {
          const z = draw(B * 100, 'uniform', r);
          await s.g.run(store, { z: new ort.Tensor('float32', z, [B, 100]), real });
          t++;
          const d = ema.warmup ? Math.min(ema.decay, (1 + t) / (10 + t)) : ema.decay;
          for (const n of params) {
            const p = store.data(n);
            hand.set(n, hand.get(n)!.map((e, i) => d * e + (1 - d) * p[i]));
          }
          // G with the averaged weights on this update's z: its batch statistics, blended into the averaged G's.
          const refParams: ref.Params = {};
          for (const n of params) refParams[referenceName(n)] = ref.tensor(hand.get(n)!, c.manifest.state.find((e) => e.name === n)!.shape);
          ref.dcganGenerator(ref.tensor(z, [B, 100]), refParams, REF_CFG, (l, m) => {
            for (const [stat, batch] of [['running_mean', m.mean], ['running_var', m.variance]] as const) {
              const n = `g/batch_norm_${l}/${stat}`;
              hand.set(n, hand.get(n)!.map((e, i) => 0.9 * e + 0.1 * batch[i]));
            }
          });
        }
      }
    } finally {
      await Promise.all([s.d, s.g, s.generate].map((x) => x.session.release()));
    }
    assert.equal(store.data('adam/g/step')[0], t);
    const worst: [string, number][] = [];
    for (const n of params) {
      const got = store.data(EMA_PREFIX + n);
      worst.push([n, relErr(got, hand.get(n)!)]);
      // Not a vacuous comparison: the average lags behind the weights, which moved from their initial values.
      const p = store.data(n), p0 = initial.get(n)!;
      const [lag, moved] = [dist(got, p), dist(p, p0)];
      assert.ok(moved > 0 && lag > 0.02 * moved, `${n}: |ema − p| = ${lag}, |p − p0| = ${moved}`);
    }
    for (const n of bnStats) worst.push([n, relErr(store.data(EMA_PREFIX + n), hand.get(n)!)]);
    const bad = worst.filter(([n, e]) => e > (bnStats.includes(n) ? 1e-4 : 2e-6));
    if (process.env.GANC_VERBOSE) console.log(worst.map(([n, e]) => `${n} ${e.toExponential(1)}`).join('\n'));
    assert.deepEqual(bad, [], `measured: ${worst.map(([n, e]) => `${n} ${e.toExponential(1)}`).join(', ')}`);
  });
}
