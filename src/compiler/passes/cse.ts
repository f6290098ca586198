/** Common-subexpression elimination: nodes with the same op, inputs and attributes compute the same value. */
import type { AttrValue, Graph, Node, Value } from '../ir.ts';
import { substitute } from './substitute.ts';

const graphIds = new WeakMap<Graph, number>();
let nextGraphId = 1;

function attrKey(v: AttrValue): string {
  // Subgraphs compare by identity: two Loops are only the same if they run the very same body.
  if (typeof v === 'object' && 'nodes' in v) {
    if (!graphIds.has(v)) graphIds.set(v, nextGraphId++);
    return `graph#${graphIds.get(v)}`;
  }
  if (typeof v === 'object' && !Array.isArray(v)) return `${v.dtype}[${v.shape}]:${Array.from(v.data as ArrayLike<number>).join(',')}`;
  return JSON.stringify(v);
}

export function eliminateCommonSubexpressions(g: Graph): Graph {
  const repl = new Map<Value, Value>();
  const seen = new Map<string, Node>();
  const ids = new Map<Value, number>();
  let next = 0;
  const id = (v: Value) => {
    const x = repl.get(v) ?? v;
    if (!ids.has(x)) ids.set(x, next++);
    return ids.get(x)!;
  };
  const kept: Node[] = [];
  for (const n of g.nodes) {
    const key = `${n.op}(${n.inputs.map(id).join(',')})${Object.keys(n.attrs).sort().map((k) => `${k}=${attrKey(n.attrs[k])}`).join(';')}`;
    const prev = seen.get(key);
    if (prev) {
      n.outputs.forEach((o, i) => repl.set(o, prev.outputs[i]));
      continue;
    }
    seen.set(key, n);
    kept.push(n);
  }
  return substitute(g, kept, repl);
}
