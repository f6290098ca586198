/**
 * Constant folding and algebraic clean-up of what autodiff leaves behind: ops on constants become constants, and
 * x·1, x+0, x−0, x/1 become x (only where the shapes show the operation is a no-op).
 */
import type { ConstData, Graph, Node, Value } from '../ir.ts';
import { newValue } from '../builder.ts';
import { sameShape } from '../ir.ts';
import { opDef } from '../ops/registry.ts';
import { substitute } from './substitute.ts';

function isAll(c: ConstData | undefined, x: number): boolean {
  return !!c && c.dtype === 'float32' && Array.prototype.every.call(c.data, (v: number) => v === x);
}

export function foldConstants(g: Graph): Graph {
  const consts = new Map<Value, ConstData>();
  const repl = new Map<Value, Value>();
  const r = (v: Value) => repl.get(v) ?? v;
  const nodes: Node[] = [];
  for (const n0 of g.nodes) {
    const n = n0.inputs.some((v) => repl.has(v)) ? { ...n0, inputs: n0.inputs.map(r) } : n0;
    if (n.op === 'Constant') {
      consts.set(n.outputs[0], n.attrs.value as ConstData);
      nodes.push(n);
      continue;
    }
    const def = opDef(n.op);
    const ins = n.inputs.map((v) => consts.get(v));
    if (def.fold && n.outputs.length === 1 && ins.every((c) => c)) {
      const out = n.outputs[0];
      const c = def.fold(ins as ConstData[], n.attrs, { shape: out.shape, dtype: out.dtype });
      if (c) {
        const v = newValue(out.shape, out.dtype);
        nodes.push({ op: 'Constant', inputs: [], outputs: [v], attrs: { value: c }, site: n.site });
        consts.set(v, c);
        repl.set(out, v);
        continue;
      }
    }
    const identityOf = simplify(n, ins);
    if (identityOf) {
      repl.set(n.outputs[0], identityOf);
      continue;
    }
    nodes.push(n);
  }
  return substitute({ ...g, nodes: g.nodes as Node[] }, nodes, repl);
}

/** The input a node merely passes through, if it is a no-op. */
function simplify(n: Node, ins: (ConstData | undefined)[]): Value | undefined {
  const [a, b] = n.inputs;
  const out = n.outputs[0];
  const keeps = (v: Value) => sameShape(v.shape, out.shape) && v.dtype === out.dtype;
  switch (n.op) {
    case 'Mul':
      if (isAll(ins[1], 1) && keeps(a)) return a;
      if (isAll(ins[0], 1) && keeps(b)) return b;
      return undefined;
    case 'Add':
      if (isAll(ins[1], 0) && keeps(a)) return a;
      if (isAll(ins[0], 0) && keeps(b)) return b;
      return undefined;
    case 'Sub':
    case 'Div':
      return isAll(ins[1], n.op === 'Sub' ? 0 : 1) && keeps(a) ? a : undefined;
    case 'Identity':
    case 'StopGradient': // autodiff is done: it is a plain identity now
      return a;
    case 'Reshape':
    case 'Expand':
      return keeps(a) ? a : undefined;
    default:
      return undefined;
  }
}
