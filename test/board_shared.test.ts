/**
 * What the page and node share (web/shared/): the playground's latent walks and the browser trainer's seeded draws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolate, lerp, slerp } from '../web/shared/latent.js';
import { fillNoise, permutation, Random, TrainDraws } from '../web/shared/random.js';

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('slerp keeps a Gaussian sample\'s norm along the walk where lerp shrinks it; both ends are the endpoints', () => {
  const r = new Random(1);
  const a = fillNoise(r, new Float32Array(512), 'normal');
  const b = fillNoise(r, new Float32Array(512), 'normal');
  const mid = slerp(a, b, 0.5);
  const line = lerp(a, b, 0.5);
  const ends = (norm(a) + norm(b)) / 2;
  // Two independent 512-d Gaussians are nearly orthogonal: the straight line's middle is about 1/√2 as long.
  assert.ok(Math.abs(norm(mid) / ends - 1) < 0.03, `slerp middle norm ${norm(mid)} vs ${ends}`);
  assert.ok(Math.abs(norm(line) / ends - Math.SQRT1_2) < 0.05, `lerp middle norm ${norm(line)} vs ${ends}`);
  const walk = interpolate(a, b, 10, 'normal');
  assert.equal(walk.length, 10);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(walk[0][i] - a[i]) < 1e-5 && Math.abs(walk[9][i] - b[i]) < 1e-5);
  }
  // Uniform noise walks in a straight line; (anti)parallel vectors fall back to it rather than dividing by sin 0.
  assert.deepEqual(interpolate(a, b, 3, 'uniform')[1], lerp(a, b, 0.5));
  const neg = a.map((x) => -x);
  assert.ok(slerp(a, neg, 0.25).every(Number.isFinite));
  assert.deepEqual(slerp(a, a, 0.3), lerp(a, a, 0.3));
});

test('seeded draws: the same stream for the same seed, uniform in [-1, 1) and standard normal noise', () => {
  const u = fillNoise(new Random(7), new Float32Array(20000), 'uniform');
  assert.deepEqual(u, fillNoise(new Random(7), new Float32Array(20000), 'uniform'));
  assert.notDeepEqual(u, fillNoise(new Random(8), new Float32Array(20000), 'uniform'));
  assert.ok(u.every((v) => v >= -1 && v < 1));
  const mean = (v: Float32Array) => v.reduce((s, x) => s + x, 0) / v.length;
  assert.ok(Math.abs(mean(u)) < 0.02);
  const n = fillNoise(new Random(7), new Float32Array(20000), 'normal');
  const m = mean(n);
  const sd = Math.sqrt(n.reduce((s, x) => s + (x - m) ** 2, 0) / n.length);
  assert.ok(Math.abs(m) < 0.03 && Math.abs(sd - 1) < 0.03, `normal: mean ${m}, sd ${sd}`);
  assert.deepEqual([...permutation(new Random(3), 50)].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
});

test('training draws: whole batches of a fresh permutation per epoch, then 1 + gUpdatesPerD noise batches', () => {
  const d = new TrainDraws({ seed: 0, count: 10, batch: 4, zSize: 3, zDist: 'uniform', gUpdatesPerD: 2 });
  const a = d.next();
  const b = d.next();
  assert.equal(a.z.length, 3);
  assert.equal(a.z[0].length, 12);
  assert.equal(new Set([...a.indices, ...b.indices]).size, 8, 'no image twice in an epoch');
  assert.equal(b.epoch, 0);
  const c = d.next(); // 2 images left: the partial batch is dropped, a new epoch starts
  assert.equal(c.epoch, 1);
  assert.equal(c.indices.length, 4);
});
