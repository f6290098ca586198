/**
 * `ganc export` and `ganc sample` after a short real run: the standalone generator computes what the training-time
 * `generate` graph computes from the checkpoint's state (for any batch size), is a plain opset-17 ONNX file with its
 * weights as initializers and batch norm folded away, runs unchanged in onnxruntime-web, and samples to a grid.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import * as ortw from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { openRun } from '../src/cli/export.ts';
import type { Compiled } from '../src/compiler/compile.ts';
import { newValue } from '../src/compiler/builder.ts';
import type { Graph, Node } from '../src/compiler/ir.ts';
import { toOnnx } from '../src/compiler/onnx.ts';
import { foldConstants, optimizeGraph } from '../src/compiler/passes/index.ts';
import { substitute } from '../src/compiler/passes/substitute.ts';
import { Rng } from '../src/random.ts';
import { readCheckpoint } from '../src/runtime/checkpoint.ts';
import { createSession } from '../src/runtime/ort.ts';
import { readPng } from '../src/runtime/pictures.ts';
import { StateStore } from '../src/runtime/state.ts';
import { GraphRunner } from '../src/runtime/steps.ts';
import { sampleNoise } from '../src/runtime/batches.ts';
import { finished, ganc, logosFixture, show, spawnGanc, tempDir, TINY, type GancResult } from './helpers/logos_fixture.ts';

const STEPS = 12;
const Z = 100;

let run: string;
let file: string;
let grid: string;
let sampled: Promise<GancResult>;
let model: onnxProto.onnx.ModelProto;

before(async () => {
  const { logos } = await logosFixture();
  run = await tempDir('export');
  file = join(run, 'exported.onnx');
  grid = join(run, 'grid.png');
  const r = await ganc(['run', TINY, '--data', logos, '--out', run, '--steps', String(STEPS), '--sample-every', '1000', '--threads', '1']);
  assert.equal(r.code, 0, show(r));
  const e = await ganc(['export', run, '-o', file]);
  assert.equal(e.code, 0, show(e));
  assert.equal(e.stdout.trim(), `wrote ${file}`);
  // Sampling runs in its own process while the tests below work in this one.
  sampled = finished(await spawnGanc(['sample', file, '-n', '16', '-o', grid]));
  model = onnxProto.onnx.ModelProto.decode(readFileSync(file));
});

/** z for n images, seeded. */
const noise = (n: number, seed: string) => sampleNoise(new Rng(seed), n * Z, 'uniform');

/** The training-time generator: the compiled `generate` graph with the checkpoint's state as its state inputs. */
async function trainingGenerator(c: Compiled): Promise<(z: Float32Array, n: number) => Promise<Float32Array>> {
  const graph = c.graphs.find((g) => g.name === 'generate')!;
  const runner = new GraphRunner(c.manifest.graphs.generate, await createSession(toOnnx(graph, { dynamicBatch: c.def.batch }), { threads: 1 }));
  const store = new StateStore();
  for (const [name, t] of readCheckpoint(join(run, 'checkpoint.bin')).tensors) store.tensors.set(name, t);
  return async (z, n) => (await runner.run(store, { z: new ort.Tensor('float32', z, [n, Z]) })).image.data as Float32Array;
}

/** What bakeGenerator (src/runtime/export.ts) builds, without folding batch norm into the convolutions. */
function bakedUnfolded(c: Compiled, state: ReadonlyMap<string, Float32Array>): Graph {
  const g = c.graphs.find((x) => x.name === 'generate')!;
  const consts: Node[] = [];
  const repl = new Map();
  for (const i of g.inputs) {
    if (i.role === 'noise') continue;
    const v = newValue(i.value.shape, 'float32');
    consts.push({ op: 'Constant', inputs: [], outputs: [v], attrs: { value: { kind: 'const', dtype: 'float32', shape: i.value.shape, data: state.get(i.name)! } } });
    repl.set(i.value, v);
  }
  return optimizeGraph(foldConstants(substitute({ ...g, inputs: g.inputs.filter((i) => i.role === 'noise') }, [...consts, ...g.nodes], repl)));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('ganc export', () => {
  test('equals the training-time generator on the same z, for batch sizes 1 and 5 (training: 16)', async () => {
    const { compiled } = await openRun(run);
    assert.equal(compiled.def.batch, 16);
    const reference = await trainingGenerator(compiled);
    const exported = await createSession(file, { threads: 1 });
    for (const n of [1, 5]) {
      const z = noise(n, `export-${n}`);
      const want = await reference(z, n);
      const out = (await exported.run({ z: new ort.Tensor('float32', z, [n, Z]) })).image;
      assert.deepEqual(out.dims, [n, 3, 16, 16]);
      const got = out.data as Float32Array;
      assert.ok(got.every(Number.isFinite));
      const d = maxAbsDiff(got, want);
      assert.ok(d <= 1e-5, `batch ${n}: max |exported − training| = ${d}`);
      // Not a degenerate comparison: the images vary.
      assert.ok(Math.max(...got) - Math.min(...got) > 0.01);
    }
  });

  test('one input z [N, 100] with symbolic N, one output image [N, 3, 16, 16]', () => {
    const g = model.graph!;
    const dims = (v: onnxProto.onnx.IValueInfoProto) => v.type!.tensorType!.shape!.dim!;
    assert.deepEqual(g.input!.map((i) => i.name), ['z']);
    assert.deepEqual(g.output!.map((o) => o.name), ['image']);
    const [zn, zd] = dims(g.input![0]);
    assert.ok(zn.dimParam && !zn.dimValue, 'the batch dimension of z is not symbolic');
    assert.equal(Number(zd.dimValue), Z);
    const [on, ...chw] = dims(g.output![0]);
    assert.equal(on.dimParam, zn.dimParam);
    assert.deepEqual(chw.map((d) => Number(d.dimValue)), [3, 16, 16]);
    assert.equal(g.input![0].type!.tensorType!.elemType, onnxProto.onnx.TensorProto.DataType.FLOAT);
  });

  test('opset 17, default domain only, weights as initializers, metadata', () => {
    assert.deepEqual(model.opsetImport!.map((o) => [o.domain ?? '', Number(o.version)]), [['', 17]]);
    const g = model.graph!;
    for (const n of g.node!) assert.ok(!n.domain, `${n.opType} is in domain ${n.domain}`);
    assert.ok(!g.node!.some((n) => n.opType === 'Constant'), 'weights kept as Constant nodes');
    const inits = new Set(g.initializer!.map((t) => t.name));
    const deconvs = g.node!.filter((n) => n.opType === 'ConvTranspose');
    assert.equal(deconvs.length, 4);
    for (const n of deconvs) assert.ok(inits.has(n.input![1]), `ConvTranspose weight ${n.input![1]} is not an initializer`);
    const meta = Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value]));
    assert.equal(meta['ganc.model'], 'tiny-dcgan');
    assert.equal(meta['ganc.step'], String(STEPS));
    assert.equal(meta['ganc.z_size'], String(Z));
    assert.equal(meta['ganc.z_dist'], 'uniform');
    assert.equal(meta['ganc.image_size'], '16');
    assert.equal(meta['ganc.image_channels'], '3');
    assert.match(meta['ganc.model_hash'] ?? '', /^[0-9a-f]+$/);
  });

  test('batch norm after the deconvolutions is folded: ConvTranspose → Add → Relu/Tanh, fewer nodes', async () => {
    const g = model.graph!;
    const consumers = (name: string) => g.node!.filter((n) => n.input!.includes(name));
    for (const d of g.node!.filter((n) => n.opType === 'ConvTranspose')) {
      const [add, ...more] = consumers(d.output![0]);
      assert.equal(more.length, 0);
      assert.equal(add.opType, 'Add', `ConvTranspose is followed by ${add.opType}`);
      const [act] = consumers(add.output![0]);
      assert.match(act.opType!, /^(Relu|Tanh)$/, `ConvTranspose → Add → ${act.opType}`);
    }
    const firstDeconv = g.node!.findIndex((n) => n.opType === 'ConvTranspose');
    const after = g.node!.slice(firstDeconv).map((n) => n.opType);
    assert.deepEqual(after.filter((op) => ['Sub', 'Div', 'Sqrt', 'Mul', 'BatchNormalization'].includes(op!)), []);
    const { compiled, state } = await openRun(run);
    const unfolded = bakedUnfolded(compiled, state).nodes.filter((n) => n.op !== 'Constant').length;
    assert.ok(g.node!.length < unfolded, `${g.node!.length} nodes exported, ${unfolded} without folding`);
  });

  test('runs unchanged in onnxruntime-web (WASM) with the same outputs', async () => {
    ortw.env.wasm.numThreads = 1;
    const web = await ortw.InferenceSession.create(readFileSync(file), { executionProviders: ['wasm'] });
    const native = await createSession(file, { threads: 1 });
    for (const n of [1, 5]) {
      const z = noise(n, `web-${n}`);
      const a = (await native.run({ z: new ort.Tensor('float32', z, [n, Z]) })).image.data as Float32Array;
      const out = (await web.run({ z: new ortw.Tensor('float32', z, [n, Z]) })).image;
      assert.deepEqual(out.dims, [n, 3, 16, 16]);
      const d = maxAbsDiff(out.data as Float32Array, a);
      assert.ok(d <= 1e-4, `batch ${n}: max |web − node| = ${d}`);
    }
    await web.release();
  });

  test('ganc sample exported.onnx -n 16 writes a 4×4 grid', async () => {
    const r = await sampled;
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout.trim(), `wrote ${grid}`);
    const png = await readPng(grid);
    const F = 7; // 74 px, scaled by the smallest whole factor that reaches 512
    const side = (4 * 16 + 5 * 2) * F;
    assert.deepEqual([png.width, png.height], [side, side]);
    // Tile interiors are generated pixels, not all one colour.
    const colours = new Set<number>();
    for (let t = 0; t < 16; t++) {
      for (let y = 0; y < 16; y++) {
        for (let x = 0; x < 16; x++) {
          const o = ((2 + Math.floor(t / 4) * 18 + y) * F * side + (2 + (t % 4) * 18 + x) * F) * 4;
          colours.add((png.rgba[o] << 16) | (png.rgba[o + 1] << 8) | png.rgba[o + 2]);
        }
      }
    }
    assert.ok(colours.size > 50, `only ${colours.size} colours`);
  });
});
