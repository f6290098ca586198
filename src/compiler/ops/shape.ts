/** Ops that move data without arithmetic: reshape, transpose, concat, slice, pad, expand, depth ↔ space. */
import type { Builder } from '../builder.ts';
import { type Shape, type Value, numel, shapeStr } from '../ir.ts';
import { defineOp, ShapeError } from './registry.ts';
import { sumToShape } from './elementwise.ts';

defineOp('Reshape', {
  label: 'reshape',
  infer: ([x], a) => {
    const shape = a.shape as number[];
    if (numel(shape) !== numel(x.shape)) throw new ShapeError(`cannot reshape ${shapeStr(x.shape)} (${numel(x.shape)} elements) to ${shapeStr(shape)} (${numel(shape)} elements)`);
    return [{ shape, dtype: x.dtype }];
  },
  // A kept leading (batch) dimension is written as 0 ("copy from the input"), so a graph emitted with a symbolic
  // batch size still reshapes correctly.
  lower: (n, cx) => {
    const shape = [...(n.attrs.shape as number[])];
    if (shape.length > 1 && shape[0] === n.inputs[0].shape[0]) shape[0] = 0;
    cx.node('Reshape', [cx.name(n.inputs[0]), cx.ints(shape)], [cx.name(n.outputs[0])]);
  },
  grad: (n, [g], b) => [reshape(b, g!, n.inputs[0].shape)],
  fold: ([x], _a, out) => ({ ...x, shape: out.shape }),
});

function invertPerm(p: number[]): number[] {
  const inv: number[] = [];
  p.forEach((v, i) => (inv[v] = i));
  return inv;
}

defineOp('Transpose', {
  label: 'transpose',
  infer: ([x], a) => {
    const perm = a.perm as number[];
    if (perm.length !== x.shape.length || [...perm].sort().some((v, i) => v !== i)) {
      throw new ShapeError(`perm [${perm}] is not a permutation of the ${x.shape.length} axes of ${shapeStr(x.shape)}`);
    }
    return [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }];
  },
  lower: (n, cx) => cx.node('Transpose', [cx.name(n.inputs[0])], [cx.name(n.outputs[0])], { perm: n.attrs.perm as number[] }),
  grad: (n, [g], b) => [transpose(b, g!, invertPerm(n.attrs.perm as number[]))],
  flops: () => 0,
});

defineOp('Concat', {
  label: 'concat',
  infer: (xs, a) => {
    const axis = a.axis as number;
    const first = xs[0].shape;
    if (axis < 0 || axis >= first.length) throw new ShapeError(`axis ${axis} out of range for ${shapeStr(first)}`);
    for (const x of xs) {
      if (x.shape.length !== first.length || x.shape.some((d, i) => i !== axis && d !== first[i])) {
        throw new ShapeError(`shapes ${xs.map((v) => shapeStr(v.shape)).join(' and ')} differ outside axis ${axis}`);
      }
    }
    const shape = [...first];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
    return [{ shape, dtype: xs[0].dtype }];
  },
  lower: (n, cx) => cx.node('Concat', n.inputs.map(cx.name), [cx.name(n.outputs[0])], { axis: n.attrs.axis as number }),
  grad: (n, [g], b) => {
    const axis = n.attrs.axis as number;
    let start = 0;
    return n.inputs.map((x) => {
      const s = slice(b, g!, [start], [start + x.shape[axis]], [axis]);
      start += x.shape[axis];
      return s;
    });
  },
});

defineOp('Slice', {
  infer: ([x], a) => {
    const [starts, ends, axes] = [a.starts, a.ends, a.axes] as number[][];
    const shape = [...x.shape];
    axes.forEach((ax, i) => {
      if (starts[i] < 0 || ends[i] > x.shape[ax] || starts[i] >= ends[i]) {
        throw new ShapeError(`slice [${starts[i]}, ${ends[i]}) out of range on axis ${ax} of ${shapeStr(x.shape)}`);
      }
      shape[ax] = ends[i] - starts[i];
    });
    return [{ shape, dtype: x.dtype }];
  },
  lower: (n, cx) => {
    const a = n.attrs;
    cx.node('Slice', [cx.name(n.inputs[0]), cx.ints(a.starts as number[]), cx.ints(a.ends as number[]), cx.ints(a.axes as number[])], [cx.name(n.outputs[0])]);
  },
  grad: (n, [g], b) => {
    const x = n.inputs[0];
    const pads = new Array(2 * x.shape.length).fill(0);
    (n.attrs.axes as number[]).forEach((ax, i) => {
      pads[ax] = (n.attrs.starts as number[])[i];
      pads[ax + x.shape.length] = x.shape[ax] - (n.attrs.ends as number[])[i];
    });
    return [pad(b, g!, pads)];
  },
});

defineOp('Pad', {
  infer: ([x], a) => {
    const pads = a.pads as number[];
    if (pads.length !== 2 * x.shape.length || pads.some((p) => p < 0)) throw new ShapeError(`bad pads [${pads}] for ${shapeStr(x.shape)}`);
    return [{ shape: x.shape.map((d, i) => d + pads[i] + pads[i + x.shape.length]), dtype: x.dtype }];
  },
  lower: (n, cx) => cx.node('Pad', [cx.name(n.inputs[0]), cx.ints(n.attrs.pads as number[])], [cx.name(n.outputs[0])]),
  grad: (n, [g], b) => {
    const x = n.inputs[0];
    const r = x.shape.length;
    const pads = n.attrs.pads as number[];
    const axes = x.shape.map((_, i) => i).filter((i) => pads[i] || pads[i + r]);
    return [slice(b, g!, axes.map((i) => pads[i]), axes.map((i) => pads[i] + x.shape[i]), axes)];
  },
});

defineOp('Expand', {
  infer: ([x], a) => {
    const shape = a.shape as number[];
    const lead = shape.length - x.shape.length;
    if (lead < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[i + lead])) {
      throw new ShapeError(`cannot broadcast ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
    }
    return [{ shape, dtype: x.dtype }];
  },
  lower: (n, cx) => cx.node('Expand', [cx.name(n.inputs[0]), cx.ints(n.attrs.shape as number[])], [cx.name(n.outputs[0])]),
  grad: (n, [g], b) => [sumToShape(b, g!, n.inputs[0].shape)],
  flops: () => 0,
});

/**
 * DepthToSpace (ONNX's DCR mode) and SpaceToDepth, each other's inverse and gradient: channel (i·bs + j)·C + c of
 * [N, bs²·C, H, W] is pixel (h·bs + i, w·bs + j) of channel c in [N, C, H·bs, W·bs]. DepthToSpace also takes
 * mode: 'CRD' (channel c·bs² + i·bs + j instead; its gradient is a reshape and transpose).
 */
function blockOp(name: 'DepthToSpace' | 'SpaceToDepth', inverse: () => 'DepthToSpace' | 'SpaceToDepth'): void {
  defineOp(name, {
    infer: ([x], a) => {
      const bs = a.blocksize as number;
      if (x.shape.length !== 4) throw new ShapeError(`input must be 4-D, got ${shapeStr(x.shape)}`);
      const [n, c, h, w] = x.shape;
      if (name === 'DepthToSpace') {
        if (c % (bs * bs)) throw new ShapeError(`${c} channels do not split into ${bs}×${bs} blocks`);
        return [{ shape: [n, c / (bs * bs), h * bs, w * bs], dtype: x.dtype }];
      }
      if (h % bs || w % bs) throw new ShapeError(`${h}×${w} does not split into ${bs}×${bs} blocks`);
      return [{ shape: [n, c * bs * bs, h / bs, w / bs], dtype: x.dtype }];
    },
    lower: (n, cx) => cx.node(name, [cx.name(n.inputs[0])], [cx.name(n.outputs[0])], {
      blocksize: n.attrs.blocksize as number, ...(name === 'DepthToSpace' ? { mode: (n.attrs.mode as string) ?? 'DCR' } : {}),
    }),
    grad: (n, [g], b) => [n.attrs.mode === 'CRD' ? crdSpaceToDepth(b, g!, n.attrs.blocksize as number) : b.emit1(inverse(), [g!], { blocksize: n.attrs.blocksize as number })],
    flops: () => 0,
  });
}
/** The inverse of DepthToSpace in CRD mode (channel c·bs² + i·bs + j), which SpaceToDepth has no mode for. */
function crdSpaceToDepth(b: Builder, g: Value, bs: number): Value {
  const [n, c, h, w] = g.shape;
  const t = transpose(b, reshape(b, g, [n, c, h / bs, bs, w / bs, bs]), [0, 1, 3, 5, 2, 4]);
  return reshape(b, t, [n, c * bs * bs, h / bs, w / bs]);
}
blockOp('DepthToSpace', () => 'SpaceToDepth');
blockOp('SpaceToDepth', () => 'DepthToSpace');

export const reshape = (b: Builder, x: Value, shape: Shape) => b.emit1('Reshape', [x], { shape: resolveShape(x, shape) });
export const transpose = (b: Builder, x: Value, perm: number[]) => b.emit1('Transpose', [x], { perm });
export const concat = (b: Builder, xs: Value[], axis: number) =>
  b.emit1('Concat', xs, { axis: axis < 0 ? axis + xs[0].shape.length : axis });
export const slice = (b: Builder, x: Value, starts: number[], ends: number[], axes: number[]) =>
  b.emit1('Slice', [x], { starts, ends, axes });
export const pad = (b: Builder, x: Value, pads: number[]) => b.emit1('Pad', [x], { pads });
export const expand = (b: Builder, x: Value, shape: Shape) => b.emit1('Expand', [x], { shape: [...shape] });

/** Static reshape with one -1 allowed (inferred), as in numpy. */
function resolveShape(x: Value, shape: Shape): number[] {
  const s = [...shape];
  const i = s.indexOf(-1);
  if (i >= 0) {
    const rest = numel(s.filter((_, j) => j !== i));
    s[i] = rest > 0 && numel(x.shape) % rest === 0 ? numel(x.shape) / rest : NaN;
  }
  return s;
}
