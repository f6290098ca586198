/** Rewire a graph after values were replaced by others (shared by the rewriting passes). */
import type { Graph, Node, Value } from '../ir.ts';

export function substitute(g: Graph, nodes: Node[], repl: Map<Value, Value>): Graph {
  const r = (v: Value): Value => {
    let x = v;
    while (repl.has(x)) x = repl.get(x)!;
    return x;
  };
  return {
    ...g,
    nodes: nodes.map((n) => (n.inputs.some((v) => repl.has(v)) ? { ...n, inputs: n.inputs.map(r) } : n)),
    outputs: g.outputs.map((o) => (repl.has(o.value) ? { ...o, value: r(o.value) } : o)),
  };
}
