/**
 * Loop: run a body graph a static number of times (ONNX Loop). The body's inputs are (iter, cond, ...carried), its
 * outputs (cond, ...carried, ...scans); the node's outputs are the final carried values and each scan stacked to
 * [trips, ...]. The body may read values of the enclosing graph directly (ONNX outer-scope references).
 */
import type { Builder } from '../builder.ts';
import { type AttrValue, type Attrs, type Graph, type Value, sameShape, shapeStr } from '../ir.ts';
import { defineOp, opDef, ShapeError } from './registry.ts';

export const bodyOf = (a: Attrs): Graph => a.body as Graph;
/** FLOPs of one pass through a subgraph body (Loop's and Scan's). */
export const bodyFlops = (body: Graph): number => body.nodes.reduce((s, x) => s + (opDef(x.op).flops?.(x) ?? 0), 0);

defineOp('Loop', {
  infer: ([m, cond, ...initial], a) => {
    const body = bodyOf(a);
    const trips = a.trips as number;
    if (!m || m.dtype !== 'int64' || m.shape.length || !cond || cond.dtype !== 'bool' || cond.shape.length) {
      throw new ShapeError('loop needs an int64 scalar trip count and a bool scalar condition first');
    }
    const [iter, bcond, ...carried] = body.inputs;
    if (!iter || iter.value.dtype !== 'int64' || iter.value.shape.length || !bcond || bcond.value.dtype !== 'bool' || bcond.value.shape.length) {
      throw new ShapeError(`loop body ${body.name} must start with inputs (iter: int64 scalar, cond: bool scalar)`);
    }
    if (carried.length !== initial.length) throw new ShapeError(`loop body ${body.name} carries ${carried.length} values, given ${initial.length}`);
    const outs = body.outputs;
    if (!outs[0] || outs[0].value.dtype !== 'bool' || outs[0].value.shape.length) throw new ShapeError(`loop body ${body.name} must output cond first`);
    if (outs.length < 1 + carried.length) throw new ShapeError(`loop body ${body.name} does not output all ${carried.length} carried values`);
    carried.forEach((c, i) => {
      const o = outs[1 + i].value;
      for (const v of [initial[i], o]) {
        if (!sameShape(v.shape, c.value.shape) || v.dtype !== c.value.dtype) {
          throw new ShapeError(`loop carried value ${c.name}: ${v.dtype}${shapeStr(v.shape)} does not match the body's ${c.value.dtype}${shapeStr(c.value.shape)}`);
        }
      }
    });
    const scans = outs.slice(1 + carried.length).map((o) => ({ shape: [trips, ...o.value.shape], dtype: o.value.dtype }));
    return [...carried.map((c) => ({ shape: c.value.shape, dtype: c.value.dtype })), ...scans];
  },
  lower: (n, cx) => cx.node('Loop', n.inputs.map(cx.name), n.outputs.map(cx.name), { body: cx.subgraph(bodyOf(n.attrs)) }),
  flops: (n) => (n.attrs.trips as number) * bodyFlops(bodyOf(n.attrs)),
  // Training graphs are differentiated before they are fused into a loop; nothing differentiates through one.
  noGrad: true,
});

/** Loop `body` `trips` times from `initial` carried values: [...final carried, ...stacked scans]. */
export function loop(b: Builder, body: Graph, trips: number, initial: readonly Value[]): Value[] {
  const m = b.constant([trips], [], 'int64');
  const cond = b.constant([1], [], 'bool');
  return b.emit('Loop', [m, cond, ...initial], { trips, body: body as unknown as AttrValue });
}
