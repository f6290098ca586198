// A deliberately naive float64 reference for checking ganc's ONNX graphs.
// Plain loops, no reuse of compiler code, no cleverness: if this file and the
// compiler agree, it is unlikely that both are wrong in the same way.
// Every function returns fresh tensors and never mutates its inputs.

export interface Tensor {
  data: Float64Array;
  shape: number[];
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensor(data: ArrayLike<number>, shape: number[]): Tensor {
  if (data.length !== numel(shape)) {
    throw new Error(`tensor: ${data.length} values for shape [${shape}]`);
  }
  return { data: Float64Array.from(data), shape: [...shape] };
}

export function fromFloat32(data: Float32Array, shape: number[]): Tensor {
  return tensor(data, shape);
}

export function toFloat32(t: Tensor): Float32Array {
  return Float32Array.from(t.data);
}

export function zeros(shape: number[]): Tensor {
  return { data: new Float64Array(numel(shape)), shape: [...shape] };
}

export function full(shape: number[], value: number): Tensor {
  return { data: new Float64Array(numel(shape)).fill(value), shape: [...shape] };
}

// Seeded PRNG (mulberry32) so tests are reproducible without dependencies.
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(shape: number[], random: () => number, std = 1): Tensor {
  const t = zeros(shape);
  for (let i = 0; i < t.data.length; i++) {
    // Box-Muller; 1 - u keeps the log argument in (0, 1].
    const u = 1 - random();
    const v = random();
    t.data[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return t;
}

export function uniform(shape: number[], random: () => number, lo = -1, hi = 1): Tensor {
  const t = zeros(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = lo + (hi - lo) * random();
  return t;
}

function map(x: Tensor, f: (v: number) => number): Tensor {
  const y = zeros(x.shape);
  for (let i = 0; i < x.data.length; i++) y.data[i] = f(x.data[i]!);
  return y;
}

function sameShape(a: Tensor, b: Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: shapes [${a.shape}] and [${b.shape}] differ`);
  }
}

export function add(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'add');
  const y = zeros(a.shape);
  for (let i = 0; i < y.data.length; i++) y.data[i] = a.data[i]! + b.data[i]!;
  return y;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  sameShape(a, b, 'sub');
  const y = zeros(a.shape);
  for (let i = 0; i < y.data.length; i++) y.data[i] = a.data[i]! - b.data[i]!;
  return y;
}

export function scale(a: Tensor, s: number): Tensor {
  return map(a, (v) => v * s);
}

export function sum(x: Tensor): number {
  let s = 0;
  for (const v of x.data) s += v;
  return s;
}

export function mean(x: Tensor): number {
  return sum(x) / x.data.length;
}

/** Inner product ⟨a, b⟩ over all elements. */
export function dot(a: Tensor, b: Tensor): number {
  sameShape(a, b, 'dot');
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

/** tf.nn.l2_loss: Σ t² / 2. */
export function l2Loss(x: Tensor): number {
  return dot(x, x) / 2;
}

// ---------------------------------------------------------------- convolution

export interface ConvOptions {
  stride?: [number, number];
  /** [top, left, bottom, right], ONNX order. */
  pads?: [number, number, number, number];
  dilation?: [number, number];
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: [number, number];
}

/** ONNX Conv (cross-correlation, group 1): x [N,C,H,W], w [M,C,kh,kw], bias [M]. */
export function conv2d(x: Tensor, w: Tensor, opts: ConvOptions = {}, bias?: Tensor): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [M, Cw, kh, kw] = w.shape as [number, number, number, number];
  if (C !== Cw) throw new Error(`conv2d: input has ${C} channels, weight expects ${Cw}`);
  const [sh, sw] = opts.stride ?? [1, 1];
  const [pt, pl, pb, pr] = opts.pads ?? [0, 0, 0, 0];
  const [dh, dw] = opts.dilation ?? [1, 1];
  const Ho = Math.floor((H + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
  const Wo = Math.floor((W + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
  const y = zeros([N, M, Ho, Wo]);
  for (let n = 0; n < N; n++)
    for (let m = 0; m < M; m++)
      for (let oh = 0; oh < Ho; oh++)
        for (let ow = 0; ow < Wo; ow++) {
          let s = bias ? bias.data[m]! : 0;
          for (let c = 0; c < C; c++)
            for (let i = 0; i < kh; i++) {
              const ih = oh * sh + i * dh - pt;
              if (ih < 0 || ih >= H) continue; // zero padding
              for (let j = 0; j < kw; j++) {
                const iw = ow * sw + j * dw - pl;
                if (iw < 0 || iw >= W) continue;
                s +=
                  x.data[((n * C + c) * H + ih) * W + iw]! *
                  w.data[((m * C + c) * kh + i) * kw + j]!;
              }
            }
          y.data[((n * M + m) * Ho + oh) * Wo + ow] = s;
        }
  return y;
}

/**
 * ONNX ConvTranspose (group 1): x [N,C,H,W], w [C,M,kh,kw], bias [M].
 * Literal scatter-add: input pixel (ih,iw) adds x·w[c,m,i,j] to output
 * (ih·sh + i·dh − top, iw·sw + j·dw − left); pads crop, outputPadding extends the end.
 */
export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  opts: ConvTransposeOptions = {},
  bias?: Tensor,
): Tensor {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [Cw, M, kh, kw] = w.shape as [number, number, number, number];
  if (C !== Cw) throw new Error(`convTranspose2d: input has ${C} channels, weight expects ${Cw}`);
  const [sh, sw] = opts.stride ?? [1, 1];
  const [pt, pl, pb, pr] = opts.pads ?? [0, 0, 0, 0];
  const [dh, dw] = opts.dilation ?? [1, 1];
  const [oph, opw] = opts.outputPadding ?? [0, 0];
  const Ho = sh * (H - 1) + oph + dh * (kh - 1) + 1 - pt - pb;
  const Wo = sw * (W - 1) + opw + dw * (kw - 1) + 1 - pl - pr;
  const y = zeros([N, M, Ho, Wo]);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let ih = 0; ih < H; ih++)
        for (let iw = 0; iw < W; iw++) {
          const xv = x.data[((n * C + c) * H + ih) * W + iw]!;
          for (let m = 0; m < M; m++)
            for (let i = 0; i < kh; i++) {
              const oh = ih * sh + i * dh - pt;
              if (oh < 0 || oh >= Ho) continue;
              for (let j = 0; j < kw; j++) {
                const ow = iw * sw + j * dw - pl;
                if (ow < 0 || ow >= Wo) continue;
                y.data[((n * M + m) * Ho + oh) * Wo + ow]! += xv * w.data[((c * M + m) * kh + i) * kw + j]!;
              }
            }
        }
  if (bias) {
    for (let n = 0; n < N; n++)
      for (let m = 0; m < M; m++)
        for (let k = 0; k < Ho * Wo; k++) y.data[(n * M + m) * Ho * Wo + k]! += bias.data[m]!;
  }
  return y;
}

/** TensorFlow "SAME" padding of one spatial axis for a conv: [begin, end]. */
export function samePads(size: number, kernel: number, stride: number, dilation = 1): [number, number] {
  const total = Math.max(
    (Math.ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size,
    0,
  );
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/**
 * TF conv2d_transpose "SAME" with output size = size·stride, as ONNX ConvTranspose
 * attributes: the pads of the conv on the output size whose adjoint this is, plus the
 * outputPadding needed when kernel < stride (then total pad clamps to 0).
 */
export function deconvSamePads(
  size: number,
  kernel: number,
  stride: number,
): { pads: [number, number]; outputPadding: number } {
  const out = size * stride;
  const pads = samePads(out, kernel, stride);
  const outputPadding = out - (stride * (size - 1) + kernel - pads[0] - pads[1]);
  return { pads, outputPadding };
}

// ---------------------------------------------------------------- dense & BN

/** x [N,F] · w [F,O] + b [O]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const [N, F] = x.shape as [number, number];
  const [Fw, O] = w.shape as [number, number];
  if (F !== Fw) throw new Error(`linear: input has ${F} features, weight expects ${Fw}`);
  const y = zeros([N, O]);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      let s = b ? b.data[o]! : 0;
      for (let f = 0; f < F; f++) s += x.data[n * F + f]! * w.data[f * O + o]!;
      y.data[n * O + o] = s;
    }
  return y;
}

// Index of each element among the kept (non-reduced) axes, row-major over those axes.
function keptIndex(shape: number[], axes: number[]): { index: Int32Array; kept: number } {
  const keptAxes = shape.map((_, a) => a).filter((a) => !axes.includes(a));
  const kept = numel(keptAxes.map((a) => shape[a]!));
  const index = new Int32Array(numel(shape));
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < index.length; i++) {
    let k = 0;
    for (const a of keptAxes) k = k * shape[a]! + coord[a]!;
    index[i] = k;
    for (let a = shape.length - 1; a >= 0; a--) {
      if (++coord[a]! < shape[a]!) break;
      coord[a] = 0;
    }
  }
  return { index, kept };
}

/** Mean and biased variance over `axes`, one value per kept position (flattened). */
export function moments(x: Tensor, axes: number[]): { mean: Float64Array; variance: Float64Array } {
  const { index, kept } = keptIndex(x.shape, axes);
  const count = x.data.length / kept;
  const m = new Float64Array(kept);
  const v = new Float64Array(kept);
  for (let i = 0; i < x.data.length; i++) m[index[i]!]! += x.data[i]!;
  for (let k = 0; k < kept; k++) m[k]! /= count;
  for (let i = 0; i < x.data.length; i++) {
    const d = x.data[i]! - m[index[i]!]!;
    v[index[i]!]! += d * d;
  }
  for (let k = 0; k < kept; k++) v[k]! /= count;
  return { mean: m, variance: v };
}

/**
 * Batch norm with batch statistics (training mode), biased variance.
 * gamma/beta hold one value per kept position, e.g. [C] for NCHW with axes [0,2,3].
 */
export function batchNormTrain(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-5,
  axes: number[] = [0, 2, 3],
): Tensor {
  const { index, kept } = keptIndex(x.shape, axes);
  if (gamma.data.length !== kept || beta.data.length !== kept) {
    throw new Error(`batchNormTrain: gamma/beta need ${kept} values`);
  }
  const { mean: m, variance: v } = moments(x, axes);
  const y = zeros(x.shape);
  for (let i = 0; i < y.data.length; i++) {
    const k = index[i]!;
    y.data[i] = ((x.data[i]! - m[k]!) / Math.sqrt(v[k]! + eps)) * gamma.data[k]! + beta.data[k]!;
  }
  return y;
}

// ---------------------------------------------------------------- pointwise

export const relu = (x: Tensor): Tensor => map(x, (v) => (v > 0 ? v : 0));
export const leakyRelu = (x: Tensor, alpha = 0.2): Tensor => map(x, (v) => (v >= 0 ? v : alpha * v));
export const tanh = (x: Tensor): Tensor => map(x, Math.tanh);
export const sigmoid = (x: Tensor): Tensor => map(x, (v) => 1 / (1 + Math.exp(-v)));
// Stable form: never exponentiates a large positive number.
export const softplus = (x: Tensor): Tensor =>
  map(x, (v) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v))));

// ---------------------------------------------------------------- shapes

/** Row-major reshape; one dimension may be −1. */
export function reshape(x: Tensor, shape: number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const out = shape.map((d) => (d === -1 ? x.data.length / numel(known) : d));
  if (numel(out) !== x.data.length || !out.every(Number.isInteger)) {
    throw new Error(`reshape: [${x.shape}] cannot become [${shape}]`);
  }
  return { data: Float64Array.from(x.data), shape: out };
}

/** ONNX Flatten: [d0..d(axis−1)] × [rest], row-major (NCHW order for images). */
export function flatten(x: Tensor, axis = 1): Tensor {
  return reshape(x, [numel(x.shape.slice(0, axis)), numel(x.shape.slice(axis))]);
}

/** Concatenate along `axis`. */
export function concat(ts: Tensor[], axis: number): Tensor {
  const first = ts[0]!;
  const outer = numel(first.shape.slice(0, axis));
  const inner = numel(first.shape.slice(axis + 1));
  const shape = [...first.shape];
  shape[axis] = ts.reduce((s, t) => s + t.shape[axis]!, 0);
  const y = zeros(shape);
  let p = 0;
  for (let o = 0; o < outer; o++)
    for (const t of ts) {
      const len = t.shape[axis]! * inner;
      y.data.set(t.data.subarray(o * len, (o + 1) * len), p);
      p += len;
    }
  return y;
}

// ---------------------------------------------------------------- losses

/** Mean over elements of max(x,0) − x·t + log(1+exp(−|x|)). */
export function bceWithLogits(logits: Tensor, target: Tensor | number): number {
  let s = 0;
  for (let i = 0; i < logits.data.length; i++) {
    const x = logits.data[i]!;
    const t = typeof target === 'number' ? target : target.data[i]!;
    s += Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
  }
  return s / logits.data.length;
}

/** log Σ exp along `axis` (max-shifted); the axis is removed unless keepdims. */
export function logsumexp(x: Tensor, axis: number, keepdims = false): Tensor {
  const outer = numel(x.shape.slice(0, axis));
  const K = x.shape[axis]!;
  const inner = numel(x.shape.slice(axis + 1));
  const shape = [...x.shape];
  if (keepdims) shape[axis] = 1;
  else shape.splice(axis, 1);
  const y = zeros(shape);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let mx = -Infinity;
      for (let k = 0; k < K; k++) mx = Math.max(mx, x.data[(o * K + k) * inner + i]!);
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(x.data[(o * K + k) * inner + i]! - mx);
      y.data[o * inner + i] = mx + Math.log(s);
    }
  return y;
}

/** Mean over N of −Σ_k onehot·log softmax(logits). */
export function softmaxCrossEntropy(logits: Tensor, onehot: Tensor): number {
  const [N, K] = logits.shape as [number, number];
  const lse = logsumexp(logits, 1);
  let s = 0;
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++) s -= onehot.data[n * K + k]! * (logits.data[n * K + k]! - lse.data[n]!);
  return s / N;
}

// ---------------------------------------------------------------- Salimans et al. tricks

/**
 * Minibatch discrimination (openai/improved-gan MinibatchLayer): f [N,A], T [A,B,C], bias [B].
 * M = f·T; o[i,b] = Σ_{j≠i} exp(−‖M[i,b,:] − M[j,b,:]‖₁) + bias[b]; returns concat[f, o] → [N, A+B].
 */
export function minibatchDiscrimination(f: Tensor, T: Tensor, bias?: Tensor): Tensor {
  const [N, A] = f.shape as [number, number];
  const [At, B, C] = T.shape as [number, number, number];
  if (A !== At) throw new Error(`minibatchDiscrimination: features ${A}, T expects ${At}`);
  const M = linear(f, reshape(T, [A, B * C]));
  const o = zeros([N, B]);
  for (let i = 0; i < N; i++)
    for (let b = 0; b < B; b++) {
      let s = bias ? bias.data[b]! : 0;
      for (let j = 0; j < N; j++) {
        if (j === i) continue; // the reference adds 1e6 to the diagonal distance instead
        let d = 0;
        for (let c = 0; c < C; c++) d += Math.abs(M.data[i * B * C + b * C + c]! - M.data[j * B * C + b * C + c]!);
        s += Math.exp(-d);
      }
      o.data[i * B + b] = s;
    }
  return concat([f, o], 1);
}

/**
 * Semi-supervised K+1 losses (SEED.md), generated class = fixed logit 0.
 * lLab [N,K] with integer labels, lUnl [N,K], lGen [N,K].
 */
export function sslLosses(
  lLab: Tensor,
  labels: number[],
  lUnl: Tensor,
  lGen: Tensor,
): { lossLab: number; lossUnl: number; dLoss: number; gLoss: number } {
  const K = lLab.shape[1]!;
  let picked = 0;
  labels.forEach((y, n) => (picked += lLab.data[n * K + y]!));
  const lossLab = -picked / labels.length + mean(logsumexp(lLab, 1));
  const lseUnl = logsumexp(lUnl, 1);
  const lseGen = logsumexp(lGen, 1);
  const lossUnl = -0.5 * mean(lseUnl) + 0.5 * mean(softplus(lseUnl)) + 0.5 * mean(softplus(lseGen));
  return { lossLab, lossUnl, dLoss: lossLab + lossUnl, gLoss: -mean(softplus(lseGen)) };
}

// ---------------------------------------------------------------- optimizer

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** One PyTorch-style Adam step (t counts from 1); returns new p, m, v. */
export function adamStep(
  p: Tensor,
  g: Tensor,
  m: Tensor,
  v: Tensor,
  t: number,
  { lr, beta1, beta2, eps }: AdamOptions,
): { p: Tensor; m: Tensor; v: Tensor } {
  const p2 = zeros(p.shape);
  const m2 = zeros(p.shape);
  const v2 = zeros(p.shape);
  const bc1 = 1 - beta1 ** t;
  const bc2 = 1 - beta2 ** t;
  for (let i = 0; i < p.data.length; i++) {
    const gi = g.data[i]!;
    m2.data[i] = beta1 * m.data[i]! + (1 - beta1) * gi;
    v2.data[i] = beta2 * v.data[i]! + (1 - beta2) * gi * gi;
    p2.data[i] = p.data[i]! - (lr * (m2.data[i]! / bc1)) / (Math.sqrt(v2.data[i]! / bc2) + eps);
  }
  return { p: p2, m: m2, v: v2 };
}

// ---------------------------------------------------------------- DCGAN

/**
 * The base DCGAN of SEED.md at any size divisible by 16. Parameter names (carpedm20 style):
 *   G: g.h0.w [zdim, 8gf·s·s], g.h0.b [8gf·s·s]           (s = size/16; output reshaped channel-major)
 *      g.bn0.gamma, g.bn0.beta [8gf]
 *      g.h1.w [8gf,4gf,5,5] g.h1.b [4gf], g.bn1.{gamma,beta} [4gf]   (deconv weights [Cin,Cout,k,k])
 *      g.h2.w [4gf,2gf,5,5] g.h2.b [2gf], g.bn2.{gamma,beta} [2gf]
 *      g.h3.w [2gf, gf,5,5] g.h3.b [gf],  g.bn3.{gamma,beta} [gf]
 *      g.h4.w [gf, channels,5,5] g.h4.b [channels]                   (→ tanh, no BN)
 *   D: d.h0.w [df, channels,5,5] d.h0.b [df]                        (conv weights [Cout,Cin,k,k]; no BN)
 *      d.h1.w [2df,df,5,5]  d.h1.b [2df], d.bn1.{gamma,beta} [2df]
 *      d.h2.w [4df,2df,5,5] d.h2.b [4df], d.bn2.{gamma,beta} [4df]
 *      d.h3.w [8df,4df,5,5] d.h3.b [8df], d.bn3.{gamma,beta} [8df]
 *      d.h4.w [8df·s·s, 1]  d.h4.b [1]                              (flatten in NCHW order)
 */
export interface DcganConfig {
  size: number;
  gf: number;
  df: number;
  zdim: number;
  channels?: number;
  /** BN epsilon; 1e-5 as in SEED.md. */
  eps?: number;
  /** LeakyReLU slope; 0.2 as in SEED.md. */
  alpha?: number;
}

export type Params = Record<string, Tensor>;

const K = 5;

function s16(cfg: DcganConfig): number {
  if (cfg.size % 16 !== 0) throw new Error(`dcgan: size ${cfg.size} is not a multiple of 16`);
  return cfg.size / 16;
}

export function dcganParamShapes(cfg: DcganConfig): Record<string, number[]> {
  const { gf, df, zdim } = cfg;
  const ch = cfg.channels ?? 3;
  const s = s16(cfg);
  const shapes: Record<string, number[]> = {
    'g.h0.w': [zdim, 8 * gf * s * s],
    'g.h0.b': [8 * gf * s * s],
    'g.bn0.gamma': [8 * gf],
    'g.bn0.beta': [8 * gf],
  };
  const gch = [8 * gf, 4 * gf, 2 * gf, gf, ch];
  for (let l = 1; l <= 4; l++) {
    shapes[`g.h${l}.w`] = [gch[l - 1]!, gch[l]!, K, K];
    shapes[`g.h${l}.b`] = [gch[l]!];
    if (l < 4) {
      shapes[`g.bn${l}.gamma`] = [gch[l]!];
      shapes[`g.bn${l}.beta`] = [gch[l]!];
    }
  }
  const dch = [ch, df, 2 * df, 4 * df, 8 * df];
  for (let l = 0; l < 4; l++) {
    shapes[`d.h${l}.w`] = [dch[l + 1]!, dch[l]!, K, K];
    shapes[`d.h${l}.b`] = [dch[l + 1]!];
    if (l > 0) {
      shapes[`d.bn${l}.gamma`] = [dch[l + 1]!];
      shapes[`d.bn${l}.beta`] = [dch[l + 1]!];
    }
  }
  shapes['d.h4.w'] = [8 * df * s * s, 1];
  shapes['d.h4.b'] = [1];
  return shapes;
}

/** SEED.md init: weights N(0, 0.02) (plain normal here), biases 0, BN gamma 1, beta 0. */
export function initDcganParams(cfg: DcganConfig, seed = 1): Params {
  const random = rng(seed);
  const params: Params = {};
  for (const [name, shape] of Object.entries(dcganParamShapes(cfg))) {
    if (name.endsWith('.gamma')) params[name] = full(shape, 1);
    else if (name.endsWith('.w')) params[name] = randn(shape, random, 0.02);
    else params[name] = zeros(shape);
  }
  return params;
}

function param(params: Params, name: string): Tensor {
  const t = params[name];
  if (!t) throw new Error(`dcgan: missing parameter ${name}`);
  return t;
}

/**
 * z [N, zdim] → images [N, channels, size, size] in [−1, 1]. `onBatchStats(l, m)` sees the batch statistics that
 * batch norm l normalizes with (mean and biased variance per channel).
 */
export function dcganGenerator(z: Tensor, params: Params, cfg: DcganConfig, onBatchStats?: (l: number, m: ReturnType<typeof moments>) => void): Tensor {
  const p = (name: string) => param(params, name);
  const eps = cfg.eps ?? 1e-5;
  const s = s16(cfg);
  const N = z.shape[0]!;
  let h = linear(z, p('g.h0.w'), p('g.h0.b'));
  h = reshape(h, [N, 8 * cfg.gf, s, s]);
  onBatchStats?.(0, moments(h, [0, 2, 3]));
  h = relu(batchNormTrain(h, p('g.bn0.gamma'), p('g.bn0.beta'), eps, [0, 2, 3]));
  for (let l = 1; l <= 4; l++) {
    const size = h.shape[2]!;
    const { pads: [b, e], outputPadding: op } = deconvSamePads(size, K, 2);
    h = convTranspose2d(
      h,
      p(`g.h${l}.w`),
      { stride: [2, 2], pads: [b, b, e, e], outputPadding: [op, op] },
      p(`g.h${l}.b`),
    );
    if (l < 4) {
      onBatchStats?.(l, moments(h, [0, 2, 3]));
      h = relu(batchNormTrain(h, p(`g.bn${l}.gamma`), p(`g.bn${l}.beta`), eps, [0, 2, 3]));
    }
  }
  return tanh(h);
}

/** images [N, channels, size, size] → { logits [N,1], features [N, 8df·s·s] (input of the last linear) }. */
export function dcganDiscriminator(
  x: Tensor,
  params: Params,
  cfg: DcganConfig,
): { logits: Tensor; features: Tensor } {
  const p = (name: string) => param(params, name);
  const eps = cfg.eps ?? 1e-5;
  const alpha = cfg.alpha ?? 0.2;
  s16(cfg);
  let h = x;
  for (let l = 0; l < 4; l++) {
    const [b, e] = samePads(h.shape[2]!, K, 2);
    h = conv2d(h, p(`d.h${l}.w`), { stride: [2, 2], pads: [b, b, e, e] }, p(`d.h${l}.b`));
    if (l > 0) h = batchNormTrain(h, p(`d.bn${l}.gamma`), p(`d.bn${l}.beta`), eps, [0, 2, 3]);
    h = leakyRelu(h, alpha);
  }
  const features = flatten(h);
  return { logits: linear(features, p('d.h4.w'), p('d.h4.b')), features };
}
