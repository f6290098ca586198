/**
 * Faster standard-op forms of the three convolution ops of a training graph, chosen per node by shape (measured with
 * onnxruntime 1.29 on CPU; figures in the commit messages):
 *
 * - dense: where the convolution's large side has no more pixels than its kernel has taps (4×4 → 2×2 with k5), it is
 *   cheaper as a matrix: y = x·Wᵈ with Wᵈ [Ho·Wo·M, C·H·W] made from w (zero where no tap links two pixels);
 *   the weight gradient is one GEMM of gy against x's patches (im2col, below; ordered (channel, tap) where they are
 *   no larger than the weight, so that no Transpose lays the gradient out).
 *   Forward, input gradient and weight gradient each become ONE large GEMM over the whole batch, instead of ORT's
 *   per-image GEMMs with 2×2 or 4×4 columns (and its single-threaded col2im for ConvTranspose). A matrix of 32 MiB or
 *   more is not built: there all three are GEMMs against channel-major patches (MMAP_FLOATS).
 * - winograd: a 5×5 stride-2 SAME Conv and its ConvTranspose (at batch 64 the 16×16 layers of ≥ 64 channels each
 *   side and ≥ 128 × 128 channel pairs; the rules and their measurements are in conv_winograd.ts), as Winograd
 *   F(4×4, 3×3) per stride phase in GEMMs over the batch: 2.8× fewer multiply-adds.
 * - phase: a stride-s ConvTranspose with a small input (≤ 4×4) as ONE stride-1 Conv to s²·C_out channels (the s² phase
 *   kernels packed, zero-padded, into one weight) + DepthToSpace: one threaded GEMM instead of ORT's per-image GEMM
 *   and col2im.
 * - patches: a Conv whose input has at most 8×8 pixels and whose per-image GEMM is small (≤ 16 M multiply-adds), and
 *   its weight gradient, as one GEMM over the batch against im2col patches of x (one Gather of C-float pixels); so is
 *   the phase form's own stride-1 Conv where it is that small. Up to 32×32 inputs of ≥ 16 channels the weight
 *   gradient alone is computed so, from patches of a few images at a time summed in an ONNX Scan, so that one chunk's
 *   patches exist at a time (the whole batch's patches at once lost 7% CPU at 16×16 in a paired A/B; as separate
 *   nodes per chunk, ORT ran all their Gathers at once); a weight of over 1 M floats with an input ≤ 8×8 from the
 *   whole batch's patches, which take less memory than the Scan's weight-sized state buffers.
 *
 * Runs after autodiff, so gradients are those of the plain ops and graphs keep the model's FLOP count; generate (and
 * so `ganc export`) keeps plain ops. Nodes a form does not fit stay as they are.
 */
import { Builder, newValue } from '../builder.ts';
import { type Graph, type Node, type Value, numel } from '../ir.ts';
import { matmul } from '../ops/matmul.ts';
import { gather } from '../ops/gather.ts';
import { expand, pad, reshape, slice, transpose } from '../ops/shape.ts';
import { scan } from '../ops/scan.ts';
import { reduceSum } from '../ops/reduce.ts';
import { substitute } from './substitute.ts';
import { winograd, winogradGeometry } from './conv_winograd.ts';
import { attrsOf, channelPatchIndex, col2imIndex, type Geo, key, pixelIndex, relation, tapTable } from './conv_geometry.ts';

export interface ConvForms {
  dense: boolean;
  winograd: boolean;
  phase: boolean;
  patches: boolean;
}

export const ALL_CONV_FORMS: ConvForms = { dense: true, winograd: true, phase: true, patches: true };

/** Largest dense matrix (floats) worth building every step. */
const DENSE_MAX = 1 << 24;
/**
 * From this size on (32 MiB, glibc's largest mmap threshold) every allocation is mapped afresh and its pages faulted
 * in at each use: a dense matrix this large is not built; where the patches are no larger than the weight, the
 * Conv and its adjoint are GEMMs against channel-major patches instead (see channelPatches). At 32 px width 64
 * (D's 4×4 → 2×2 layer, G's 2×2 → 4×4, 512 × 256 channels: 32 MiB each) separate processes ran 0.47–0.95 against
 * 0.68–1.00 s (7 of 8 faster), 1.3–30 k against 11–52 k faults and 457–488 against 466–547 MB per iteration; at
 * width 32 (8 MiB matrices) the dense form stays ahead.
 */
const MMAP_FLOATS = 1 << 23;
/** Largest input (H·W) of a ConvTranspose lowered as phases; beyond it ORT's own kernel is as fast or faster. */
const PHASE_MAX_PIXELS = 16;
/** Largest input (H·W) of a Conv computed from im2col patches (16×16 measured slower, see above). */
const PATCH_MAX_PIXELS = 64;
/**
 * Largest per-image GEMM (multiply-adds) ORT's own Conv is left to lose on: beyond it ORT's per-image GEMMs are
 * large enough (patches won 13% CPU at 32 px width 32 and lost 5% at 64 px width 64, where these convs are 52 M, on
 * the AVX2 machine of the first sessions). It still holds for weight gradients and for the phase form's packed Conv
 * (G's 4×4 → 8×8 at 64 px, 75 M per image: from patches no detectable difference, 0.997 in a paired A/B, 6 of 8,
 * for +21 MiB of live intermediates at the D step's peak); plain Convs see largeConvPatches.
 */
const PATCH_MAX_MACS = 1 << 24;

/** Floats of the dense matrix Wᵈ [Ho·Wo·M, C·H·W]. */
const denseFloats = ({ x, y }: Geo) => y[2] * y[3] * y[1] * x[1] * x[2] * x[3];

function denseFits(n: Node): boolean {
  const geo = relation(n);
  return geo.x[2] * geo.x[3] <= geo.k[0] * geo.k[1] && denseFloats(geo) <= DENSE_MAX;
}

/** A Conv or a weight gradient whose large side is small enough to be computed from im2col patches. */
function patchesFit(n: Node): boolean {
  if (n.op !== 'Conv' && n.op !== 'ConvWeightGrad') return false;
  const { x, y, k } = relation(n);
  // A large weight's gradient from the whole batch's patches: they take less memory than a Scan's state (below).
  if (n.op === 'ConvWeightGrad' && weightFloats(x, y, k) > SCAN_MAX_WEIGHT) {
    return x[2] * x[3] <= PATCH_MAX_PIXELS && batchPatchFloats(x, y, k) <= DENSE_MAX;
  }
  return (n.op === 'Conv' && largeConvPatches(x, y, k)) || patchesPay(x, y, k);
}

/**
 * A plain Conv of an input ≤ 8×8 is computed from the whole batch's patches, however large its per-image GEMM, while
 * they stay below 32 MiB (MMAP_FLOATS; at 128 px D's 8×8 → 4×4 layer's are 52 MB). At 64 px (D's 8×8 → 4×4, 256 →
 * 512, and G's input gradient there, 52 M per image; AVX-512 machine): bench/ab_paired-style pairs 0.943 (7 of 8
 * faster), separate processes 4 of 4 faster (1.49–1.77 against 1.70–2.41 s), peak RSS 663–666 against 628–648 MB
 * (PyTorch's ~713); ORT ran these convs at ~95 G multiply-adds/s, MLAS's GEMM of the same size at ~150.
 */
const largeConvPatches = (x: readonly number[], y: readonly number[], k: readonly number[]) =>
  x[2] * x[3] <= PATCH_MAX_PIXELS && batchPatchFloats(x, y, k) < MMAP_FLOATS;

/** Largest im2col chunk (floats) of a weight gradient computed batch chunk by batch chunk. */
const CHUNK_FLOATS = 1 << 20;

/** Largest input (H·W) of a weight gradient computed from im2col patches batch chunk by batch chunk. */
const CHUNKED_MAX_PIXELS = 1024;

/**
 * Largest weight (floats) whose gradient is summed over batch chunks in an ONNX Scan: ORT keeps the initial, two
 * alternating and the final state, 3–4 weight-sized buffers (at 64 px, 512×256×5×5 weights: peak RSS +40–60 MB).
 */
const SCAN_MAX_WEIGHT = 1 << 20;

const weightFloats = (x: readonly number[], y: readonly number[], k: readonly number[]) => y[1] * x[1] * k[0] * k[1];

/**
 * A weight gradient of a larger image (≤ 32×32, ≥ 16 channels) computed from im2col patches, a few images at a time:
 * ORT's batch-transposed Conv is slowest on these (32 px models' second layer: 8–16 ms against PyTorch's 3.9; at
 * 64 px 25–30% slower per layer). With 3 channels the patches' GEMM is too narrow to pay (32 px width 32 CPU ×1.10).
 */
function chunkedFit(n: Node): boolean {
  if (n.op !== 'ConvWeightGrad') return false;
  const { x, y, k } = relation(n);
  return x[1] >= 16 && x[2] * x[3] <= CHUNKED_MAX_PIXELS && weightFloats(x, y, k) <= SCAN_MAX_WEIGHT;
}

/** Floats of the whole batch's im2col patches. */
const batchPatchFloats = (x: readonly number[], y: readonly number[], k: readonly number[]) => x[0] * y[2] * y[3] * k[0] * k[1] * x[1];

/**
 * Whole-batch patches of at least this many floats are gathered again for the weight gradient instead of being kept
 * from the forward pass to the backward: at 32 px width 64 the D step held two 12.5 MB patch matrices (real and fake)
 * through its whole backward pass, where its memory peaks (ORT's execution order: 149 → 128 MB of live
 * intermediates; separate processes' peak RSS median 497 → 485 MB, time no detectable difference). At width 32
 * (6.25 MB each) gathering again cost more time than it saved memory.
 */
const RECOMPUTED_PATCHES = 1 << 21;

/** Multiply-adds of one image's GEMM (ORT's Conv runs one per image). */
const perImageMacs = (x: readonly number[], y: readonly number[], k: readonly number[]) => y[2] * y[3] * y[1] * x[1] * k[0] * k[1];

function patchesPay(x: readonly number[], y: readonly number[], k: readonly number[]): boolean {
  return x[2] * x[3] <= PATCH_MAX_PIXELS && perImageMacs(x, y, k) <= PATCH_MAX_MACS && batchPatchFloats(x, y, k) <= DENSE_MAX;
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

/** One graph's rewrite: the builder of the new nodes, the values shared between nodes (memo), one member per form. */
class FormBuilder {
  readonly b = new Builder();
  private readonly memo = new Map<string, Value>();
  private readonly ids = new Map<Value, number>();
  private scans = 0;

  constructor(private readonly forms: ConvForms) {}

  /** The value made once under `key` (weight forms, transposes, constants shared by several nodes). */
  readonly once = (key: string, make: () => Value): Value => {
    let v = this.memo.get(key);
    if (!v) this.memo.set(key, (v = make()));
    return v;
  };

  /** A small number naming a value in memo keys. */
  readonly id = (v: Value): number => (this.ids.has(v) ? this.ids.get(v)! : (this.ids.set(v, this.ids.size), this.ids.size - 1));

  /**
   * Wᵈ [Q·M, C·P] of the node's weight: Wᵈ[q, m, c, p] = w[m, c, tap(q, p)], or 0 where no tap links q and p — one
   * MatMul of w as [M·C, kk] with a 0/1 tap map [Q, kk, P], batched over q, that writes Wᵈ in place: no transpose of
   * the (large) weight. Rows are (q, m), so the forward's output and the input gradient's input are pixel-major
   * (a transpose of the small side); columns are x's own NCHW layout.
   */
  private readonly denseWeight = (geo: Geo, w: Value) => this.once(`Wd ${this.id(w)} ${key(geo)}`, () => {
    const { x, y, k } = geo;
    const [M, C, Q, P, kk] = [y[1], x[1], y[2] * y[3], x[2] * x[3], k[0] * k[1]];
    const taps = this.once(`taps ${key(geo)}`, () => {
      const data = new Float32Array(Q * kk * P);
      tapTable(geo).forEach((t, i) => { if (t >= 0) data[(Math.floor(i / P) * kk + t) * P + (i % P)] = 1; });
      return this.b.constant(data, [Q, kk, P]);
    });
    return reshape(this.b, matmul(this.b, reshape(this.b, w, [M * C, kk]), taps), [Q * M, C * P]);
  });
  /** v [N, C, H, W] channels last, [N, H·W, C] (one Transpose per value, shared by the forms that read it). */
  private readonly channelsLast = (v: Value) => this.once(`nhwc ${this.id(v)}`, () => {
    const [N, C] = v.shape;
    return transpose(this.b, reshape(this.b, v, [N, C, numel(v.shape.slice(2))]), [0, 2, 1]);
  });
  /** y [N, M, Ho, Wo] as [N·Q, M] (pixel-major rows). */
  private readonly pixelRows = (v: Value) => reshape(this.b, this.channelsLast(v), [-1, v.shape[1]]);
  /** Pixel-major rows [N·Q, M] (or [N, Q·M]) back to y [N, M, Ho, Wo]: pixelRows' inverse. */
  private readonly fromPixelRows = (rows: Value, y: readonly number[]) =>
    reshape(this.b, transpose(this.b, reshape(this.b, rows, [y[0], y[2] * y[3], y[1]]), [0, 2, 1]), y);
  /** x channels last with a zero pixel appended, [N, P + 1, C]: what im2col's Gathers read. */
  private readonly zeroPixel = (x: Value) => this.once(`xz ${this.id(x)}`, () => pad(this.b, this.channelsLast(x), [0, 0, 0, 0, 1, 0]));
  /** dW laid out [M, (tap, c)] as the weight [M, C, kh, kw]. */
  private readonly tapMajorToWeight = (dw: Value, geo: Geo, C: number) => {
    const [M, kk] = [geo.y[1], geo.k[0] * geo.k[1]];
    return reshape(this.b, transpose(this.b, reshape(this.b, dw, [M, kk, C]), [0, 2, 1]), [M, C, geo.k[0], geo.k[1]]);
  };
  /**
   * im2col of x over the whole batch, [N·Q, kk·C]: one Gather of pixels (C floats each) from x channels last with a
   * zero pixel appended, index [Q, kk] = the input pixel under tap t of output pixel q (or the zero pixel). A copy,
   * where the earlier batched MatMul with a 0/1 tensor grew with the square of the image.
   */
  private readonly patches = (geo: Geo, x: Value, use: 'conv' | 'wgrad' = 'conv') => this.once(`patches ${use} ${this.id(x)} ${key(geo)}`, () => {
    const { y, k } = geo;
    const [N, C, Q, kk] = [x.shape[0], x.shape[1], y[2] * y[3], k[0] * k[1]];
    // A gradient's own Gather reads its own index constant: ORT's common-subexpression pass would merge two equal Gathers.
    const idx = this.once(`Tpatch ${use} ${key(geo)}`, () => this.b.constant(pixelIndex(geo), [Q, kk], 'int64'));
    return reshape(this.b, gather(this.b, this.zeroPixel(x), idx, 1), [N * Q, kk * C]);
  });
  /** A Conv as one GEMM over the batch: patches [N·Q, kk·C] × w as [M, kk·C]ᵀ. */
  private readonly patchConv = (geo: Geo, x: Value, w: Value): Value => {
    const { y, k } = geo;
    const [M, C, kk] = [y[1], x.shape[1], k[0] * k[1]];
    const wm = this.once(`wpatch ${this.id(w)}`, () => reshape(this.b, transpose(this.b, reshape(this.b, w, [M, C, kk]), [0, 2, 1]), [M, kk * C]));
    const yq = matmul(this.b, this.patches(geo, x), wm, false, true);
    return this.fromPixelRows(yq, y);
  };
  /**
   * ConvWeightGrad: dW[m, (tap, c)] = Σ_{n,q} gy[n, q, m]·patch[n, q, tap, c], one GEMM over the batch. Large patches
   * are gathered again rather than kept from the forward pass (see RECOMPUTED_PATCHES).
   */
  private readonly patchWeightGrad = (geo: Geo, x: Value, gy: Value): Value => {
    const own = batchPatchFloats(geo.x, geo.y, geo.k) >= RECOMPUTED_PATCHES;
    return this.tapMajorToWeight(matmul(this.b, this.pixelRows(gy), this.patches(geo, x, own ? 'wgrad' : 'conv'), true, false), geo, x.shape[1]);
  };

  /** v [N, A, B] ↔ [N, B, A] (the small side of the dense form between NCHW and pixel-major). */
  private readonly swap = (v: Value, a: number, c: number) => transpose(this.b, reshape(this.b, v, [v.shape[0], a, c]), [0, 2, 1]);

  /**
   * ConvWeightGrad from im2col patches of a few images at a time (≤ CHUNK_FLOATS each), one GEMM per chunk summed
   * inside an ONNX Scan over the batch: one chunk's patches exist at a time (as separate nodes, ORT ran every
   * chunk's Gather at once and peak memory rose by 110–130 MB at 64 px).
   */
  private readonly chunkedWeightGrad = (geo: Geo, x: Value, gy: Value): Value => {
    const { y, k } = geo;
    const [N, C, M, Q, P, kk] = [x.shape[0], x.shape[1], y[1], y[2] * y[3], x.shape[2] * x.shape[3], k[0] * k[1]];
    let per = Math.max(1, Math.floor(CHUNK_FLOATS / (Q * kk * C)));
    while (N % per) per--;
    const s = new Builder();
    const tag = `wgrad${this.scans++}`;
    const io = (name: string, shape: number[]) => ({ name: `${tag}.${name}`, value: newValue(shape, 'float32'), role: 'data' as const });
    const [acc, xs, gs] = [io('dw', [M, kk * C]), io('x', [per * (P + 1), C]), io('gy', [per * Q, M])];
    // Image i of the chunk has its pixels from i·(P + 1) on: im2col's index, offset by that.
    const index = pixelIndex(geo);
    const idx = s.constant(Array.from({ length: per }, (_, i) => index.map((p) => i * (P + 1) + p)).flat(), [per * Q, kk], 'int64');
    const patch = reshape(s, gather(s, xs.value, idx, 0), [per * Q, kk * C]);
    const next = s.emit1('Add', [acc.value, matmul(s, gs.value, patch, true, false)]);
    const body: Graph = { name: tag, inputs: [acc, xs, gs], outputs: [{ ...io('dw.next', [M, kk * C]), value: next }], nodes: s.nodes };
    const zero = expand(this.b, this.b.scalar(0), [M, kk * C]);
    const [dw] = scan(this.b, body, [zero], [reshape(this.b, this.zeroPixel(x), [N / per, per * (P + 1), C]), reshape(this.b, this.pixelRows(gy), [N / per, per * Q, M])]);
    return this.tapMajorToWeight(dw, geo, C);
  };

  /** The dense form; from a 32 MiB matrix on (where N·Q ≤ M), the channel-major patch GEMMs instead. */
  private readonly dense = (n: Node): Value => {
    const [a, c] = n.inputs;
    const geo = relation(n);
    const [N, M, Q] = [geo.y[0], geo.y[1], geo.y[2] * geo.y[3]];
    const patchesFitWeight = N * Q <= M; // channel-major patches no larger than the weight (see channelPatches)
    if (patchesFitWeight && denseFloats(geo) >= MMAP_FLOATS) {
      if (n.op === 'Conv') return this.channelMajorConv(geo, a, c);
      if (n.op === 'ConvTranspose') return this.channelMajorAdjoint(geo, a, c);
    }
    if (n.op === 'Conv') {
      const yq = matmul(this.b, reshape(this.b, a, [N, -1]), this.denseWeight(geo, c), false, true);
      return this.fromPixelRows(yq, geo.y);
    }
    if (n.op === 'ConvTranspose') return reshape(this.b, matmul(this.b, reshape(this.b, this.swap(a, M, Q), [N, -1]), this.denseWeight(geo, c)), geo.x);
    return patchesFitWeight ? this.channelMajorWeightGrad(geo, a, c) : this.patchWeightGrad(geo, a, c);
  };

  /**
   * x's im2col patches ordered (channel, tap), [N·Q, C·kk]: one Gather of single floats from x as it is (NCHW, a zero
   * appended). Against the tap-major patches (C floats per gathered pixel, ~10× faster per float) they need no
   * weight-sized Transpose: the weight [M, C, kh, kw] is already [M, (c, tap)]. That pays while the patches are no
   * larger than the weight (N·Q·C·kk against M·C·kk floats): N·Q ≤ M, as at batch 64 in DCGAN's 4×4 ↔ 2×2 layers of
   * ≥ 256 channels.
   */
  private readonly channelPatches = (geo: Geo, x: Value) => this.once(`cpatches ${this.id(x)} ${key(geo)}`, () => {
    const { y, k } = geo;
    const [N, C, Q, P, kk] = [x.shape[0], x.shape[1], y[2] * y[3], x.shape[2] * x.shape[3], k[0] * k[1]];
    const idx = this.once(`Tcpatch ${key(geo)}`, () => this.b.constant(channelPatchIndex(geo), [Q, C, kk], 'int64'));
    const xz = pad(this.b, reshape(this.b, x, [N, C * P]), [0, 0, 0, 1]);
    return reshape(this.b, gather(this.b, xz, idx, 1), [N * Q, C * kk]);
  });
  private readonly weightRows = (w: Value) => reshape(this.b, w, [w.shape[0], -1]);

  /** y = patches · wᵀ: [N·Q, M], then NCHW. */
  private readonly channelMajorConv = (geo: Geo, x: Value, w: Value): Value => {
    return this.fromPixelRows(matmul(this.b, this.channelPatches(geo, x), this.weightRows(w), false, true), geo.y);
  };

  /**
   * The adjoint (ConvTranspose g ↦ x-shaped): patch gradients gy-rows · w, [N·Q, (c, tap)], summed back onto pixels
   * (col2im) as one Gather of the Q terms of each (c, p) — each output pixel reaches an input pixel by at most one
   * tap, else a zero appended — and a ReduceSum over them.
   */
  private readonly channelMajorAdjoint = (geo: Geo, g: Value, w: Value): Value => {
    const { x, y, k } = geo;
    const [N, C, Q, P, kk] = [x[0], x[1], y[2] * y[3], x[2] * x[3], k[0] * k[1]];
    const dp = matmul(this.b, this.pixelRows(g), this.weightRows(w));
    const idx = this.once(`Tcol2im ${key(geo)}`, () => this.b.constant(col2imIndex(geo), [C, Q, P], 'int64'));
    const terms = gather(this.b, pad(this.b, reshape(this.b, dp, [N, Q * C * kk]), [0, 0, 0, 1]), idx, 1);
    return reshape(this.b, reduceSum(this.b, terms, [2]), x);
  };

  /** The dense form's ConvWeightGrad: dW [M, (c, tap)] = gyᵀ · channel-major patches, in the weight's layout. */
  private readonly channelMajorWeightGrad = (geo: Geo, x: Value, gy: Value): Value => {
    const { y, k } = geo;
    return reshape(this.b, matmul(this.b, this.pixelRows(gy), this.channelPatches(geo, x), true, false), [y[1], x.shape[1], k[0], k[1]]);
  };

  private readonly phase = (n: Node, plan: NonNullable<ReturnType<typeof phasePlan>>): Value => {
    const [g, w] = n.inputs;
    const [Ci, Co, kh, kw] = w.shape;
    const { s, h, w: pw } = plan;
    const pads = attrsOf(n).pads;
    const T = h.taps * pw.taps;
    const where = key(relation(n));
    const packed = this.once(`phase ${this.id(w)} ${where}`, () => {
      // Packed kernel [(co, rh, rw), ci, (th, tw)] = w[ci, co, rh + p0 − s·(th + lo), …], zero where off the kernel
      // (DepthToSpace's CRD channel order): w as [Co, Ci, kk] (a Transpose that moves one axis over contiguous
      // kk-float blocks) times a 0/1 tap map per phase. The earlier Gather from w laid out [kk, Co, Ci] needed two
      // Transposes without contiguous inner blocks, each slower than the packed Conv's savings.
      const taps = this.once(`Tphase ${where}`, () => {
        const data = new Float32Array(s * s * kh * kw * T);
        for (let rh = 0; rh < s; rh++) for (let rw = 0; rw < s; rw++) for (let th = 0; th < h.taps; th++) for (let tw = 0; tw < pw.taps; tw++) {
          const i = rh + pads[0] - s * (th + h.lo), j = rw + pads[1] - s * (tw + pw.lo);
          if (i >= 0 && i < kh && j >= 0 && j < kw) data[((rh * s + rw) * kh * kw + i * kw + j) * T + th * pw.taps + tw] = 1;
        }
        return this.b.constant(data, [s * s, kh * kw, T]);
      });
      // [Co, 1, Ci, kk] × [s², kk, T], batched over (co, phase): the packed kernel comes out in its final layout.
      const wt = transpose(this.b, reshape(this.b, w, [Ci, Co, 1, kh * kw]), [1, 2, 0, 3]);
      return reshape(this.b, matmul(this.b, wt, taps), [Co * s * s, Ci, h.taps, pw.taps]);
    });
    const attrs = { strides: [1, 1], dilations: [1, 1], pads: [h.begin, pw.begin, h.end, pw.end] };
    const q = [g.shape[0], s * s * Co, g.shape[2] + h.begin + h.end - h.taps + 1, g.shape[3] + pw.begin + pw.end - pw.taps + 1];
    const geo: Geo = { x: g.shape, y: q, k: [h.taps, pw.taps], ...attrs };
    const conv = this.forms.patches && patchesPay(geo.x, geo.y, geo.k) ? this.patchConv(geo, g, packed) : this.b.emit1('Conv', [g, packed], attrs);
    const y = this.b.emit1('DepthToSpace', [conv], { blocksize: s, mode: 'CRD' });
    const out = n.outputs[0].shape;
    return y.shape[2] === out[2] && y.shape[3] === out[3] ? y : slice(this.b, y, [0, 0], [out[2], out[3]], [2, 3]);
  };

  readonly formOf = (n: Node): (() => Value) | undefined => {
    if (n.op !== 'Conv' && n.op !== 'ConvTranspose' && n.op !== 'ConvWeightGrad') return undefined;
    if (this.forms.dense && denseFits(n)) return () => this.dense(n);
    const wino = this.forms.winograd ? winogradGeometry(n) : undefined;
    if (wino) return () => winograd(this.b, n, wino, { once: this.once, id: this.id });
    const plan = this.forms.phase ? phasePlan(n) : undefined;
    if (plan) return () => this.phase(n, plan);
    if (this.forms.patches && patchesFit(n)) {
      return n.op === 'Conv' ? () => this.patchConv(relation(n), n.inputs[0], n.inputs[1]) : () => this.patchWeightGrad(relation(n), n.inputs[0], n.inputs[1]);
    }
    if (this.forms.patches && chunkedFit(n)) return () => this.chunkedWeightGrad(relation(n), n.inputs[0], n.inputs[1]);
    return undefined;
  };
}

/** The graph with each Conv, ConvTranspose and ConvWeightGrad that a form fits replaced by that form's nodes. */
export function chooseConvForms(g: Graph, forms: ConvForms = ALL_CONV_FORMS): Graph {
  const f = new FormBuilder(forms);
  const repl = new Map<Value, Value>();
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    const form = f.formOf(n);
    if (!form) {
      nodes.push(n);
      continue;
    }
    f.b.siteOverride = n.site;
    const start = f.b.nodes.length;
    const v = form();
    nodes.push(...f.b.nodes.slice(start));
    repl.set(n.outputs[0], v);
  }
  return substitute(g, nodes, repl);
}
