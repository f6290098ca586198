/**
 * passes/conv_forms.ts: every form it chooses computes what the plain op computes. Graphs with a convolution, its
 * input gradient and its weight gradient are run in onnxruntime-node with and without the pass (and with each form
 * alone); outputs and gradients must agree to float32 rounding. The cases are sized so that each form fires (asserted),
 * including uneven strides, output padding and kernels that do not divide the stride.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseConvForms, type ConvForms } from '../src/compiler/passes/conv_forms.ts';
import type { Graph } from '../src/compiler/ir.ts';
import { conv2d, deconv2d, mul, sum, type Tensor } from '../src/dsl/index.ts';
import { currentTrace } from '../src/dsl/trace.ts';
import { compileGan } from '../src/compiler/compile.ts';
import { variant } from '../src/dsl/gan.ts';
import { dcgan } from '../models/dcgan.ts';
import { buildGraph, randomData, runGraph } from './helpers/run_graph.ts';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { toOnnx } from '../src/compiler/onnx.ts';

const net = <T>(fn: () => T): T => currentTrace().network('n', fn);

interface Case {
  name: string;
  x: number[];
  layer: (x: Tensor) => Tensor;
  /** Forms that must fire when on (alone or with others; winograd takes precedence over phase and patches). */
  expect: (keyof ConvForms)[];
}

const cases: Case[] = [
  { name: 'conv2d k5 s2 SAME 4×4 → 2×2 (dense)', x: [3, 4, 4, 4], layer: (x) => conv2d(x, 6), expect: ['dense'] },
  { name: 'conv2d k3 s1 SAME 3×3 (dense, odd size)', x: [2, 3, 3, 3], layer: (x) => conv2d(x, 4, { kernel: 3, stride: 1 }), expect: ['dense'] },
  { name: 'conv2d k5 s2 VALID-ish pads 5×5 → 1×1 (dense)', x: [2, 2, 5, 5], layer: (x) => conv2d(x, 3, { padding: 'VALID' }), expect: ['dense'] },
  { name: 'deconv2d k5 s2 SAME 2×2 → 4×4 (dense)', x: [3, 6, 2, 2], layer: (x) => deconv2d(x, 4), expect: ['dense'] },
  { name: 'conv2d k5 s2 SAME 4×4 → 2×2, batch·pixels ≤ channels out (dense; weight gradient from channel-major patches)', x: [2, 3, 4, 4], layer: (x) => conv2d(x, 8), expect: ['dense'] },
  { name: 'deconv2d k5 s2 SAME 2×2 → 4×4, batch·pixels ≤ channels in (dense; weight gradient from channel-major patches)', x: [2, 8, 2, 2], layer: (x) => deconv2d(x, 3), expect: ['dense'] },
  { name: 'conv2d k5 s2 SAME 4×4 → 2×2, 256 → 512: a 32 MiB dense matrix, so channel-major patches for all three', x: [2, 256, 4, 4], layer: (x) => conv2d(x, 512), expect: ['dense'] },
  { name: 'deconv2d k5 s2 SAME 2×2 → 4×4, 512 → 256: a 32 MiB dense matrix, so channel-major patches for all three', x: [2, 512, 2, 2], layer: (x) => deconv2d(x, 256), expect: ['dense'] },
  { name: 'deconv2d k5 s2 SAME 4×4 → 8×8 (phase)', x: [3, 6, 4, 4], layer: (x) => deconv2d(x, 5), expect: ['phase'] },
  { name: 'deconv2d k5 s2 SAME 4×4 → 8×8, batch 256 (winograd, one tile, 16 batch chunks; phase without it)', x: [256, 128, 4, 4], layer: (x) => deconv2d(x, 128), expect: ['winograd', 'phase'] },
  { name: 'conv2d k5 s2 SAME 8×24, batch 96 (winograd, non-square, 1 × 3 tiles)', x: [96, 64, 8, 24], layer: (x) => conv2d(x, 256), expect: ['winograd'] },
  { name: 'conv2d k5 s2 SAME 16×16, batch 64 (winograd forward and input gradient, 4 batch chunks of 16)', x: [64, 64, 16, 16], layer: (x) => conv2d(x, 256), expect: ['winograd'] },
  { name: 'deconv2d k5 s2 SAME 8×8 → 16×16, batch 64 (winograd, 2 × 2 tiles)', x: [64, 256, 8, 8], layer: (x) => deconv2d(x, 64), expect: ['winograd'] },
  { name: 'deconv2d k4 s2 SAME 3×3 → 6×6 (phase, even kernel)', x: [2, 3, 3, 3], layer: (x) => deconv2d(x, 2, { kernel: 4 }), expect: ['phase'] },
  { name: 'deconv2d k3 s3 SAME 2×4 → 6×12 (phase, stride 3, non-square)', x: [2, 3, 2, 4], layer: (x) => deconv2d(x, 2, { kernel: 3, stride: 3 }), expect: ['phase'] },
  { name: 'deconv2d k5 s2 VALID 3×3 → 9×9 (phase, crop)', x: [2, 3, 3, 3], layer: (x) => deconv2d(x, 2, { padding: 'VALID' }), expect: ['phase'] },
  { name: 'conv2d k5 s2 SAME 8×8 → 4×4 (its input gradient is phase; forward and weight gradient patches)', x: [2, 3, 8, 8], layer: (x) => conv2d(x, 5), expect: ['phase', 'patches'] },
  { name: 'conv2d k5 s2 SAME 16×16, batch 24 (weight gradient from patches in 6 batch chunks)', x: [24, 160, 16, 16], layer: (x) => conv2d(x, 8), expect: ['patches'] },
  { name: 'conv2d k5 s2 SAME 32×32 (weight gradient from patches in 2 batch chunks)', x: [4, 64, 32, 32], layer: (x) => conv2d(x, 4), expect: ['patches'] },
  { name: 'conv2d k5 s2 SAME 8×8 → 4×4 with a 1.1 M-float weight (its gradient from the whole batch\'s patches)', x: [2, 210, 8, 8], layer: (x) => conv2d(x, 210), expect: ['patches'] },
  { name: 'conv2d k5 s2 SAME 8×8 → 4×4, batch 64, 128 → 256 (patches; 3.3 M floats, gathered again for the weight gradient)', x: [64, 128, 8, 8], layer: (x) => conv2d(x, 256), expect: ['patches'] },
  { name: 'conv2d k5 s2 SAME 8×8 → 4×4, 256 → 512 (forward from patches though its per-image GEMM is 52 M; input gradient phase)', x: [2, 256, 8, 8], layer: (x) => conv2d(x, 512), expect: ['patches', 'phase'] },
  { name: 'conv2d k3 s1 SAME 6×5 (patches, non-square)', x: [2, 3, 6, 5], layer: (x) => conv2d(x, 4, { kernel: 3, stride: 1 }), expect: ['patches'] },
];

const ALL: ConvForms = { dense: true, winograd: true, phase: true, patches: true };
const ONLY = (f: keyof ConvForms): ConvForms => ({ dense: false, winograd: false, phase: false, patches: false, [f]: true });
const convs = (x: Graph) => x.nodes.filter((n) => n.op === 'Conv' || n.op === 'ConvTranspose' || n.op === 'ConvWeightGrad').length;
/** The winograd form's weight transform [36·4, M·C] (components × phases): one per weight whose Conv / ConvTranspose has the form. */
const weightTransforms = (x: Graph) => x.nodes.filter((n) => n.op === 'MatMul' && n.outputs[0].shape.length === 2 && n.outputs[0].shape[0] === 144);

/** The layer, a loss against a fixed random tensor, and gradients w.r.t. its input and every parameter. */
function graphOf(c: Case): { g: Graph; feeds: Record<string, Float32Array> } {
  let params: string[] = [];
  const probe = buildGraph({ x: c.x }, ({ x }) => ({ y: net(() => c.layer(x)) }), { optimize: false });
  params = probe.inputs.filter((i) => i.role === 'param').map((i) => i.name);
  const yShape = probe.outputs[0].value.shape as number[];
  const g = buildGraph({ x: c.x, r: yShape }, ({ x, r }) => {
    const y = net(() => c.layer(x));
    return { y, loss: sum(mul(y, r)) };
  }, { grads: ['x', ...params] });
  const feeds: Record<string, Float32Array> = {};
  g.inputs.forEach((i, k) => (feeds[i.name] = randomData(i.value.size, 100 + k)));
  return { g, feeds };
}

/**
 * a ≈ b to float32 rounding, relative to their largest value — for the loss (one number, a sum of y·r with much
 * cancellation), relative to the largest y·r term's size instead, given as `scale`.
 */
function assertClose(a: Float32Array, b: Float32Array, what: string, scale = 0): void {
  assert.equal(a.length, b.length, what);
  let err = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    err = Math.max(err, Math.abs(a[i] - b[i]));
  }
  assert.ok(err <= 2e-5 * Math.max(scale, 1), `${what}: max difference ${err} (scale ${scale})`);
}

const largest = (v: Float32Array) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

for (const c of cases) {
  test(c.name, async () => {
    const { g, feeds } = graphOf(c);
    const plain = await runGraph(g, feeds);
    const ops = (x: Graph) => new Set(x.nodes.map((n) => n.op));
    for (const forms of [ALL, ONLY('dense'), ONLY('winograd'), ONLY('phase'), ONLY('patches'), { ...ONLY('phase'), patches: true }]) {
      const lowered = chooseConvForms(g, forms);
      const seen = ops(lowered);
      // dense and patches are told apart only when each is the one form on (both leave fewer convolution nodes and
      // both use MatMul and Gather); phase is the one form with DepthToSpace, winograd the one with a weight transform
      // [36·4, M·C], and it takes the convolutions phase would.
      const alone = (f: keyof ConvForms) => Object.entries(forms).every(([k, on]) => on === (k === f));
      const fewer = convs(lowered) < convs(g);
      const winograd = weightTransforms(lowered).length > 0;
      const fired = { dense: !alone('dense') || fewer, winograd, phase: seen.has('DepthToSpace'), patches: !alone('patches') || fewer };
      for (const f of c.expect) if (forms[f] && !(f === 'phase' && forms.winograd)) assert.ok(fired[f], `${f} form did not fire with ${JSON.stringify(forms)}`);
      const out = await runGraph(lowered, feeds);
      for (const k of Object.keys(plain)) assertClose(out[k], plain[k], `${k} with ${JSON.stringify(forms)}`, k === 'loss' ? largest(plain.y) * largest(feeds.r) : 0);
    }
  });
}

test('only the training graphs get the forms; generate (export) keeps ConvTranspose', () => {
  const c = compileGan(variant(dcgan({ size: 16, gf: 4, df: 4, channels: 3 }), { batch: 4 }));
  const ops = (name: string) => new Set(c.graphs.find((g) => g.name === name)!.nodes.map((n) => n.op));
  const plain = compileGan(variant(dcgan({ size: 16, gf: 4, df: 4, channels: 3 }), { batch: 4 }), { convForms: { dense: false, winograd: false, phase: false, patches: false } });
  const convNodes = (x: typeof c, name: string) => convs(x.graphs.find((g) => g.name === name)!);
  for (const step of ['d_step', 'g_step']) assert.ok(convNodes(c, step) < convNodes(plain, step), `${step} keeps every convolution`);
  assert.equal(convNodes(c, 'generate'), convNodes(plain, 'generate'));
  assert.ok(!ops('generate').has('DepthToSpace') && ops('generate').has('ConvTranspose'));
  // FLOPs are the model's arithmetic, whatever form runs it.
  assert.equal(c.manifest.flopsPerIteration, plain.manifest.flopsPerIteration);
});

test('winograd takes the DCGAN layers it pays on: 16×16 inputs of ≥ 128 × 128 channel pairs, not 8×8 ones, nor 32×32', () => {
  const transforms = (size: number, width: number, graph: string) => {
    const c = compileGan(variant(dcgan({ size, gf: width, df: width, channels: 3 }), { batch: 64 }));
    return weightTransforms(c.graphs.find((g) => g.name === graph)!).map((n) => n.outputs[0].shape[1]).sort((p, q) => p - q);
  };
  // 64 px: D's 128 → 256 conv and G's 256 → 128 deconv (16×16 side); not the 8×8 256 ↔ 512 layers or 32×32 ones.
  assert.deepEqual(transforms(64, 64, 'd_step'), [256 * 128, 256 * 128]);
  assert.deepEqual(transforms(64, 64, 'g_step'), [256 * 128, 256 * 128]);
  // 32 px width 64: 64 ↔ 128 channels at 16×16, too few pairs for the memory the form costs; width 32: 32 channels.
  assert.deepEqual(transforms(32, 64, 'd_step'), []);
  assert.deepEqual(transforms(32, 32, 'd_step'), []);
});

test('large patches are gathered again for the weight gradient, each Gather with its own index; small ones are shared', () => {
  // D's 8×8 → 4×4 layer of the 32 px DCGAN, batch 64: its whole-batch patches are [64, 16, 25, C].
  const patchGathers = (width: number) => {
    const c = compileGan(variant(dcgan({ size: 32, gf: width, df: width, channels: 3 }), { batch: 64 }));
    const d = c.graphs.find((g) => g.name === 'd_step')!;
    const gathers = d.nodes.filter((n) => n.op === 'Gather' && n.outputs[0].shape.join() === [64, 16, 25, width * 2].join());
    return { count: gathers.length, indices: new Set(gathers.map((n) => n.inputs[1])).size };
  };
  // Width 64 (3.3 M floats): real and fake images, once for the forward GEMM and once for the weight gradient.
  assert.deepEqual(patchGathers(64), { count: 4, indices: 2 });
  // Width 32 (1.6 M floats): the weight gradient reads the forward's patches.
  assert.deepEqual(patchGathers(32), { count: 2, indices: 1 });
});

test('ORT lays each tap-major weight gradient out once: its optimizer makes no Transpose of g·g (Adam as ((1−β2)·g)·g)', async () => {
  // ORT's transpose optimizer moves a Transpose below Mul(g, g) (two transposed inputs become one) while the first
  // moment still reads the transposed g: with Adam's v-term as (g·g)·(1−β2) every such weight was transposed twice.
  const c = compileGan(variant(dcgan({ size: 16, gf: 8, df: 8, channels: 3 }, 't'), { batch: 4 }));
  const dir = mkdtempSync(path.join(tmpdir(), 'ganc-ortopt-'));
  try {
    for (const name of ['d_step', 'g_step']) {
      const file = path.join(dir, `${name}.onnx`);
      await ort.InferenceSession.create(toOnnx(c.graphs.find((g) => g.name === name)!), { graphOptimizationLevel: 'all', optimizedModelFilePath: file, logSeverityLevel: 3 });
      const nodes = onnxProto.onnx.ModelProto.decode(readFileSync(file)).graph!.node!;
      const producer = new Map(nodes.flatMap((n) => (n.output ?? []).map((o) => [o, n] as const)));
      const transposes = nodes.filter((n) => n.opType === 'Transpose');
      const ofSquares = transposes.filter((t) => {
        const p = producer.get(t.input![0]);
        return p?.opType === 'Mul' && p.input![0] === p.input![1];
      });
      assert.ok(transposes.length > 0, `${name}: the forms' Transposes are there`);
      assert.deepEqual(ofSquares.map((t) => t.name), [], `${name}: Transposes of g·g`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the dense form\'s weight gradient comes out in the weight\'s layout where batch·pixels ≤ channels (no weight-sized Transpose), tap-major otherwise', () => {
  const transposedWeights = (x: number[], m: number) => {
    const { g } = graphOf({ name: '', x, layer: (v) => conv2d(v, m), expect: [] });
    const lowered = chooseConvForms(g, ALL);
    const w = g.inputs.find((i) => i.role === 'param' && i.value.shape.length === 4)!.value;
    return lowered.nodes.filter((n) => n.op === 'Transpose' && n.outputs[0].size === w.size).length;
  };
  assert.equal(transposedWeights([2, 3, 4, 4], 8), 0, 'N·Q = 8 ≤ M = 8');
  assert.equal(transposedWeights([3, 3, 4, 4], 8), 1, 'N·Q = 12 > M = 8');
});

test('no 32 MiB dense matrix: from there the Conv and its adjoint are GEMMs against channel-major patches', () => {
  for (const [x, layer] of [[[2, 256, 4, 4], (v: Tensor) => conv2d(v, 512)], [[2, 512, 2, 2], (v: Tensor) => deconv2d(v, 256)]] as const) {
    const { g } = graphOf({ name: '', x: [...x], layer, expect: [] });
    const lowered = chooseConvForms(g, ALL);
    const largest = Math.max(...lowered.nodes.flatMap((n) => n.outputs.map((o) => o.size)));
    assert.ok(largest < 1 << 23, `a value of ${largest} floats`);
    assert.equal(convs(lowered), 0);
  }
});

test('a Conv of an input ≤ 8×8 is a GEMM against patches however large its per-image GEMM, below 32 MiB of patches; the phase form\'s packed Conv is not', () => {
  const ortConvInputs = (x: number[]) => {
    const { g } = graphOf({ name: '', x, layer: (v) => conv2d(v, 512), expect: [] });
    return chooseConvForms(g, ALL).nodes.filter((n) => n.op === 'Conv').map((n) => n.inputs[0].shape.join('×'));
  };
  // 64 px D's 8×8 → 4×4 layer (52 M multiply-adds per image, 6.6 M floats of patches): the forward from patches; the
  // input gradient's packed phase Conv (75 M per image) stays ORT's.
  assert.deepEqual(ortConvInputs([64, 256, 8, 8]), ['64×512×4×4']);
  // Batch 96: 9.8 M floats of patches, over 32 MiB: ORT's Conv for the forward too.
  assert.deepEqual(ortConvInputs([96, 256, 8, 8]), ['96×256×8×8', '96×512×4×4']);
});

test('the winograd form splits phases and pads inside its transform Gemms: no Pad, SpaceToDepth or DepthToSpace', () => {
  const { g } = graphOf({ name: '', x: [64, 64, 16, 16], layer: (v) => conv2d(v, 256), expect: [] });
  const lowered = chooseConvForms(g, ONLY('winograd'));
  assert.equal(weightTransforms(lowered).length, 1, 'one transformed weight for the Conv and its ConvTranspose');
  const ops = lowered.nodes.map((n) => n.op);
  assert.deepEqual(['Pad', 'SpaceToDepth', 'DepthToSpace'].filter((op) => ops.includes(op)), []);
  assert.equal(convs(lowered), 1, 'only the weight gradient stays a convolution');
});
