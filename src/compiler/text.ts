/**
 * The readable text form of a graph: one line per node, values numbered in order of appearance, so the text depends
 * only on the graph's structure (it is what the snapshot tests pin).
 */
import type { AttrValue, ConstData, Graph, Value } from './ir.ts';
import { createHash } from 'node:crypto';

function constText(c: ConstData): string {
  const n = c.data.length;
  if (n <= 8) return `${c.dtype}[${c.shape.join(',')}]{${Array.from(c.data as ArrayLike<number>, (x) => +x.toPrecision(6)).join(', ')}}`;
  const h = createHash('sha256').update(Buffer.from(Float32Array.from(c.data as ArrayLike<number>).buffer)).digest('hex').slice(0, 10);
  return `${c.dtype}[${c.shape.join(',')}]#${h}`;
}

function attrText(v: AttrValue): string {
  if (typeof v === 'object' && 'nodes' in v) return `graph ${v.name} (${v.inputs.length} in, ${v.outputs.length} out, ${v.nodes.length} nodes)`;
  if (typeof v === 'object' && !Array.isArray(v)) return constText(v);
  return Array.isArray(v) ? `[${v.join(',')}]` : String(v);
}

const typeText = (v: Value) => `${v.dtype === 'float32' ? 'f32' : v.dtype}[${v.shape.join(',')}]`;

export function graphToText(g: Graph, opts: { sites?: boolean } = {}): string {
  const names = new Map<Value, string>();
  let k = 0;
  const name = (v: Value) => {
    let n = names.get(v);
    if (!n) names.set(v, (n = `%${k++}`));
    return n;
  };
  const lines = [`graph ${g.name}`];
  for (const i of g.inputs) {
    names.set(i.value, `$${i.name}`);
    lines.push(`  in  ${i.role.padEnd(15)} $${i.name}: ${typeText(i.value)}`);
  }
  for (const n of g.nodes) {
    const attrs = Object.keys(n.attrs).sort().map((a) => `${a}=${attrText(n.attrs[a])}`).join(' ');
    const outs = n.outputs.map(name).join(', ');
    const site = opts.sites && n.site?.file ? `  # ${n.site.file}:${n.site.line}` : '';
    lines.push(`  ${outs} = ${n.op}(${n.inputs.map(name).join(', ')})${attrs ? ' ' + attrs : ''} : ${n.outputs.map(typeText).join(', ')}${site}`);
  }
  for (const o of g.outputs) lines.push(`  out ${o.role.padEnd(15)} ${o.name} = ${name(o.value)}`);
  return lines.join('\n') + '\n';
}
