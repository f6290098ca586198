/**
 * Faster standard-op forms of the three convolution ops of a training graph, chosen per node by shape (measured with
 * onnxruntime 1.29 on CPU; figures in the commit messages):
 *
 * - dense: where the convolution's large side has no more pixels than its kernel has taps (4×4 → 2×2 with k5), it is
 *   cheaper as a matrix: y = x·Wᵈ with Wᵈ [Ho·Wo·M, C·H·W] built from w by one batched MatMul with a constant 0/1
 *   tensor; the weight gradient is one GEMM of gy against x's patches (im2col by a MatMul with a 0/1 tensor).
 *   Forward, input gradient and weight gradient each become ONE large GEMM over the whole batch, instead of ORT's
 *   per-image GEMMs with 2×2 or 4×4 columns (and its single-threaded col2im for ConvTranspose).
 * - phase: a stride-s ConvTranspose with a small input (≤ 4×4) as ONE stride-1 Conv to s²·C_out channels (the s² phase
 *   kernels packed, zero-padded, into one weight) + DepthToSpace: one threaded GEMM instead of ORT's per-image GEMM
 *   and col2im.
 *
 * Runs after autodiff, so gradients are those of the plain ops and graphs keep the model's FLOP count; generate (and
 * so `ganc export`) keeps plain ops. Nodes a form does not fit stay as they are.
 */
import { Builder } from '../builder.ts';
import { type Graph, type Node, type Value, numel } from '../ir.ts';
import { matmul } from '../ops/matmul.ts';
import { reshape, slice, transpose } from '../ops/shape.ts';
import { substitute } from './substitute.ts';

export interface ConvForms {
  dense: boolean;
  phase: boolean;
}

export const ALL_CONV_FORMS: ConvForms = { dense: true, phase: true };

/** Largest dense matrix (floats) worth building every step. */
const DENSE_MAX = 1 << 24;
/** Largest input (H·W) of a ConvTranspose lowered as phases; beyond it ORT's own kernel is as fast or faster. */
const PHASE_MAX_PIXELS = 16;

interface ConvAttrs { strides: number[]; pads: number[]; dilations: number[] }
const attrsOf = (n: Node): ConvAttrs => n.attrs as unknown as ConvAttrs;

/**
 * Every node is read as the convolution y = Conv(x, w) it belongs to: x [N, C, H, W] the large side, y [N, M, Ho, Wo]
 * the small side, w [M, C, kh, kw]. (A ConvTranspose(g, w) is that Conv's adjoint: g is y-shaped, its output
 * x-shaped, and its weight [in, out] is [M, C].)
 */
function relation(n: Node): { x: readonly number[]; y: readonly number[]; k: number[] } {
  const [a, b] = n.inputs;
  const out = n.outputs[0].shape;
  if (n.op === 'Conv') return { x: a.shape, y: out, k: b.shape.slice(2) };
  if (n.op === 'ConvTranspose') return { x: out, y: a.shape, k: b.shape.slice(2) };
  return { x: a.shape, y: b.shape, k: n.attrs.kernel as number[] };
}

/** What a weight's derived forms depend on: shared by a Conv, its input gradient and its weight gradient. */
function geometry(n: Node): string {
  const { strides, pads, dilations } = attrsOf(n);
  return JSON.stringify([relation(n), strides, pads, dilations]);
}

function denseFits(n: Node): boolean {
  const { x, y, k } = relation(n);
  const pixels = x[2] * x[3];
  return pixels <= k[0] * k[1] && y[1] * x[1] * pixels * y[2] * y[3] <= DENSE_MAX;
}

/** Per output pixel q and input pixel p, the kernel tap linking them (or -1): the 0/1 structure of Wᵈ. */
function tapTable(n: Node): Int32Array {
  const { x, y, k } = relation(n);
  const { strides: s, pads, dilations: d } = attrsOf(n);
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

/** Phase plan of one spatial axis of a stride-s ConvTranspose: taps T, conv pads, or undefined where it does not fit. */
function phaseAxis(inSize: number, outSize: number, k: number, s: number, p0: number) {
  const lo = Math.min(...Array.from({ length: s }, (_, r) => Math.ceil((r + p0 - k + 1) / s)));
  const hi = Math.max(...Array.from({ length: s }, (_, r) => Math.floor((r + p0) / s)));
  const q = Math.ceil(outSize / s);
  const plan = { lo, taps: hi - lo + 1, begin: -lo, end: q - inSize + hi, q };
  return plan.begin >= 0 && plan.end >= 0 ? plan : undefined;
}

function phasePlan(n: Node) {
  const [g, w] = n.inputs;
  const { strides: s, pads, dilations: d } = attrsOf(n);
  if (n.op !== 'ConvTranspose' || s[0] !== s[1] || s[0] < 2 || d.some((v) => v !== 1)) return undefined;
  if (g.shape[2] * g.shape[3] > PHASE_MAX_PIXELS) return undefined;
  const y = n.outputs[0].shape;
  const axes = [0, 1].map((i) => phaseAxis(g.shape[2 + i], y[2 + i], w.shape[2 + i], s[0], pads[i]));
  return axes[0] && axes[1] ? { s: s[0], h: axes[0], w: axes[1] } : undefined;
}

export function chooseConvForms(g: Graph, forms: ConvForms = ALL_CONV_FORMS): Graph {
  const b = new Builder();
  const memo = new Map<string, Value>();
  const once = (key: string, make: () => Value) => {
    let v = memo.get(key);
    if (!v) memo.set(key, (v = make()));
    return v;
  };
  const repl = new Map<Value, Value>();
  const ids = new Map<Value, number>();
  const id = (v: Value) => (ids.has(v) ? ids.get(v)! : (ids.set(v, ids.size), ids.size - 1));
  const nodes: Node[] = [];

  /** Wᵈ [Q·M, C·P] of the node's weight: Wᵈ[q, m, c, p] = w[m, c, tap(q, p)], as w [M·C, kk] × T [Q, kk, P]. */
  const denseWeight = (n: Node, w: Value) => once(`Wd ${id(w)} ${geometry(n)}`, () => {
    const { x, y, k } = relation(n);
    const Q = y[2] * y[3], P = x[2] * x[3], kk = k[0] * k[1];
    const t = once(`T ${geometry(n)}`, () => {
      const data = new Float32Array(Q * kk * P);
      tapTable(n).forEach((tap, i) => { if (tap >= 0) data[(Math.floor(i / P) * kk + tap) * P + (i % P)] = 1; });
      return b.constant(data, [Q, kk, P]);
    });
    const wd = matmul(b, reshape(b, w, [y[1] * x[1], kk]), t);
    return reshape(b, wd, [Q * y[1], x[1] * P]);
  });
  /** x [N, C, H, W] as [N, C·P]. */
  const bigFlat = (v: Value) => reshape(b, v, [v.shape[0], numel(v.shape.slice(1))]);
  /** y [N, M, Ho, Wo] as [N, Q·M] (pixel-major, matching Wᵈ's rows). */
  const smallFlat = (v: Value) => once(`yflat ${id(v)}`, () => {
    const [N, M] = v.shape;
    return reshape(b, transpose(b, reshape(b, v, [N, M, numel(v.shape.slice(2))]), [0, 2, 1]), [N, -1]);
  });

  const dense = (n: Node): Value => {
    const [a, c] = n.inputs;
    const { x, y, k } = relation(n);
    const [N, M, Q, C, P] = [x[0], y[1], y[2] * y[3], x[1], x[2] * x[3]];
    if (n.op === 'Conv') {
      const yq = matmul(b, bigFlat(a), denseWeight(n, c), false, true);
      return reshape(b, transpose(b, reshape(b, yq, [N, Q, M]), [0, 2, 1]), y);
    }
    if (n.op === 'ConvTranspose') return reshape(b, matmul(b, smallFlat(a), denseWeight(n, c)), x);
    // ConvWeightGrad: dW[m, (tap, c)] = Σ_{n,q} gy[n, q, m]·patch[n, q, tap, c], one GEMM over the batch; the patches
    // (im2col, [N·Q, kk·C]) come from x by one batched MatMul with the 0/1 tensor [Q·kk, P].
    const kk = k[0] * k[1];
    const t = once(`Tpatch ${geometry(n)}`, () => {
      const data = new Float32Array(Q * kk * P);
      tapTable(n).forEach((tap, i) => { if (tap >= 0) data[(Math.floor(i / P) * kk + tap) * P + (i % P)] = 1; });
      return b.constant(data, [Q * kk, P]);
    });
    const patches = reshape(b, matmul(b, t, transpose(b, reshape(b, a, [N, C, P]), [0, 2, 1])), [N * Q, kk * C]);
    const dw = matmul(b, reshape(b, smallFlat(c), [N * Q, M]), patches, true, false);
    return reshape(b, transpose(b, reshape(b, dw, [M, kk, C]), [0, 2, 1]), [M, C, k[0], k[1]]);
  };

  const phase = (n: Node, plan: NonNullable<ReturnType<typeof phasePlan>>): Value => {
    const [g, w] = n.inputs;
    const [Ci, Co, kh, kw] = w.shape;
    const { s, h, w: pw } = plan;
    const pads = attrsOf(n).pads;
    const packed = once(`phase ${id(w)} ${geometry(n)}`, () => {
      // Packed kernel [(rh, rw, co), ci, th, tw] = w[ci, co, rh + p0 − s·(th + lo), …], zero where off the kernel.
      const T = h.taps * pw.taps;
      const t = once(`Tphase ${geometry(n)}`, () => {
        const data = new Float32Array(s * s * kh * kw * T);
        for (let rh = 0; rh < s; rh++) for (let rw = 0; rw < s; rw++) for (let th = 0; th < h.taps; th++) for (let tw = 0; tw < pw.taps; tw++) {
          const i = rh + pads[0] - s * (th + h.lo), j = rw + pads[1] - s * (tw + pw.lo);
          if (i >= 0 && i < kh && j >= 0 && j < kw) data[((rh * s + rw) * kh * kw + i * kw + j) * T + th * pw.taps + tw] = 1;
        }
        return b.constant(data, [s * s, kh * kw, T]);
      });
      const wt = reshape(b, transpose(b, w, [1, 0, 2, 3]), [Co * Ci, kh * kw]);
      return reshape(b, matmul(b, wt, t), [s * s * Co, Ci, h.taps, pw.taps]);
    });
    const conv = b.emit1('Conv', [g, packed], { strides: [1, 1], dilations: [1, 1], pads: [h.begin, pw.begin, h.end, pw.end] });
    const y = b.emit1('DepthToSpace', [conv], { blocksize: s });
    const out = n.outputs[0].shape;
    return y.shape[2] === out[2] && y.shape[3] === out[3] ? y : slice(b, y, [0, 0], [out[2], out[3]], [2, 3]);
  };

  for (const n of g.nodes) {
    const isConv = n.op === 'Conv' || n.op === 'ConvTranspose' || n.op === 'ConvWeightGrad';
    const plan = isConv && forms.phase ? phasePlan(n) : undefined;
    if (!isConv || !((forms.dense && denseFits(n)) || plan)) {
      nodes.push(n);
      continue;
    }
    b.siteOverride = n.site;
    const start = b.nodes.length;
    const v = forms.dense && denseFits(n) ? dense(n) : phase(n, plan!);
    nodes.push(...b.nodes.slice(start));
    repl.set(n.outputs[0], v);
  }
  return substitute(g, nodes, repl);
}
