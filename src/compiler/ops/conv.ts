/**
 * 2-D convolution and transposed convolution (NCHW, group 1). The DSL adds biases as a broadcast Add; an optional
 * third input b [M] (ONNX's B) is added by the op itself — passes/conv_bias.ts moves training graphs' bias Adds there.
 * Pads are explicit [top, left, bottom, right]; "SAME" is resolved in the DSL.
 * Gradients: a Conv's input gradient is a ConvTranspose with the same weight and vice versa; both weight gradients
 * are a ConvWeightGrad, lowered to one Conv over batch-transposed tensors (stride and dilation swap roles).
 * passes/conv_forms.ts may replace any of the three by a faster standard-op form for its shape.
 */
import type { Builder } from '../builder.ts';
import { type Node, type Value, shapeStr } from '../ir.ts';
import { defineOp, ShapeError } from './registry.ts';
import { reduceSum } from './reduce.ts';

export interface ConvAttrs {
  strides: number[];
  pads: number[];
  dilations: number[];
}

function attrsOf(n: Node): ConvAttrs {
  return { strides: n.attrs.strides as number[], pads: n.attrs.pads as number[], dilations: n.attrs.dilations as number[] };
}

export function convOutSize(size: number, k: number, s: number, d: number, p0: number, p1: number): number {
  return Math.floor((size + p0 + p1 - d * (k - 1) - 1) / s) + 1;
}

export function convTransposeOutSize(size: number, k: number, s: number, d: number, p0: number, p1: number, op: number): number {
  return s * (size - 1) + op + d * (k - 1) + 1 - p0 - p1;
}

/** Output padding of the ConvTranspose that maps y back to x's size: input rows the floor in y's size left unused. */
function adjointPadding(x: Value, y: Value, kernel: readonly number[], a: ConvAttrs): number[] {
  return [0, 1].map((i) => x.shape[2 + i] - convTransposeOutSize(y.shape[2 + i], kernel[i], a.strides[i], a.dilations[i], a.pads[i], a.pads[i + 2], 0));
}

function check4d(x: Value, w: Value, b: Value | undefined, outChannels: number): void {
  if (x.shape.length !== 4) throw new ShapeError(`input must be 4-D [N, C, H, W], got ${shapeStr(x.shape)}`);
  if (w.shape.length !== 4) throw new ShapeError(`weight must be 4-D, got ${shapeStr(w.shape)}`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== outChannels)) throw new ShapeError(`bias must be [${outChannels}], got ${shapeStr(b.shape)}`);
}

/** The gradient of the optional bias input: g summed over batch and pixels. */
const biasGrad = (n: Node, g: Value, b: Builder) => (n.inputs.length > 2 ? [reduceSum(b, g, [0, 2, 3])] : []);

defineOp('Conv', {
  label: 'conv2d',
  infer: ([x, w, bias], a) => {
    check4d(x, w, bias, w.shape[0]);
    const { strides: s, pads: p, dilations: d } = a as unknown as ConvAttrs;
    if (x.shape[1] !== w.shape[1]) throw new ShapeError(`input ${shapeStr(x.shape)} has ${x.shape[1]} channels but weight ${shapeStr(w.shape)} expects ${w.shape[1]}`);
    const h = convOutSize(x.shape[2], w.shape[2], s[0], d[0], p[0], p[2]);
    const wd = convOutSize(x.shape[3], w.shape[3], s[1], d[1], p[1], p[3]);
    if (h < 1 || wd < 1) throw new ShapeError(`kernel ${w.shape[2]}×${w.shape[3]} does not fit input ${shapeStr(x.shape)}`);
    return [{ shape: [x.shape[0], w.shape[0], h, wd], dtype: x.dtype }];
  },
  lower: (n, cx) => cx.node('Conv', n.inputs.map(cx.name), [cx.name(n.outputs[0])], { ...attrsOf(n), kernel_shape: n.inputs[1].shape.slice(2) }),
  grad: (n, [g], b) => {
    const [x, w] = n.inputs;
    const a = attrsOf(n);
    const dx = b.emit1('ConvTranspose', [g!, w], { ...a, output_padding: adjointPadding(x, n.outputs[0], w.shape.slice(2), a) });
    return [dx, convWeightGrad(b, x, g!, w.shape.slice(2), a), ...biasGrad(n, g!, b)];
  },
  flops: (n) => {
    const [, w] = n.inputs;
    const y = n.outputs[0];
    return 2 * y.size * w.shape[1] * w.shape[2] * w.shape[3];
  },
});

defineOp('ConvTranspose', {
  label: 'deconv2d',
  infer: ([x, w, bias], a) => {
    check4d(x, w, bias, w.shape[1]);
    const { strides: s, pads: p, dilations: d } = a as unknown as ConvAttrs;
    const op = a.output_padding as number[];
    if (x.shape[1] !== w.shape[0]) throw new ShapeError(`input ${shapeStr(x.shape)} has ${x.shape[1]} channels but weight ${shapeStr(w.shape)} expects ${w.shape[0]}`);
    // ONNX Runtime rejects output padding ≥ stride at run time (even where a larger dilation would allow it).
    if (op.some((v, i) => v < 0 || v >= s[i])) throw new ShapeError(`output padding [${op}] must be below the stride [${s}]`);
    const h = convTransposeOutSize(x.shape[2], w.shape[2], s[0], d[0], p[0], p[2], op[0]);
    const wd = convTransposeOutSize(x.shape[3], w.shape[3], s[1], d[1], p[1], p[3], op[1]);
    if (h < 1 || wd < 1) throw new ShapeError(`pads [${p}] leave no output for input ${shapeStr(x.shape)}`);
    return [{ shape: [x.shape[0], w.shape[1], h, wd], dtype: x.dtype }];
  },
  lower: (n, cx) => cx.node('ConvTranspose', n.inputs.map(cx.name), [cx.name(n.outputs[0])], {
    ...attrsOf(n), output_padding: n.attrs.output_padding as number[], kernel_shape: n.inputs[1].shape.slice(2),
  }),
  grad: (n, [g], b) => {
    const [x, w] = n.inputs;
    const a = attrsOf(n);
    const dx = b.emit1('Conv', [g!, w], { ...a });
    // ConvTranspose(x, w) is the input-adjoint of Conv(·, w); its weight gradient is that Conv's, with g as the input.
    return [dx, convWeightGrad(b, g!, x, w.shape.slice(2), a), ...biasGrad(n, g!, b)];
  },
  flops: (n) => {
    const [x, w] = n.inputs;
    return 2 * x.size * w.shape[1] * w.shape[2] * w.shape[3];
  },
});

/**
 * The weight gradient of Conv(x, w; a) = y given gy = ∂L/∂y: dW [M, C, kh, kw] from x [N, C, H, W] and gy [N, M, Ho, Wo]
 * (for a ConvTranspose, x is its output's gradient and gy its input). One op, so that a pass can pick its form.
 */
defineOp('ConvWeightGrad', {
  label: 'conv2d weight gradient',
  infer: ([x, gy], a) => {
    const k = a.kernel as number[];
    if (x.shape.length !== 4 || gy.shape.length !== 4 || x.shape[0] !== gy.shape[0]) throw new ShapeError(`x ${shapeStr(x.shape)} and gy ${shapeStr(gy.shape)} must be 4-D with one batch`);
    return [{ shape: [gy.shape[1], x.shape[1], k[0], k[1]], dtype: x.dtype }];
  },
  lower: (n, cx) => {
    // dW[m,c,i,j] = Σ_{n,y,x} gy[n,m,y,x]·xpad[n,c,y·s+i·d,x·s+j·d]: a Conv of xᵀ [C,N,H,W] with gyᵀ [M,N,Ho,Wo] as the
    // kernel, stride d and dilation s; extra rows (when the forward floor dropped some) are sliced off.
    const [x, gy] = n.inputs;
    const a = attrsOf(n);
    const k = n.attrs.kernel as number[];
    const [N, C, H, W] = x.shape, [M, Ho, Wo] = [gy.shape[1], gy.shape[2], gy.shape[3]];
    const size = [0, 1].map((i) => convOutSize(x.shape[2 + i], gy.shape[2 + i], a.dilations[i], a.strides[i], a.pads[i], a.pads[i + 2]));
    const xt = cx.fresh('xt', [C, N, H, W]), gt = cx.fresh('gyt', [M, N, Ho, Wo]), r = cx.fresh('dwt', [C, M, ...size]);
    cx.node('Transpose', [cx.name(x)], [xt], { perm: [1, 0, 2, 3] });
    cx.node('Transpose', [cx.name(gy)], [gt], { perm: [1, 0, 2, 3] });
    cx.node('Conv', [xt, gt], [r], { strides: a.dilations, dilations: a.strides, pads: a.pads, kernel_shape: gy.shape.slice(2) });
    let full = r;
    if (size[0] !== k[0] || size[1] !== k[1]) {
      full = cx.fresh('dwt_k', [C, M, ...k]);
      cx.node('Slice', [r, cx.ints([0, 0]), cx.ints(k), cx.ints([2, 3])], [full]);
    }
    cx.node('Transpose', [full], [cx.name(n.outputs[0])], { perm: [1, 0, 2, 3] });
  },
  // dW is bilinear in (x, gy): against a cotangent H of dW's shape, ∂/∂gy = Conv(x, H) and ∂/∂x = ConvTranspose(gy, H).
  grad: (n, [h], b) => {
    const [x, gy] = n.inputs;
    const a = attrsOf(n);
    const k = n.attrs.kernel as number[];
    return [b.emit1('ConvTranspose', [gy, h!], { ...a, output_padding: adjointPadding(x, gy, k, a) }), b.emit1('Conv', [x, h!], { ...a })];
  },
  flops: (n) => 2 * n.inputs[1].size * n.inputs[0].shape[1] * (n.attrs.kernel as number[])[0] * (n.attrs.kernel as number[])[1],
});

export function convWeightGrad(b: Builder, x: Value, gy: Value, kernel: number[], a: ConvAttrs): Value {
  return b.emit1('ConvWeightGrad', [x, gy], { strides: a.strides, pads: a.pads, dilations: a.dilations, kernel });
}

export const conv = (b: Builder, x: Value, w: Value, a: ConvAttrs) => b.emit1('Conv', [x, w], { ...a });
export const convTranspose = (b: Builder, x: Value, w: Value, a: ConvAttrs & { output_padding: number[] }) =>
  b.emit1('ConvTranspose', [x, w], { ...a });
