/** Gather: pick entries along one axis by int64 indices (e.g. one iteration's batch out of a stacked sequence). */
import { shapeStr } from '../ir.ts';
import { defineOp, ShapeError } from './registry.ts';
import type { Builder } from '../builder.ts';
import type { Value } from '../ir.ts';

defineOp('Gather', {
  infer: ([x, idx], a) => {
    const axis = a.axis as number;
    if (!x || !idx) throw new ShapeError('gather needs data and indices');
    if (idx.dtype !== 'int64') throw new ShapeError(`gather indices must be int64, got ${idx.dtype}`);
    if (axis < 0 || axis >= x.shape.length) throw new ShapeError(`axis ${axis} out of range for ${shapeStr(x.shape)}`);
    return [{ shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], dtype: x.dtype }];
  },
  lower: (n, cx) => cx.node('Gather', n.inputs.map(cx.name), [cx.name(n.outputs[0])], { axis: n.attrs.axis as number }),
  // Only used to select data that is fed, never on a path to a trained parameter.
  noGrad: true,
  flops: () => 0,
});

export const gather = (b: Builder, x: Value, indices: Value, axis = 0) => b.emit1('Gather', [x, indices], { axis });
