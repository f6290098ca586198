/**
 * Replaced state is freed at once (src/runtime/release.ts): onnxruntime-node hands every output back in a new
 * ArrayBuffer, and without this each step's old parameters and Adam moments waited for V8's next full collection. The
 * store keeps the first update's arrays and copies later updates into them (src/runtime/state.ts).
 * A view into a larger buffer (the compiled model's initial values, a checkpoint read whole) must never be touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { compileGan, initArray, type Manifest } from '../src/compiler/compile.ts';
import { numel } from '../src/compiler/ir.ts';
import { variant } from '../src/dsl/gan.ts';
import { dcgan } from '../models/dcgan.ts';
import { release } from '../src/runtime/release.ts';
import { StateStore } from '../src/runtime/state.ts';

const MB = 1 << 20;

test('release frees an array that owns its whole buffer, at once', () => {
  const a = new Float32Array(4 * MB).fill(1); // 16 MB
  const before = process.memoryUsage().arrayBuffers;
  release(a);
  assert.equal(a.length, 0, 'detached');
  assert.ok(before - process.memoryUsage().arrayBuffers >= 16 * MB - 1, 'its memory is no longer counted');
});

test('release leaves views into a larger buffer (and empty arrays) alone', () => {
  const whole = Float32Array.from({ length: 10 }, (_, i) => i);
  const head = whole.subarray(0, 4), tail = whole.subarray(4);
  release(head);
  release(tail);
  release(new Float32Array(0));
  release([1, 2, 3]);
  assert.deepEqual([...whole], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(tail.length, 6);
});

test('StateStore.apply keeps the first update as its own arrays, copies later updates into them and frees each run\'s copy', () => {
  const manifest = { state: [{ name: 'w', shape: [2, 3], offset: 0 }, { name: 'm', shape: [3], offset: -1 }] } as unknown as Manifest;
  const init = Float32Array.from({ length: 6 }, (_, i) => i + 1);
  const store = StateStore.fromInit(manifest, init);
  const updates = new Map([['w.next', 'w'], ['m.next', 'm']]);
  const step = (v: number) => ({
    'w.next': new ort.Tensor('float32', new Float32Array(6).fill(v), [2, 3]),
    'm.next': new ort.Tensor('float32', new Float32Array(3).fill(v), [3]),
    loss: new ort.Tensor('float32', Float32Array.of(v), [1]),
  });
  const m0 = store.data('m');
  const first = step(7);
  store.apply(first, updates);
  // w's initial value spans all of `init` here, and other stores may read it: not the store's to free.
  assert.deepEqual([...init], [1, 2, 3, 4, 5, 6], 'the initial values are kept');
  assert.equal(m0.length, 0, "a zero slot is the store's own: freed");
  assert.equal(store.get('w'), first['w.next'], 'the first update is kept as it is');
  const w = store.get('w'), m = store.get('m');
  const second = step(8);
  store.apply(second, updates);
  assert.equal(store.get('w'), w, 'later updates land in the same tensor');
  assert.equal(store.get('m'), m);
  assert.deepEqual([...(w.data as Float32Array)], [8, 8, 8, 8, 8, 8]);
  assert.deepEqual([...(m.data as Float32Array)], [8, 8, 8]);
  assert.equal((second['w.next'].data as Float32Array).length, 0, "the run's copy was freed");
  assert.equal((second['m.next'].data as Float32Array).length, 0);
  assert.deepEqual([...(second.loss.data as Float32Array)], [8], 'outputs that are not state stay');
  store.apply(step(9), updates);
  assert.deepEqual([...store.data('w')], [9, 9, 9, 9, 9, 9]);
});

test('StateStore.initial: the compiled initial state, each tensor its own and freed by the first update', () => {
  const c = compileGan(variant(dcgan({ size: 16, gf: 4, df: 4, channels: 3 }), { batch: 4 }));
  const own = StateStore.initial(c), views = StateStore.fromInit(c.manifest, initArray(c));
  assert.ok(c.manifest.state.some((e) => e.offset < 0) && c.manifest.state.some((e) => e.offset >= 0));
  for (const e of c.manifest.state) assert.deepEqual(own.data(e.name), views.data(e.name), e.name);
  const w = c.manifest.state.find((e) => e.offset >= 0)!;
  const before = own.data(w.name);
  assert.ok(before.some((v) => v !== 0), 'a parameter with its initial values');
  own.apply({ next: new ort.Tensor('float32', new Float32Array(before.length), w.shape) }, new Map([['next', w.name]]));
  assert.equal(before.length, 0, 'freed when replaced');
});

test('StateStore.initial with a checkpoint\'s tensors takes them as they are and never frees them', () => {
  const c = compileGan(variant(dcgan({ size: 16, gf: 4, df: 4, channels: 3 }), { batch: 4 }));
  const [a, b] = c.manifest.state;
  // A buffer of its own, so that only the ownership rule (not the whole-buffer check) keeps it.
  const file = new Float32Array(numel(a.shape)).fill(0.5);
  const fromFile = new ort.Tensor('float32', file, a.shape);
  const store = StateStore.initial(c, new Map([[a.name, fromFile]]));
  assert.equal(store.get(a.name), fromFile);
  assert.deepEqual(store.data(b.name), StateStore.initial(c).data(b.name), 'the others start from their initial values');
  const bInitial = store.data(b.name);
  store.apply({ a: new ort.Tensor('float32', new Float32Array(numel(a.shape)), a.shape), b: new ort.Tensor('float32', new Float32Array(bInitial.length), b.shape) }, new Map([['a', a.name], ['b', b.name]]));
  assert.equal(file.length, numel(a.shape), "the checkpoint's tensor is not the store's to free");
  assert.equal(bInitial.length, 0, 'an initial value is');
});
