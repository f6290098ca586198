/** Test helpers: build a small IR graph with the DSL, compile it to ONNX, run it in onnxruntime-node. */
import ort from 'onnxruntime-node';
import { Builder } from '../../src/compiler/builder.ts';
import type { Graph, GraphIO, Value } from '../../src/compiler/ir.ts';
import { toOnnx } from '../../src/compiler/onnx.ts';
import { optimizeGraph } from '../../src/compiler/passes/index.ts';
import { gradients } from '../../src/compiler/autodiff.ts';
import { Tensor } from '../../src/dsl/tensor.ts';
import { Trace, withTrace } from '../../src/dsl/trace.ts';
import { createSession } from '../../src/runtime/ort.ts';

export type Feeds = Record<string, Float32Array>;

/**
 * Build a graph whose inputs are named float tensors; `fn` returns named outputs. With `grads`, the gradient of the
 * output `loss` (a scalar) w.r.t. each listed input is added as `grad/<input>`.
 */
export function buildGraph(
  inputs: Record<string, number[]>,
  fn: (x: Record<string, Tensor>) => Record<string, Tensor>,
  opts: { grads?: string[]; training?: boolean; optimize?: boolean } = {},
): Graph {
  const b = new Builder();
  const tr = new Trace(b, opts.training ?? true, new Map());
  return withTrace(tr, () => {
    const xs: Record<string, Tensor> = {};
    for (const [name, shape] of Object.entries(inputs)) xs[name] = new Tensor(tr.input(name, shape, 'data'));
    const outs = fn(xs);
    const outputs: GraphIO[] = Object.entries(outs).map(([name, t]) => ({ name, value: t.value, role: 'output' as const }));
    if (opts.grads?.length) {
      const loss = outs.loss.value;
      // A gradient may be asked for a declared input or for any other graph input the trace created (parameters).
      const valueOf = (n: string): Value => {
        const v = xs[n]?.value ?? tr.inputs.get(n)?.value;
        if (!v) throw new Error(`buildGraph: no input named ${n} (have ${[...tr.inputs.keys()].join(', ')})`);
        return v;
      };
      const wrt: Value[] = opts.grads.map(valueOf);
      const g = gradients(b, loss, wrt);
      opts.grads.forEach((n) => outputs.push({ name: `grad/${n}`, value: g.get(valueOf(n))!, role: 'grad' }));
    }
    const graph: Graph = { name: 'test', inputs: [...tr.inputs.values()].map((i) => ({ name: i.name, value: i.value, role: i.role })), outputs, nodes: b.nodes };
    return opts.optimize === false ? graph : optimizeGraph(graph);
  });
}

export async function runGraph(g: Graph, feeds: Feeds): Promise<Record<string, Float32Array>> {
  const runner = await openGraph(g);
  try {
    return await runner.run(feeds);
  } finally {
    await runner.release();
  }
}

export interface GraphRunner {
  run(feeds: Feeds): Promise<Record<string, Float32Array>>;
  release(): Promise<void>;
}

/** One session for many runs of the same graph (finite differences run a graph dozens of times). */
export async function openGraph(g: Graph, opts: { onnx?: Uint8Array; threads?: number } = {}): Promise<GraphRunner> {
  const session = await createSession(opts.onnx ?? toOnnx(g), opts.threads ? { threads: opts.threads } : {});
  return {
    async run(feeds) {
      const f: Record<string, ort.Tensor> = {};
      for (const i of g.inputs) {
        const data = feeds[i.name];
        if (!data) throw new Error(`missing feed ${i.name}`);
        if (data.length !== i.value.size) throw new Error(`feed ${i.name} has ${data.length} values, expected ${i.value.size}`);
        f[i.name] = new ort.Tensor('float32', data, [...i.value.shape]);
      }
      const out = await session.run(f);
      const r: Record<string, Float32Array> = {};
      for (const [k, v] of Object.entries(out)) r[k] = v.data as Float32Array;
      return r;
    },
    release: () => session.release(),
  };
}

/** Deterministic pseudo-random data in [lo, hi). */
export function randomData(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = lo + (hi - lo) * (s / 4294967296);
  }
  return out;
}
