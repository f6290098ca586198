/**
 * glibc's malloc hands the free top of its heap back to the kernel once it exceeds M_TRIM_THRESHOLD, and maps every
 * block above M_MMAP_THRESHOLD afresh. Both start small (128 KiB) and grow only as mapped blocks are freed: to the size
 * of the largest one freed so far, at most 32 MiB, and the trim threshold to twice that (mallopt(3)). A training step
 * frees its intermediates at its end and allocates them again in the next; with the thresholds where a model's own
 * blocks left them, each step faults much of that memory in anew. Node cannot call mallopt, and GLIBC_TUNABLES must
 * be set before it starts; freeing one mapped block of just under 32 MiB takes both thresholds to their limits at once,
 * as the largest block of a long run eventually would. 32 px width 32, bare iteration, 8 processes each: 0.145–0.167 s
 * (median 0.163), 0–0.4 k page faults per iteration, against 0.150–0.252 s (median 0.21), 0.2–7.3 k; peak RSS 259–290
 * against 265–286 MB. At 64 px and 32 px width 64 no detectable difference in time (6 processes each), though their
 * faults per iteration in `npm run bench` fell from 1.6–6.4 k to 0.07–2.5 k. It costs ~0.2 s once per process.
 */
import ort from 'onnxruntime-node';
import { Builder, newValue } from '../compiler/builder.ts';
import { expand } from '../compiler/ops/shape.ts';
import { reduceSum } from '../compiler/ops/reduce.ts';
import { toOnnx } from '../compiler/onnx.ts';
import type { Graph } from '../compiler/ir.ts';

/** Floats of the block: 32 MiB less 8 KiB, room for malloc's header and ORT's alignment in glibc's 32 MiB limit. */
const BLOCK_FLOATS = (32 * 1024 * 1024 - 8192) / 4;

let raised: Promise<void> | undefined;

/**
 * Once per process, before its training sessions open, where the C library is glibc: ORT allocates and frees one such
 * block (Expand → ReduceSum). Only speed depends on it, so a failure is ignored; commands that open no training
 * session (export, eval) do not pay for it.
 */
export function raiseMallocThresholds(): Promise<void> {
  raised ??= (async () => {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    if (!report?.header?.glibcVersionRuntime) return;
    const session = await ort.InferenceSession.create(toOnnx(blockGraph(BLOCK_FLOATS)), { enableCpuMemArena: false, enableMemPattern: false, intraOpNumThreads: 1 });
    await session.run({ x: new ort.Tensor('float32', new Float32Array([0]), [1]) });
    await session.release();
  })().catch(() => undefined);
  return raised;
}

/** A graph whose one intermediate is a block of `floats` floats (x expanded), freed within the run: Σ of it. */
export function blockGraph(floats: number): Graph {
  const b = new Builder();
  const x = newValue([1], 'float32');
  const sum = reduceSum(b, expand(b, x, [floats]), [0]);
  return { name: 'block', inputs: [{ name: 'x', value: x, role: 'data' }], outputs: [{ name: 'sum', value: sum, role: 'data' }], nodes: b.nodes };
}
