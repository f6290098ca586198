/**
 * The geometry of a convolution node as ganc's convolution forms read it (passes/conv_forms.ts): which side is the
 * image, which kernel tap links an output pixel to an input pixel, and the Gather indices built from that.
 */
import type { Node } from '../ir.ts';

export interface ConvAttrs { strides: number[]; pads: number[]; dilations: number[] }
export const attrsOf = (n: Node): ConvAttrs => n.attrs as unknown as ConvAttrs;

/**
 * Every node is read as the convolution y = Conv(x, w) it belongs to: x [N, C, H, W] the large side, y [N, M, Ho, Wo]
 * the small side, w [M, C, kh, kw]. (A ConvTranspose(g, w) is that Conv's adjoint: g is y-shaped, its output
 * x-shaped, and its weight [in, out] is [M, C].)
 */
export interface Geo extends ConvAttrs { x: readonly number[]; y: readonly number[]; k: readonly number[] }

export function relation(n: Node): Geo {
  const [a, b] = n.inputs;
  const out = n.outputs[0].shape;
  const { strides, pads, dilations } = attrsOf(n);
  const attrs = { strides, pads, dilations };
  if (n.op === 'Conv') return { x: a.shape, y: out, k: b.shape.slice(2), ...attrs };
  if (n.op === 'ConvTranspose') return { x: out, y: a.shape, k: b.shape.slice(2), ...attrs };
  return { x: a.shape, y: b.shape, k: n.attrs.kernel as number[], ...attrs };
}

/** What a weight's derived forms depend on: shared by a Conv, its input gradient and its weight gradient. */
export const key = (g: Geo): string => JSON.stringify([g.x, g.y, g.k, g.strides, g.pads, g.dilations]);

/** Per output pixel q and tap t, the input pixel under it, or P (the zero pixel appended to x): im2col's index. */
export function pixelIndex(g: Geo): number[] {
  const { x, y, k } = g;
  const [Q, P, kk] = [y[2] * y[3], x[2] * x[3], k[0] * k[1]];
  const data = new Array<number>(Q * kk).fill(P);
  tapTable(g).forEach((tap, i) => { if (tap >= 0) data[Math.floor(i / P) * kk + tap] = i % P; });
  return data;
}

/** Per output pixel q and input pixel p, the kernel tap linking them (or -1): the 0/1 structure of Wᵈ. */
export function tapTable(g: Geo): Int32Array {
  const { x, y, k, strides: s, pads, dilations: d } = g;
  const P = x[2] * x[3];
  const taps = new Int32Array(y[2] * y[3] * P).fill(-1);
  for (let oy = 0; oy < y[2]; oy++) for (let ox = 0; ox < y[3]; ox++) {
    for (let i = 0; i < k[0]; i++) for (let j = 0; j < k[1]; j++) {
      const iy = oy * s[0] + i * d[0] - pads[0], ix = ox * s[1] + j * d[1] - pads[1];
      if (iy >= 0 && iy < x[2] && ix >= 0 && ix < x[3]) taps[(oy * y[3] + ox) * P + iy * x[3] + ix] = i * k[1] + j;
    }
  }
  return taps;
}

/**
 * x's im2col patches ordered (channel, tap) as one Gather from x [N, C·P] with a zero appended: per output pixel q,
 * channel c and tap t, the flat index c·P + p of the input pixel under the tap, or C·P.
 */
export function channelPatchIndex(g: Geo): number[] {
  const [C, Q, P, kk] = [g.x[1], g.y[2] * g.y[3], g.x[2] * g.x[3], g.k[0] * g.k[1]];
  const pix = pixelIndex(g);
  const data = new Array<number>(Q * C * kk);
  for (let q = 0; q < Q; q++) for (let c = 0; c < C; c++) for (let t = 0; t < kk; t++) {
    const p = pix[q * kk + t];
    data[(q * C + c) * kk + t] = p === P ? C * P : c * P + p;
  }
  return data;
}

/**
 * col2im of channel-major patch gradients [N, Q·C·kk] with a zero appended, as one Gather: per channel c, output pixel
 * q and input pixel p, the flat index of the (q, c, tap) term that lands on p (one at most), or Q·C·kk.
 */
export function col2imIndex(g: Geo): number[] {
  const [C, Q, P, kk] = [g.x[1], g.y[2] * g.y[3], g.x[2] * g.x[3], g.k[0] * g.k[1]];
  const taps = tapTable(g);
  const data = new Array<number>(C * Q * P);
  for (let c = 0; c < C; c++) for (let q = 0; q < Q; q++) for (let p = 0; p < P; p++) {
    const t = taps[q * P + p];
    data[(c * Q + q) * P + p] = t < 0 ? Q * C * kk : (q * C + c) * kk + t;
  }
  return data;
}
