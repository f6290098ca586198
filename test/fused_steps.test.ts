/**
 * train_k: K iterations in one ONNX Loop. From the same state, data and noise it must give the per-step losses and
 * the final state of K single-step iterations (d_step, then gUpdatesPerD × g_step); it is standard ONNX (opset 17,
 * default domain, body names that do not shadow outer ones); compiling it is opt-in and leaves the other graphs as
 * they were; and `ganc run --steps-per-run 4` logs the losses of `--steps-per-run 1`, also across a resume.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { compileGan, initArray, type Compiled } from '../src/compiler/compile.ts';
import { FUSED_GRAPH } from '../src/compiler/fuse_steps.ts';
import { OPSET, toOnnx } from '../src/compiler/onnx.ts';
import { STATE_ROLES } from '../src/compiler/ir.ts';
import { graphToText } from '../src/compiler/text.ts';
import { variant, type GanDef } from '../src/dsl/gan.ts';
import { readCheckpoint } from '../src/runtime/checkpoint.ts';
import { readMetrics } from '../src/runtime/run_folder.ts';
import { StateStore } from '../src/runtime/state.ts';
import { openSessions } from '../src/runtime/steps.ts';
import { randomData } from './helpers/run_graph.ts';
import { ganc, logosFixture, show, tempDir, TINY } from './helpers/logos_fixture.ts';
import tiny from './fixtures/models/tiny_dcgan.ts';
import tinySsl from './fixtures/models/tiny_ssl.ts';
import { dcganSsl } from '../models/dcgan-ssl.ts';
import { dcgan } from '../models/dcgan.ts';
import tinyEma from './fixtures/models/tiny_ema.ts';
import tinyR1 from './fixtures/models/tiny_r1.ts';
import tinySnHinge from './fixtures/models/tiny_sn_hinge.ts';

const K = 3;
const STATE: ReadonlySet<string> = STATE_ROLES;
/** ORT may sum floats in another order inside a Loop body; measured here the results are bit-identical. */
const close = (a: number, b: number, scale: number) => Math.abs(a - b) <= 1e-5 * Math.max(Math.abs(a), Math.abs(b), scale) + 1e-12;

function assertClose(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  const scale = a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
  for (let i = 0; i < a.length; i++) assert.ok(close(a[i], b[i], scale), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** `unmoved`: parameters whose gradient is exactly zero in these iterations (so they legitimately stay put). */
async function compareWithSingleSteps(def: GanDef, unmoved: string[] = []): Promise<void> {
  const c = compileGan(def, { stepsPerRun: K });
  const G = def.gUpdatesPerD;
  const B = def.batch;
  const Z = def.z.size;
  const z = randomData(K * (1 + G) * B * Z, 12);
  // Every other per-iteration input (real images, labels, …): K stacked slices of arbitrary data.
  const perIter = new Map<string, number[]>();
  for (const n of ['d_step', 'g_step']) {
    for (const i of c.manifest.graphs[n].inputs) if (['data', 'label'].includes(i.role)) perIter.set(i.name, i.shape);
  }
  const seqs = new Map([...perIter].map(([name, shape], j) => [name, randomData(K * shape.reduce((a, b) => a * b, 1), 20 + j)]));
  // Losses and metrics: the fused graph's [K] outputs.
  const logged = c.manifest.graphs[FUSED_GRAPH].outputs.filter((o) => o.role === 'loss' || o.role === 'metric').map((o) => o.name);
  const single = StateStore.fromInit(c.manifest, initArray(c));
  const fused = StateStore.fromInit(c.manifest, initArray(c));
  const s = await openSessions(c, { threads: 1 });
  assert.ok(s.fused, 'train_k opened');

  const rows: Record<string, number>[] = [];
  for (let k = 0; k < K; k++) {
    const feeds = (j: number) => {
      const f: Record<string, ort.Tensor> = { z: new ort.Tensor('float32', z.subarray((k * (1 + G) + j) * B * Z, (k * (1 + G) + j + 1) * B * Z), [B, Z]) };
      for (const [name, shape] of perIter) {
        const n = shape.reduce((a, b) => a * b, 1);
        f[name] = new ort.Tensor('float32', seqs.get(name)!.subarray(k * n, (k + 1) * n), shape);
      }
      return f;
    };
    const row: Record<string, number> = {};
    const keep = (out: Record<string, ort.Tensor>) => { for (const n of logged) if (out[n]) row[n] = (out[n].data as Float32Array)[0]; };
    keep(await s.d.run(single, feeds(0)));
    for (let j = 0; j < G; j++) keep(await s.g.run(single, feeds(1 + j)));
    rows.push(row);
  }
  const seqFeeds: Record<string, ort.Tensor> = { z_seq: new ort.Tensor('float32', z, [K, 1 + G, B, Z]) };
  for (const [name, shape] of perIter) seqFeeds[`${name}_seq`] = new ort.Tensor('float32', seqs.get(name)!, [K, ...shape]);
  assert.deepEqual(Object.keys(seqFeeds).sort(), s.fused.entry.inputs.filter((i) => !STATE.has(i.role)).map((i) => i.name).sort());
  const out = await s.fused.run(fused, seqFeeds);
  assert.deepEqual(Object.keys(rows[0]).sort(), [...logged].sort());
  for (const n of logged) {
    assert.deepEqual(out[n].dims, [K]);
    assertClose(out[n].data as Float32Array, Float32Array.from(rows, (r) => r[n]), n);
  }
  for (const e of c.manifest.state) assertClose(fused.data(e.name), single.data(e.name), e.name);
  // The state moved (else the comparison proves little): every parameter of both networks changed.
  const init = StateStore.fromInit(c.manifest, initArray(c));
  for (const e of c.manifest.state.filter((x) => x.role === 'param' && !unmoved.includes(x.name))) {
    assert.ok(fused.data(e.name).some((v, i) => v !== init.data(e.name)[i]), `${e.name} did not change`);
  }
  await Promise.all([s.d, s.g, s.generate, s.fused].map((r) => r.session.release()));
}

describe('train_k equals K single-step iterations', () => {
  test(`tiny DCGAN (gUpdatesPerD ${tiny.gUpdatesPerD}), K = ${K}`, () => compareWithSingleSteps(tiny));
  test(`tiny DCGAN with gUpdatesPerD 1, K = ${K}`, () => compareWithSingleSteps(variant(tiny, { gUpdatesPerD: 1 })));
  test(`tiny semi-supervised DCGAN (labels), K = ${K}`, () => compareWithSingleSteps(tinySsl));
  test(`dcgan-ssl at 16 px (labelled batch, metrics, feature matching), K = ${K}`, () =>
    compareWithSingleSteps(variant(dcganSsl({}, { size: 16, gf: 8, df: 8, channels: 3 }), { batch: 8 })));
  // While every logit is inside the hinge's margin, D's last bias gets −mean(1) + mean(1) = 0.
  test(`tiny dcgan-sn-hinge (u vectors carried as state), K = ${K}`, () => compareWithSingleSteps(tinySnHinge, ['d/linear_0/b']));
  test(`tiny dcgan-ema (G's moving average and its BN statistics carried as state), K = ${K}`, () => compareWithSingleSteps(tinyEma));
  test(`tiny dcgan-r1 (a gradient penalty: second-order nodes in the loop body), K = ${K}`, () => compareWithSingleSteps(tinyR1));
  test(`dcgan at 32 px, width 16 (weight gradients summed in a Scan inside the loop body), K = ${K}`, async () => {
    const def = variant(dcgan({ size: 32, gf: 16, df: 16, channels: 3 }), { batch: 4 });
    assert.ok(compileGan(def).graphs.some((g) => g.nodes.some((n) => n.op === 'Scan')), 'the step graphs hold a Scan');
    await compareWithSingleSteps(def);
  });
});

/** Every node of a model, subgraphs included, with the names each graph defines. */
function walk(g: onnxProto.onnx.IGraphProto, visit: (n: onnxProto.onnx.INodeProto, depth: number) => void, scopes: Set<string>[] = [], depth = 0): void {
  const own = new Set<string>([...(g.input ?? []), ...(g.initializer ?? [])].map((x) => x.name!));
  for (const n of g.node ?? []) for (const o of n.output ?? []) own.add(o);
  for (const name of own) for (const outer of scopes) assert.ok(!outer.has(name), `${g.name}: ${name} shadows an outer name`);
  for (const n of g.node ?? []) {
    visit(n, depth);
    for (const a of n.attribute ?? []) if (a.g) walk(a.g, visit, [...scopes, own], depth + 1);
  }
}

describe('the fused graph', () => {
  let c: Compiled;
  let bytes: Uint8Array;
  before(() => {
    c = compileGan(tiny, { stepsPerRun: K });
    bytes = toOnnx(c.graphs.find((g) => g.name === FUSED_GRAPH)!);
  });

  test('inputs and outputs: state, *_seq data, [K] losses, state.next with updates', () => {
    const e = c.manifest.graphs[FUSED_GRAPH];
    const G = tiny.gUpdatesPerD;
    const io = (xs: typeof e.inputs) => Object.fromEntries(xs.filter((x) => !STATE.has(x.role)).map((x) => [x.name, x.shape]));
    assert.deepEqual(io(e.inputs), { z_seq: [K, 1 + G, tiny.batch, tiny.z.size], real_seq: [K, tiny.batch, 3, 16, 16] });
    assert.deepEqual(io(e.outputs), { d_loss: [K], g_loss: [K] });
    const stateIn = e.inputs.filter((x) => !['data', 'noise', 'label'].includes(x.role)).map((x) => x.name).sort();
    assert.deepEqual(stateIn, c.manifest.state.map((s) => s.name).sort(), 'every state tensor is carried');
    assert.deepEqual(e.outputs.filter((o) => o.updates).map((o) => [o.name, o.updates]).sort(), stateIn.map((n) => [`${n}.next`, n]).sort());
    // K iterations' work, less the losses of all but the last G step (logged by neither loop, so dead here).
    assert.ok(e.flops <= K * c.manifest.flopsPerIteration && e.flops > 0.999 * K * c.manifest.flopsPerIteration, `${e.flops}`);
  });

  test('IR 8, opset 17, default-domain ops (body included), no shadowed names, one Loop', () => {
    const m = onnxProto.onnx.ModelProto.decode(bytes);
    assert.equal(Number(m.irVersion), 8);
    assert.deepEqual(m.opsetImport.map((o) => [o.domain ?? '', Number(o.version)]), [['', OPSET]]);
    const loops: number[] = [];
    let bodyNodes = 0;
    walk(m.graph!, (n, depth) => {
      assert.ok(!n.domain || n.domain === 'ai.onnx', `${n.name}: domain ${n.domain}`);
      if (n.opType === 'Loop') loops.push(depth);
      if (depth > 0) bodyNodes++;
    });
    assert.deepEqual(loops, [0]);
    assert.ok(bodyNodes > 100, `body has ${bodyNodes} nodes`);
  });

  test('opt-in: without stepsPerRun the graphs and manifest are as before', () => {
    const plain = compileGan(tiny);
    assert.deepEqual(plain.graphs.map((g) => g.name), ['d_step', 'g_step', 'generate']);
    assert.deepEqual(c.graphs.map((g) => g.name), ['d_step', 'g_step', 'generate', FUSED_GRAPH]);
    plain.graphs.forEach((g, i) => assert.equal(graphToText(c.graphs[i]), graphToText(g)));
    const { [FUSED_GRAPH]: _, ...rest } = c.manifest.graphs;
    assert.deepEqual({ ...c.manifest, graphs: rest }, plain.manifest);
  });

  test('onnx.checker.check_model(full_check=True) (python3-onnx)', (t) => {
    const py = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import onnx.checker'], { encoding: 'utf8' }).status === 0);
    if (!py) return t.skip('python3 cannot import onnx (apt-get install -y python3-onnx)');
    const dir = mkdtempSync(join(tmpdir(), 'ganc-fused-'));
    try {
      const file = join(dir, 'train_k.onnx');
      writeFileSync(file, bytes);
      const r = spawnSync(py, ['-c', 'import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print("ok", onnx.__version__)', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      t.diagnostic(r.stdout.trim());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ganc run --steps-per-run 4', () => {
  const STEPS = 10;
  const dirs: Record<string, string> = {};
  const runs: Record<string, Awaited<ReturnType<typeof ganc>>> = {};
  before(async () => {
    const { logos } = await logosFixture();
    for (const k of ['one', 'four', 'resumed']) dirs[k] = await tempDir(`fused-${k}`);
    // ckpt-every 5 with K 4: chunks 1–4 fused, 5 single (checkpoint), 6–9 fused, 10 single.
    const args = (out: string, k: number, steps = STEPS) => ['run', TINY, '--data', logos, '--out', out, '--steps', String(steps), '--seed', '3', '--ckpt-every', '5', '--sample-every', '1000', '--threads', '1', '--steps-per-run', String(k)];
    [runs.one, runs.four, runs.part] = await Promise.all([ganc(args(dirs.one, 1)), ganc(args(dirs.four, 4)), ganc(args(dirs.resumed, 4, 6))]);
    runs.resumed = await ganc(['run', TINY, '--out', dirs.resumed, '--resume', '--steps', String(STEPS), '--threads', '1', '--steps-per-run', '4']);
  });

  test('all runs exit 0', () => {
    for (const r of Object.values(runs)) assert.equal(r.code, 0, show(r));
  });

  test('metrics.jsonl: the same steps, epochs and losses as --steps-per-run 1 (also across a resume)', () => {
    const one = readMetrics(join(dirs.one, 'metrics.jsonl'));
    assert.deepEqual(one.map((r) => r.step), Array.from({ length: STEPS }, (_, i) => i + 1));
    for (const k of ['four', 'resumed']) {
      const rows = readMetrics(join(dirs[k], 'metrics.jsonl'));
      assert.deepEqual(rows.map((r) => [r.step, r.epoch]), one.map((r) => [r.step, r.epoch]), k);
      rows.forEach((r, i) => {
        for (const n of ['d_loss', 'g_loss']) assert.ok(close(r[n], one[i][n], 1), `${k} step ${r.step} ${n}: ${r[n]} vs ${one[i][n]}`);
      });
    }
  });

  test('the final checkpoints hold the same state', () => {
    const ref = readCheckpoint(join(dirs.one, 'checkpoint.bin'));
    for (const k of ['four', 'resumed']) {
      const c = readCheckpoint(join(dirs[k], 'checkpoint.bin'));
      assert.equal(c.meta.step, STEPS);
      assert.deepEqual(c.meta.rng, ref.meta.rng, `${k}: noise RNG state`);
      assert.deepEqual(c.meta.data, ref.meta.data, `${k}: data order`);
      for (const [name, t] of ref.tensors) assertClose(c.tensors.get(name)!.data as Float32Array, t.data as Float32Array, `${k} ${name}`);
    }
  });
});
