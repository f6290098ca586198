/**
 * Batches: drawing the next iteration ahead (prefetch, while ORT runs the current one) changes nothing a run sees —
 * the same batches and noise in the same order, the current iteration's buffers untouched, and a checkpoint's draw
 * state from before the early draw, so that a resumed run continues the same sequence.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GanDef } from '../src/dsl/gan.ts';
import { Rng } from '../src/random.ts';
import { Batches, DataOrder } from '../src/runtime/batches.ts';
import type { Dataset } from '../src/runtime/data/images.ts';
import type { GraphRunner } from '../src/runtime/steps.ts';

const B = 4, S = 2, COUNT = 10;
const def = { batch: B, image: { channels: 3, size: S }, z: { size: 3, dist: 'uniform' }, dUpdatesPerG: 1, gUpdatesPerD: 2 } as unknown as GanDef;
const data: Dataset = {
  pixels: Uint8Array.from({ length: COUNT * 3 * S * S }, (_, i) => (i * 37) % 256), count: COUNT, size: S, skipped: [], source: '/data',
};
/** A graph's inputs as Batches reads them: real images and z. */
const runner = { entry: { inputs: [{ name: 'real', role: 'data', shape: [B, 3, S, S] }, { name: 'z', role: 'noise', shape: [B, 3] }] }, inputs: (role: string) => (role === 'data' ? ['real'] : role === 'noise' ? ['z'] : []) } as unknown as GraphRunner;
const runs = [runner, runner, runner];
const fresh = () => new Batches(def, data, new DataOrder(Uint32Array.from({ length: COUNT }, (_, i) => i), B, 7, 0, 0), new Rng('7/noise'), undefined, 1, runs);

/** Copies of every feed of iteration `it` (its three runs). */
function feedsOf(b: Batches, it: number): Float32Array[] {
  const { feeds } = b.single(it);
  return runs.flatMap((r, j) => Object.values(feeds(r, j)).map((t) => Float32Array.from(t.data as Float32Array)));
}

test('prefetched iterations see exactly the batches and noise of unprefetched ones, across an epoch boundary', () => {
  const plain = fresh(), ahead = fresh();
  for (let it = 0; it < 6; it++) { // 10 images, batch 4: a new epoch every 2 iterations
    const want = feedsOf(plain, it);
    const { feeds } = ahead.single(it);
    const live = runs.map((r, j) => feeds(r, j));
    const got = live.flatMap((f) => Object.values(f).map((t) => Float32Array.from(t.data as Float32Array)));
    const stateBefore = ahead.drawState();
    ahead.prefetch(it + 1);
    // The draw ahead went to the other slot: this iteration's feeds, still read by ORT, are unchanged.
    assert.deepEqual(live.flatMap((f) => Object.values(f).map((t) => Float32Array.from(t.data as Float32Array))), got, `iteration ${it} overwritten`);
    assert.deepEqual(got, want, `iteration ${it}`);
    // A checkpoint taken now records the state before the early draw: the plain run's, after iteration it.
    assert.deepEqual(ahead.drawState(), stateBefore);
    assert.deepEqual(ahead.drawState(), plain.drawState());
  }
});

test('an iteration other than the one drawn ahead is refused', () => {
  const b = fresh();
  b.single(0);
  b.prefetch(1);
  assert.throws(() => b.single(2), /drawn ahead/);
});
