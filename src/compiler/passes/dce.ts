/** Dead-node removal: keep only nodes the outputs need, and only inputs something uses. */
import { type Graph, liveNodes } from '../ir.ts';

export function removeDeadNodes(g: Graph): Graph {
  const nodes = liveNodes(g.nodes, g.outputs.map((o) => o.value));
  const used = new Set(nodes.flatMap((n) => n.inputs));
  for (const o of g.outputs) used.add(o.value);
  return { ...g, nodes, inputs: g.inputs.filter((i) => used.has(i.value)) };
}
