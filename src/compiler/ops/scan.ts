/**
 * Scan: run a body graph once per slice of the scanned inputs along axis 0 (ONNX Scan). The node's inputs are
 * (...initial states, ...scanned), the body's (...states, ...one slice of each scanned); the body outputs the next
 * states. The node outputs the final states. Each iteration's temporaries are freed before the next, which is what
 * it is for: a sum over chunks whose intermediates would not fit at once (conv_forms' chunked weight gradient).
 * Unlike Loop's, its body reads nothing of the enclosing graph, so graphs holding it can be inlined (fuse_steps).
 */
import type { Builder } from '../builder.ts';
import { type AttrValue, type Graph, type Value, sameShape, shapeStr } from '../ir.ts';
import { bodyFlops, bodyOf } from './loop.ts';
import { defineOp, ShapeError } from './registry.ts';

defineOp('Scan', {
  infer: (inputs, a) => {
    const body = bodyOf(a);
    const states = inputs.length - (a.scanned as number);
    const scanned = inputs.slice(states);
    const trips = scanned[0]?.shape[0];
    if (!scanned.length || scanned.some((s) => s.shape[0] !== trips)) throw new ShapeError('scan needs scanned inputs of one length along axis 0');
    if (body.inputs.length !== inputs.length || body.outputs.length !== states) {
      throw new ShapeError(`scan body ${body.name} must take ${inputs.length} inputs and output ${states} states`);
    }
    body.inputs.forEach((io, i) => {
      const want = i < states ? inputs[i].shape : inputs[i].shape.slice(1);
      const out = body.outputs[i]?.value;
      if (!sameShape(io.value.shape, want) || (i < states && (!out || !sameShape(out.shape, want)))) {
        throw new ShapeError(`scan body ${body.name} input ${io.name} ${shapeStr(io.value.shape)} does not match ${shapeStr(want)}`);
      }
    });
    return inputs.slice(0, states).map((s) => ({ shape: s.shape, dtype: s.dtype }));
  },
  lower: (n, cx) => cx.node('Scan', n.inputs.map(cx.name), n.outputs.map(cx.name), {
    body: cx.subgraph(bodyOf(n.attrs)), num_scan_inputs: n.attrs.scanned as number,
  }),
  flops: (n) => n.inputs[n.inputs.length - 1].shape[0] * bodyFlops(bodyOf(n.attrs)),
  // Made by passes after autodiff (conv_forms); nothing differentiates through one.
  noGrad: true,
});

/** Scan `body` over `scanned` (axis 0) from `initial` states: the final states. */
export function scan(b: Builder, body: Graph, initial: readonly Value[], scanned: readonly Value[]): Value[] {
  return b.emit('Scan', [...initial, ...scanned], { scanned: scanned.length, body: body as unknown as AttrValue });
}
