/**
 * runtime/heap.ts: raiseMallocThresholds takes glibc's mmap threshold to ~32 MiB and its trim threshold to ~64 MiB.
 * Seen from a fresh node process (a fresh heap): a 24 MiB intermediate of an ORT run, which glibc maps on its own
 * while its mmap threshold is still at the initial 128 KiB, comes from the heap ([heap] in /proc/self/maps) once the
 * thresholds are raised, and stays there after the run frees it (below the trim threshold) for the next run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const script = (raise: boolean) => `
import ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { blockGraph, raiseMallocThresholds } from './src/runtime/heap.ts';
import { toOnnx } from './src/compiler/onnx.ts';
const heapMiB = () => {
  const line = readFileSync('/proc/self/maps', 'utf8').split('\\n').find((l) => l.endsWith('[heap]'));
  const [lo, hi] = line.split(' ')[0].split('-').map((h) => parseInt(h, 16));
  return (hi - lo) / 2 ** 20;
};
${raise ? 'await raiseMallocThresholds();' : ''}
const session = await ort.InferenceSession.create(toOnnx(blockGraph(24 * 2 ** 18)), { enableCpuMemArena: false, enableMemPattern: false, intraOpNumThreads: 1 });
const before = heapMiB();
const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([1]), [1]) });
console.log(JSON.stringify({ grown: heapMiB() - before, sum: out.sum.data[0] }));
`;
const run = (raise: boolean) =>
  JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(raise)], { cwd: root, encoding: 'utf8' })) as { grown: number; sum: number };

test('raised malloc thresholds: a 24 MiB block comes from the heap and stays there when freed; without, glibc maps it', { skip: process.platform !== 'linux' }, () => {
  const plain = run(false);
  const raised = run(true);
  assert.equal(raised.sum, 24 * 2 ** 18, 'the graph ran (Σ of 24 MiB of ones)');
  assert.ok(raised.grown >= 20, `with: the heap grew ${raised.grown} MiB`);
  assert.ok(plain.grown < 8, `without: the heap grew ${plain.grown} MiB`);
});
