/**
 * How ORT's idle worker threads wait (src/runtime/ort.ts's Spin) is a matter of speed only: the session options each
 * mode sets, and training steps on two threads that give the same numbers bit for bit under every mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { compileGan } from '../src/compiler/compile.ts';
import { variant } from '../src/dsl/gan.ts';
import { dcgan } from '../models/dcgan.ts';
import { type Spin, threadOptions } from '../src/runtime/ort.ts';
import { StateStore } from '../src/runtime/state.ts';
import { openSessions } from '../src/runtime/steps.ts';

test('brief spins up to 1 ms, off sleeps at once, on leaves ORT its own loop', () => {
  assert.deepEqual(threadOptions('brief'), { extra: { session: { intra_op: { allow_spinning: '1', spin_duration_us: '1000' }, inter_op: { allow_spinning: '0' } } } });
  assert.deepEqual(threadOptions('off'), { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } });
  assert.deepEqual(threadOptions('on'), {});
});

test('three D + G iterations on two threads: the same state, bit for bit, whichever way idle threads wait', async () => {
  const c = compileGan(variant(dcgan({ size: 16, gf: 8, df: 8, channels: 3 }), { batch: 8 }));
  const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7919 + i * 12.9898) % 1);
  const stateAfter = async (spin: Spin) => {
    const store = StateStore.initial(c);
    const sessions = await openSessions(c, { threads: 2, spin });
    for (let i = 0; i < 3; i++) {
      const real = new ort.Tensor('float32', rand(8 * 3 * 16 * 16, i), [8, 3, 16, 16]);
      const z = new ort.Tensor('float32', rand(8 * 100, 10 + i), [8, 100]);
      await sessions.d.run(store, { real, z });
      await sessions.g.run(store, { real, z });
    }
    return c.manifest.state.map((s) => Array.from(store.get(s.name).data as Float32Array));
  };
  const brief = await stateAfter('brief');
  const initial = StateStore.initial(c);
  assert.ok(brief.flat().every(Number.isFinite));
  assert.ok(c.manifest.state.some((s, i) => brief[i].some((v, j) => v !== (initial.get(s.name).data as Float32Array)[j])), 'the steps changed the state');
  assert.deepEqual(await stateAfter('off'), brief);
  assert.deepEqual(await stateAfter('on'), brief);
});
