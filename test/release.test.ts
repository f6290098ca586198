/**
 * Replaced state is freed at once (src/runtime/release.ts): onnxruntime-node hands every output back in a new
 * ArrayBuffer, and without this each step's old parameters and Adam moments waited for V8's next full collection.
 * A view into a larger buffer (the compiled model's initial values, a checkpoint read whole) must never be touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import type { Manifest } from '../src/compiler/compile.ts';
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

test('StateStore.apply frees what an earlier step returned and its own zero slots when replaced, never the initial values', () => {
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
  assert.deepEqual([...store.data('w')], [7, 7, 7, 7, 7, 7]);
  store.apply(step(8), updates);
  assert.equal((first['w.next'].data as Float32Array).length, 0, "the first step's parameters were freed");
  assert.equal((first['m.next'].data as Float32Array).length, 0);
  assert.deepEqual([...(first.loss.data as Float32Array)], [7], 'outputs that are not state stay');
  assert.deepEqual([...store.data('w')], [8, 8, 8, 8, 8, 8]);
  assert.deepEqual([...store.data('m')], [8, 8, 8]);
});
