/**
 * Every graph of the new models — d_step, g_step and generate of tiny dcgan-r1, dcgan-wgan-gp, dcgan-sn-hinge,
 * dcgan-ema and of the all-in-one tiny_modern fixture, plus train_k of the models it accepts — passes ONNX's own
 * checker (onnx.checker.check_model with full_check, and ONNX shape inference against ganc's recorded shapes:
 * test/tools/check_onnx.py with Debian's python3-onnx; skipped, saying so, without it), and runs in onnxruntime-web
 * (WASM) with the outputs onnxruntime-node gives for the same feeds.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import * as ortw from 'onnxruntime-web';
import { compileGan, initArray } from '../src/compiler/compile.ts';
import { FUSED_GRAPH } from '../src/compiler/fuse_steps.ts';
import type { Graph } from '../src/compiler/ir.ts';
import { toOnnx } from '../src/compiler/onnx.ts';
import type { GanDef } from '../src/dsl/gan.ts';
import { StateStore } from '../src/runtime/state.ts';
import { draw, rng } from './helpers/gradcheck.ts';
import { MODELS } from './helpers/logos_fixture.ts';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const FIXTURES = ['tiny_r1.ts', 'tiny_wgan_gp.ts', 'tiny_sn_hinge.ts', 'tiny_ema.ts', 'tiny_modern.ts'];
/** Models train_k accepts (one D update per iteration, no noise but z). */
const FUSED = new Set(['tiny_r1.ts', 'tiny_sn_hinge.ts', 'tiny_ema.ts']);

interface Emitted { name: string; file: string; graph: Graph; bytes: Uint8Array; state: StateStore }
const emitted: Emitted[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'ganc-modern-onnx-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

before(async () => {
  for (const f of FIXTURES) {
    const def = (await import(path.join(MODELS, f))).default as GanDef;
    const c = compileGan(def, FUSED.has(f) ? { stepsPerRun: 2 } : {});
    const state = StateStore.fromInit(c.manifest, initArray(c));
    for (const g of c.graphs) {
      const bytes = toOnnx(g); // as `ganc compile` writes it
      const file = path.join(dir, `${def.name}.${g.name}.onnx`);
      writeFileSync(file, bytes);
      emitted.push({ name: `${def.name} ${g.name}`, file, graph: g, bytes, state });
    }
  }
});

test('the graphs: three per model, train_k where accepted', () => {
  assert.equal(emitted.length, 3 * FIXTURES.length + FUSED.size);
  assert.equal(emitted.filter((e) => e.graph.name === FUSED_GRAPH).length, FUSED.size);
});

test('onnx.checker.check_model(full_check=True) and ONNX shape inference agree (python3-onnx)', (t) => {
  const py = [process.env.GANC_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)
    .find((p) => spawnSync(p, ['-c', 'import onnx, onnx.checker, onnx.shape_inference'], { encoding: 'utf8' }).status === 0);
  if (!py) return t.skip('python3 cannot import onnx: apt-get install -y python3-onnx (or set GANC_PYTHON) to run this check');
  const r = spawnSync(py, [path.join(root, 'test/tools/check_onnx.py'), ...emitted.map((e) => e.file)], { encoding: 'utf8', timeout: 300_000 });
  for (const l of r.stdout.trim().split('\n')) t.diagnostic(l);
  assert.equal(r.status, 0, `check_onnx.py failed:\n${r.stdout}${r.stderr}`);
  assert.equal(r.stdout.trim().split('\n').filter((l) => l.startsWith('ok ')).length, emitted.length, r.stdout);
});

test('every graph runs in onnxruntime-web with onnxruntime-node\'s outputs', async (t) => {
  ortw.env.wasm.numThreads = 1;
  for (const e of emitted) {
    await t.test(e.name, async () => {
      const r = rng(e.name.length);
      const feeds: Record<string, Float32Array> = {};
      for (const i of e.graph.inputs) {
        // State from the initial values; data and noise drawn (uniform noise inputs in [0, 1)).
        feeds[i.name] = e.state.has(i.name) ? e.state.data(i.name) : draw(i.value.size, 'uniform', r).map((x) => (i.role === 'noise' && !/^z(_seq)?$/.test(i.name) ? (x + 1) / 2 : x));
        // Adam's second moments as after some steps (v = 1 at step 10): at v = 0 Adam turns the rounding noise of a
        // gradient that is mathematically zero (a bias before batch norm) into a step of a good part of lr with
        // the noise's sign, which differs between any two runtimes and then moves everything after it.
        if (/^adam\/[dg]\/v\//.test(i.name)) feeds[i.name] = new Float32Array(i.value.size).fill(1);
        if (/^adam\/[dg]\/step$/.test(i.name)) feeds[i.name] = Float32Array.of(10);
      }
      const shape = (i: Graph['inputs'][number]) => [...i.value.shape];
      const node = await ort.InferenceSession.create(e.bytes, { intraOpNumThreads: 1 });
      const web = await ortw.InferenceSession.create(e.bytes, { executionProviders: ['wasm'] });
      try {
        const a = await node.run(Object.fromEntries(e.graph.inputs.map((i) => [i.name, new ort.Tensor('float32', feeds[i.name], shape(i))])));
        const b = await web.run(Object.fromEntries(e.graph.inputs.map((i) => [i.name, new ortw.Tensor('float32', feeds[i.name], shape(i))])));
        assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
        // Each output to 1e-4 of its own largest value, or to 1e-5 of the largest of its kind (all of D's first
        // moments, say): a gradient that is zero but for rounding (a bias before batch norm) is all rounding, which
        // differs between runtimes (measured: 1e-7 against a largest first moment of 0.07–0.17).
        const kind = (n: string) => /^adam\/[dg]\/[mv]\//.exec(n)?.[0] ?? n;
        const peak = new Map<string, number>();
        for (const [n, x] of Object.entries(a)) peak.set(kind(n), Math.max(peak.get(kind(n)) ?? 0, maxAbs(x.data as Float32Array)));
        for (const [name, x] of Object.entries(a)) {
          const [p, q] = [x.data as Float32Array, b[name].data as Float32Array];
          assert.ok(p.every(Number.isFinite), `${name}: not finite`);
          const d = p.reduce((m, v, i) => Math.max(m, Math.abs(v - q[i])), 0);
          assert.ok(d <= Math.max(1e-4 * maxAbs(p), 1e-5 * peak.get(kind(name))!, 1e-10), `${name}: max |web − node| = ${d} (values up to ${maxAbs(p)})`);
        }
      } finally {
        await node.release();
        await web.release();
      }
    });
  }
});
