// Independent validation of what `ganc compile models/dcgan.ts` writes: the files, not ganc's in-memory graphs.
//   - every graph loads in onnxruntime-node (its own schema and type checks), with the manifest's inputs/outputs;
//   - decoded with onnx-proto: IR version 8, opset 17, default-domain ops only, SSA and topological order, and a
//     recorded static shape for every node output (value_info or graph output);
//   - if python3's `onnx` is installed (Debian python3-onnx): test/tools/check_onnx.py runs
//     onnx.checker.check_model(full_check=True) and ONNX's shape inference against ganc's recorded shapes.
//     Without it that test is skipped (CI installs it).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import type { Manifest } from '../src/compiler/compile.ts';

const { onnx } = onnxProto;
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const MODEL = 'models/dcgan.ts';
const out = mkdtempSync(path.join(tmpdir(), 'ganc-onnx-check-'));
process.on('exit', () => rmSync(out, { recursive: true, force: true }));

let manifest: Manifest;
let files: string[] = [];
let timing = '';

before(async () => {
  const t0 = performance.now();
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [path.join(root, 'bin/ganc.mjs'), 'compile', MODEL, '-o', out], { cwd: root, timeout: 300_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
  });
  const wall = (performance.now() - t0) / 1000;
  assert.equal(r.code, 0, `ganc compile ${MODEL} failed:\n${r.stderr}`);
  const inner = /wrote \d+ files to .* in ([\d.]+) s/.exec(r.stdout)?.[1];
  timing = `ganc compile ${MODEL}: ${wall.toFixed(2)} s for the whole process, ${inner ?? '?'} s reported by ganc (load, compile, write)`;
  manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as Manifest;
  files = Object.values(manifest.graphs).map((g) => path.join(out, g.file));
});

test('compile time (reported, not asserted)', (t) => {
  t.diagnostic(timing);
  assert.deepEqual(Object.keys(manifest.graphs).sort(), ['d_step', 'g_step', 'generate']);
});

test('every graph loads in onnxruntime-node with the manifest\'s inputs and outputs', async () => {
  for (const [name, g] of Object.entries(manifest.graphs)) {
    let s: ort.InferenceSession;
    try {
      s = await ort.InferenceSession.create(path.join(out, g.file), { graphOptimizationLevel: 'basic' });
    } catch (e) {
      assert.fail(`${g.file} does not load: ${(e as Error).message}`);
    }
    assert.deepEqual([...s.inputNames].sort(), g.inputs.map((i) => i.name).sort(), `${name} inputs`);
    assert.deepEqual([...s.outputNames].sort(), g.outputs.map((o) => o.name).sort(), `${name} outputs`);
    await s.release();
  }
});

type VI = onnxProto.onnx.IValueInfoProto;

/** Static dims of a value_info, or a reason why it has none. */
function shapeOf(v: VI): number[] | string {
  const tt = v.type?.tensorType;
  if (!tt) return 'not a tensor type';
  if (!tt.elemType) return 'no element type';
  if (!tt.shape) return 'no shape';
  const dims: number[] = [];
  for (const d of tt.shape.dim ?? []) {
    const n = d.dimValue == null ? NaN : Number(d.dimValue);
    if (!(n > 0)) return `dimension without a static size (${JSON.stringify(d)})`;
    dims.push(n);
  }
  return dims;
}

test('decoded: IR 8, opset 17, default-domain ops, SSA in topological order, a shape for every value', () => {
  for (const [name, g] of Object.entries(manifest.graphs)) {
    const m = onnx.ModelProto.decode(readFileSync(path.join(out, g.file)));
    const where = `${g.file}:`;
    assert.equal(Number(m.irVersion), 8, `${where} IR version`);
    assert.deepEqual((m.opsetImport ?? []).map((o) => [o.domain ?? '', Number(o.version)]), [['', 17]], `${where} opset imports`);
    assert.ok(m.graph, `${where} no graph`);
    const graph = {
      node: m.graph.node ?? [], input: m.graph.input ?? [], output: m.graph.output ?? [],
      valueInfo: m.graph.valueInfo ?? [], initializer: m.graph.initializer ?? [],
    };
    assert.ok(graph.node.length > 0, `${where} no nodes`);

    const odd = graph.node.filter((n) => n.domain && n.domain !== 'ai.onnx').map((n) => `${n.domain}::${n.opType}`);
    assert.deepEqual([...new Set(odd)], [], `${where} ops outside the default domain`);

    const shapes = new Map<string, number[] | string>();
    for (const v of [...graph.input, ...graph.valueInfo, ...graph.output]) shapes.set(v.name!, shapeOf(v));
    for (const v of graph.input) assert.ok(Array.isArray(shapes.get(v.name!)), `${where} input ${v.name}: ${shapes.get(v.name!)}`);
    for (const v of graph.output) assert.ok(Array.isArray(shapes.get(v.name!)), `${where} output ${v.name}: ${shapes.get(v.name!)}`);

    const defined = new Set<string>([...graph.input.map((v) => v.name!), ...graph.initializer.map((t) => t.name!)]);
    const problems: string[] = [];
    for (const n of graph.node) {
      for (const i of n.input ?? []) if (i && !defined.has(i)) problems.push(`${n.opType} ${n.name} reads ${i} before it is defined`);
      for (const o of n.output ?? []) {
        if (!o) continue;
        if (defined.has(o)) problems.push(`${o} is defined twice`);
        defined.add(o);
        const s = shapes.get(o);
        if (!Array.isArray(s)) problems.push(`${n.opType} output ${o}: ${s ?? 'no value_info'}`);
      }
    }
    for (const o of graph.output) if (!defined.has(o.name!)) problems.push(`graph output ${o.name} is never computed`);
    assert.deepEqual(problems.slice(0, 20), [], `${where} ${problems.length} problems`);

    // The recorded shapes of the graph's inputs and outputs are the manifest's.
    for (const io of [...g.inputs, ...g.outputs]) assert.deepEqual(shapes.get(io.name), io.shape, `${where} ${name} ${io.name}`);
  }
});

/** A python3 that can `import onnx`: $GANC_PYTHON, python3 on PATH, or the system's (pyenv shims hide Debian's). */
function pythonWithOnnx(): string | undefined {
  const candidates = [process.env.GANC_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const py of [...new Set(candidates)]) {
    const r = spawnSync(py, ['-c', 'import onnx, onnx.checker, onnx.shape_inference'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

test('onnx.checker.check_model(full_check=True) and ONNX shape inference agree (python3-onnx)', (t) => {
  const py = pythonWithOnnx();
  if (!py) {
    t.skip('python3 cannot import onnx: apt-get install -y python3-onnx (or set GANC_PYTHON) to run this check');
    return;
  }
  const r = spawnSync(py, [path.join(root, 'test/tools/check_onnx.py'), ...files], { encoding: 'utf8', timeout: 300_000 });
  for (const l of r.stdout.trim().split('\n')) t.diagnostic(l);
  assert.equal(r.status, 0, `check_onnx.py failed:\n${r.stdout}${r.stderr}`);
  assert.equal(r.stdout.trim().split('\n').filter((l) => l.startsWith('ok ')).length, files.length, r.stdout);
});
