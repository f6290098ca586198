/**
 * A convolution's bias Add moved into the Conv / ConvTranspose itself (ONNX's optional input B): ORT adds the bias
 * while it writes the output, instead of in a separate pass over the activations. Runs on the training graphs after
 * autodiff (the bias gradient is already the Add's), so only the forward changes: Add(Conv(x, w), Reshape(b, [1, C,
 * 1, 1])) → Conv(x, w, b), where nothing else reads the bias-free output.
 */
import { type Graph, type Node, type Value } from '../ir.ts';
import { removeDeadNodes } from './dce.ts';

export function fuseConvBias(g: Graph): Graph {
  const producer = new Map<Value, Node>();
  const order = new Map<Node, number>();
  const uses = new Map<Value, number>();
  g.nodes.forEach((n, i) => {
    order.set(n, i);
    for (const o of n.outputs) producer.set(o, n);
    for (const v of n.inputs) uses.set(v, (uses.get(v) ?? 0) + 1);
  });
  const outputs = new Set(g.outputs.map((o) => o.value));
  const fused = new Map<Node, Node>();
  const drop = new Set<Node>();

  /** The [C] bias behind r = Reshape(b, [1, C, 1, 1]), if b exists before `conv` runs. */
  const biasOf = (r: Value, C: number, conv: Node): Value | undefined => {
    const rs = producer.get(r);
    if (!rs || rs.op !== 'Reshape' || r.shape.join() !== `1,${C},1,1`) return undefined;
    const b = rs.inputs[0];
    const from = producer.get(b);
    return b.shape.length === 1 && b.shape[0] === C && (!from || order.get(from)! < order.get(conv)!) ? b : undefined;
  };

  for (const add of g.nodes) {
    if (add.op !== 'Add') continue;
    for (const k of [0, 1]) {
      const y = add.inputs[k];
      const conv = producer.get(y);
      if (!conv || (conv.op !== 'Conv' && conv.op !== 'ConvTranspose') || conv.inputs.length !== 2 || fused.has(conv)) continue;
      if (uses.get(y) !== 1 || outputs.has(y) || add.outputs[0].shape.join() !== y.shape.join()) continue;
      const b = biasOf(add.inputs[1 - k], y.shape[1], conv);
      if (!b) continue;
      fused.set(conv, { ...conv, inputs: [...conv.inputs, b], outputs: [add.outputs[0]] });
      drop.add(add);
      break;
    }
  }
  if (!fused.size) return g;
  return removeDeadNodes({ ...g, nodes: g.nodes.flatMap((n) => (fused.has(n) ? [fused.get(n)!] : drop.has(n) ? [] : [n])) });
}
