/**
 * Folds a per-channel affine chain that follows a convolution (bias, inference-mode batch norm: + b, − mean,
 * ÷ √(var+ε), × γ, + β, all constants once the weights are baked in) into the convolution's weight and one bias.
 */
import { newValue } from '../builder.ts';
import type { ConstData, Graph, Node, Value } from '../ir.ts';
import { substitute } from './substitute.ts';

/** Per-channel constant of shape [1, C, 1, 1] (or broadcastable scalar): its C values, else undefined. */
function channelValues(c: ConstData | undefined, channels: number): Float64Array | undefined {
  if (!c || c.dtype !== 'float32') return undefined;
  const s = c.shape;
  if (c.data.length === 1) return new Float64Array(channels).fill(c.data[0]);
  const ok = s.length === 4 && s[0] === 1 && s[1] === channels && s[2] === 1 && s[3] === 1;
  return ok ? Float64Array.from(c.data as ArrayLike<number>) : undefined;
}

export function foldAffineIntoConv(g: Graph): Graph {
  const consts = new Map<Value, ConstData>();
  const uses = new Map<Value, Node[]>();
  for (const n of g.nodes) {
    if (n.op === 'Constant') consts.set(n.outputs[0], n.attrs.value as ConstData);
    for (const v of n.inputs) uses.set(v, [...(uses.get(v) ?? []), n]);
  }
  const outputs = new Set(g.outputs.map((o) => o.value));
  const drop = new Set<Node>();
  const added = new Map<Node, Node[]>();
  const repl = new Map<Value, Value>();

  for (const conv of g.nodes) {
    if ((conv.op !== 'Conv' && conv.op !== 'ConvTranspose') || !consts.has(conv.inputs[1])) continue;
    const w = consts.get(conv.inputs[1])!;
    const C = conv.outputs[0].shape[1];
    const scale = new Float64Array(C).fill(1);
    const shift = new Float64Array(C);
    let cur = conv.outputs[0];
    const chain: Node[] = [];
    for (;;) {
      const us = uses.get(cur) ?? [];
      if (us.length !== 1 || outputs.has(cur)) break;
      const n = us[0];
      const other = n.inputs[0] === cur ? n.inputs[1] : n.inputs[0];
      const k = channelValues(consts.get(other), C);
      if (!k || n.inputs.length !== 2 || n.outputs[0].shape.join() !== cur.shape.join()) break;
      const first = n.inputs[0] === cur;
      if (n.op === 'Add') for (let c = 0; c < C; c++) shift[c] += k[c];
      else if (n.op === 'Sub' && first) for (let c = 0; c < C; c++) shift[c] -= k[c];
      else if (n.op === 'Mul') for (let c = 0; c < C; c++) { scale[c] *= k[c]; shift[c] *= k[c]; }
      else if (n.op === 'Div' && first) for (let c = 0; c < C; c++) { scale[c] /= k[c]; shift[c] /= k[c]; }
      else break;
      chain.push(n);
      cur = n.outputs[0];
    }
    if (!chain.length) continue;
    // Conv weights are [M, C, kh, kw] (scale axis 0); ConvTranspose weights are [C, M, kh, kw] (scale axis 1).
    const [a0, a1, kh, kw] = w.shape;
    const wd = new Float32Array(w.data.length);
    for (let i = 0; i < a0; i++) for (let j = 0; j < a1; j++) {
      const s = scale[conv.op === 'Conv' ? i : j];
      for (let q = 0; q < kh * kw; q++) { const idx = (i * a1 + j) * kh * kw + q; wd[idx] = w.data[idx] * s; }
    }
    const wv = newValue(w.shape, 'float32');
    const y = newValue(conv.outputs[0].shape, 'float32');
    const bv = newValue([1, C, 1, 1], 'float32');
    const out = newValue(cur.shape, 'float32');
    added.set(conv, [
      { op: 'Constant', inputs: [], outputs: [wv], attrs: { value: { kind: 'const', dtype: 'float32', shape: w.shape, data: wd } }, site: conv.site },
      { ...conv, inputs: [conv.inputs[0], wv], outputs: [y] },
      { op: 'Constant', inputs: [], outputs: [bv], attrs: { value: { kind: 'const', dtype: 'float32', shape: [1, C, 1, 1], data: Float32Array.from(shift) } }, site: conv.site },
      { op: 'Add', inputs: [y, bv], outputs: [out], attrs: {}, site: conv.site },
    ]);
    drop.add(conv);
    chain.forEach((n) => drop.add(n));
    repl.set(cur, out);
  }
  const nodes = g.nodes.flatMap((n) => added.get(n) ?? (drop.has(n) ? [] : [n]));
  return substitute(g, nodes, repl);
}
