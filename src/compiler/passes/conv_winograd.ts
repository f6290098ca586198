/**
 * The Winograd form of a 5×5, stride-2 "SAME" convolution (pads [1, 1, 2, 2], the seed's DCGAN layers) and of its
 * adjoint, the ConvTranspose (a G layer's forward, a D layer's input gradient), in standard ONNX ops.
 *
 * Split by stride phase (even / odd rows and columns of the padded input: SpaceToDepth), the convolution is four 3×3
 * stride-1 correlations summed; each is Winograd's F(4×4, 3×3) (Lavin & Gray 2015): per 4×4 output tile, 6×6 input
 * values and 36 products instead of 144. The phases join the channels in the contraction, so per transform component
 * (a, a') it is one GEMM [N, 4·C] × [4·C, M], batched over tiles and components: 9 multiply-adds per output and channel
 * pair instead of 25 (2.8× fewer), in GEMMs over the batch (ORT's own Conv runs one small GEMM per image).
 *
 * x → Pad → SpaceToDepth [N·4C·Hp, Wp] → the input transform along W, then H, as Gemms with a constant matrix →
 * U [Th·6, Tw·6, N, 4C] → × the transformed weight → the output transform along H, then W → [N, M, Ho, Wo]. The
 * ConvTranspose is the same chain transposed, read backwards. Float32 error ~1e-5 of the output's largest value
 * (the transform's points are 0, ±1, ±2, ∞). Gradients are not taken through this form: it replaces nodes after
 * autodiff, like the other conv forms.
 */
import type { Builder } from '../builder.ts';
import type { Node, Value } from '../ir.ts';
import { matmul } from '../ops/matmul.ts';
import { concat, pad, reshape, slice, transpose } from '../ops/shape.ts';

const BT = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];
const G = [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]];
const AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]];

/**
 * Fewest output positions of the large side (N·H·W): the weight transform (144·C·M floats, once per step and kept
 * until the weight's last use) is paid back over the GEMM's positions. At 32 px width 64 the 8×8 layers (N·H·W = 4096)
 * added ~20 MB and no detectable speed (without them 1.109× faster than no form, with them 1.073×).
 */
const MIN_POSITIONS = 1 << 14;
/**
 * Largest image (H·W of the large side): the transforms move ~2.25× each side's data through a few passes, and at
 * 32×32 (64 px, 64 → 128 channels) that cost more than the GEMM saved (64 px: 1D + 1G 1.05× faster with it, 1.12×
 * without; bench/ab_paired.ts).
 */
const MAX_PIXELS = 256;
/**
 * Fewest channels on either side: the GEMMs' saving grows with the channels while the transforms' cost does not
 * (32 px width 32: 1.055× faster with 64 → 128 channels, no detectable gain from 32 → 64 as well).
 */
const MIN_CHANNELS = 64;
/**
 * Fewest channel pairs (C·M): the GEMMs' saving grows with C·M, the transforms' cost and the form's buffers with
 * C + M. At 32 px width 64 (64 ↔ 128 channels at 16×16) the form bought 3% of the iteration (bench/ab_paired.ts: 1.033×
 * slower without it, 12 pairs) for 30–50 MB of peak RSS (separate processes: 484–516 MB without it, 529–564 with;
 * PyTorch's 524); at 64 px (128 ↔ 256) it buys ~6%, with ganc's peak far below PyTorch's.
 */
const MIN_CHANNEL_PAIRS = 128 * 128;
/**
 * Largest transformed weight (floats; 5.76× the weight): it lives from a weight's first use in a step to its last
 * (forward to input gradient). At 64 px the 256 → 512 layers' (19 M floats each, in both steps) took ganc's peak RSS
 * to 907–917 MB (708–734 without them, ~600 without the form; PyTorch's ~730) for ~7% of the iteration.
 */
const MAX_WEIGHT = 1 << 23;

/**
 * Largest transformed input (U, floats) of one batch chunk. ORT's planner hands a freed buffer to the next value of
 * the identical shape, which keeps it allocated in between: a forward's U and its input gradient's (same shapes) held
 * theirs from forward to backward. Peak RSS at 64 px 710 MB with whole batches, 641 in chunks of 16 images; at 32 px
 * width 64 570 with U ≤ 2 M floats a chunk, 529 with 1 M, 510 with 0.5 M. No detectable time difference
 * (bench/ab_paired.ts, 32 px width 64: 1.006 CPU); chunks of 8 images cost 6% at 64 px.
 */
const CHUNK_FLOATS = 1 << 19;
/** Fewest images in a chunk. */
const MIN_CHUNK = 16;

/** The number of batch chunks the form runs in: the fewest that keep U within CHUNK_FLOATS, chunks ≥ MIN_CHUNK. */
function batchChunks({ N, C, H, W }: Geometry): number {
  const u = 2.25 * N * C * H * W;
  for (let c = 1; c <= N; c++) if (N % c === 0 && (u / c <= CHUNK_FLOATS || N / c < 2 * MIN_CHUNK)) return c;
  return 1;
}

/** Conv x [N, C, H, W] ↔ y [N, M, H/2, W/2], w [M, C, 5, 5], as the node reads it (see conv_forms.ts's relation). */
interface Geometry { N: number; C: number; M: number; H: number; W: number }

/** The node's geometry where it is a 5×5 stride-2 SAME Conv, or that Conv's ConvTranspose, of sides multiple of 8. */
export function winogradGeometry(n: Node): Geometry | undefined {
  if (n.op !== 'Conv' && n.op !== 'ConvTranspose') return undefined;
  const [a, w] = n.inputs;
  const { strides, pads, dilations } = n.attrs as { strides: number[]; pads: number[]; dilations: number[] };
  if (w.shape[2] !== 5 || w.shape[3] !== 5) return undefined;
  if (strides.some((s) => s !== 2) || dilations.some((d) => d !== 1) || pads.join() !== '1,1,2,2') return undefined;
  const x = n.op === 'Conv' ? a.shape : n.outputs[0].shape;
  const y = n.op === 'Conv' ? n.outputs[0].shape : a.shape;
  const [N, C, H, W] = x;
  const M = y[1];
  if (H % 8 || W % 8 || N * H * W < MIN_POSITIONS || y[2] * 2 !== H || y[3] * 2 !== W) return undefined;
  if (H * W > MAX_PIXELS || Math.min(C, M) < MIN_CHANNELS || C * M < MIN_CHANNEL_PAIRS) return undefined;
  if (36 * M * 4 * C > MAX_WEIGHT) return undefined;
  return { N, C, M, H, W };
}

/**
 * The input transform along one axis of a phase of L/2 + 1 padded pixels: [T·6, L/2 + 1], rows (tile t, component a):
 * component a of tile t is Σ_r Bᵀ[a, r]·d[4t + r] (d beyond the phase's end is zero).
 */
function inputMatrix(L: number): number[][] {
  const m = Array.from({ length: (L / 8) * 6 }, () => new Array<number>(L / 2 + 1).fill(0));
  for (let t = 0; t < L / 8; t++) for (let a = 0; a < 6; a++) for (let r = 0; r < 6; r++) {
    if (4 * t + r <= L / 2) m[t * 6 + a][4 * t + r] = BT[a][r];
  }
  return m;
}

/** The weight transform [(a, a'), (i, j)] of one phase's 3×3 taps: G g Gᵀ. */
const weightMatrix = (): number[][] => G.flatMap((ga) => G.map((gb) => ga.flatMap((u) => gb.map((v) => u * v))));

export interface Memo {
  once: (key: string, make: () => Value) => Value;
  id: (v: Value) => number;
}

/** The Winograd form of the node (Conv → y, ConvTranspose → x, plus its bias input if any), given its geometry. */
export function winograd(b: Builder, n: Node, g: Geometry, memo: Memo): Value {
  const [a, w] = n.inputs;
  const chunks = batchChunks(g);
  const part = { ...g, N: g.N / chunks };
  const run = (v: Value) => (n.op === 'Conv' ? winogradConv(b, v, w, part, memo) : winogradConvTranspose(b, v, w, part, memo));
  const outs = Array.from({ length: chunks }, (_, k) => run(chunks === 1 ? a : slice(b, a, [k * part.N], [(k + 1) * part.N], [0])));
  const v = chunks === 1 ? outs[0] : concat(b, outs, 0);
  const bias = n.inputs[2];
  return bias ? b.emit1('Add', [v, reshape(b, bias, [bias.shape[0], 1, 1])]) : v;
}

const constant = (b: Builder, { once }: Memo, name: string, make: () => number[][]) => once(`wino ${name}`, () => {
  const m = make();
  return b.constant(m.flat(), [m.length, m[0].length]);
});
/** The input transform along an axis of L pixels, and the output transform's transpose: one constant each per graph. */
const inputs = (b: Builder, memo: Memo, L: number) => constant(b, memo, `B${L}`, () => inputMatrix(L));
const outputs = (b: Builder, memo: Memo, L: number) => constant(b, memo, `A${L}`, () => outputMatrixT(L));

/**
 * The transformed weight [1, 6, 1, 6, M, 4C] (broadcast over tiles; contraction index (phase row, phase column, c)),
 * shared by the weight's Conv and ConvTranspose: w padded to 6×6 → SpaceToDepth [M, 4C, 3, 3] (the phases' taps) →
 * one GEMM with G⊗G → [36, M·4C].
 */
function weight(b: Builder, w: Value, { M, C }: Geometry, memo: Memo): Value {
  return memo.once(`wino w ${memo.id(w)}`, () => {
    const phases = b.emit1('SpaceToDepth', [pad(b, w, [0, 0, 0, 0, 0, 0, 1, 1])], { blocksize: 2 });
    const taps = reshape(b, phases, [M * 4 * C, 9]);
    return reshape(b, matmul(b, constant(b, memo, 'G', weightMatrix), taps, false, true), [1, 6, 1, 6, M, 4 * C]);
  });
}

/**
 * The output transform along one axis, transposed: [T·6, L/2], (tile t, component a) → output pixel 4t + o, Aᵀ[o, a].
 */
function outputMatrixT(L: number): number[][] {
  const m = Array.from({ length: (L / 8) * 6 }, () => new Array<number>(L / 2).fill(0));
  for (let t = 0; t < L / 8; t++) for (let a = 0; a < 6; a++) for (let o = 0; o < 4; o++) m[t * 6 + a][t * 4 + o] = AT[o][a];
  return m;
}

/**
 * Each transform is a 2-D Gemm with the data as its transposed operand, which contracts the data's last axis and
 * moves the result to the front: MLAS packs a transposed operand as it multiplies, so the layout changes cost no
 * Transpose (ORT's Transpose of these shapes ran at 4–7 ns a float). x [N·4C·Hp, Wp] → [Tw·6, N·4C·Hp] → U [Th·6,
 * Tw·6·N·4C]; after the GEMM with the weight, the output transforms take the tile axes back to the end: [N·M·Ho, Wo].
 */
function winogradConv(b: Builder, x: Value, w: Value, g: Geometry, memo: Memo): Value {
  const { N, C, M, H, W } = g;
  const [Th, Tw, Hp, Wp] = [H / 8, W / 8, H / 2 + 1, W / 2 + 1];
  const phases = b.emit1('SpaceToDepth', [pad(b, x, [0, 0, 1, 1, 0, 0, 1, 1])], { blocksize: 2 });
  const v = matmul(b, inputs(b, memo, W), reshape(b, phases, [N * 4 * C * Hp, Wp]), false, true);
  const u = matmul(b, inputs(b, memo, H), reshape(b, v, [Tw * 6 * N * 4 * C, Hp]), false, true);
  const gw = transpose(b, weight(b, w, g, memo), [0, 1, 2, 3, 5, 4]);
  const m = matmul(b, reshape(b, u, [Th, 6, Tw, 6, N, 4 * C]), gw);
  const z = matmul(b, reshape(b, m, [Th * 6, Tw * 6 * N * M]), outputs(b, memo, H), true, false);
  const y = matmul(b, reshape(b, z, [Tw * 6, N * M * H / 2]), outputs(b, memo, W), true, false);
  return reshape(b, y, [N, M, H / 2, W / 2]);
}

/** The ConvTranspose: winogradConv's chain transposed, from y's side back to x's. */
function winogradConvTranspose(b: Builder, gy: Value, w: Value, g: Geometry, memo: Memo): Value {
  const { N, C, M, H, W } = g;
  const [Th, Tw, Hp, Wp] = [H / 8, W / 8, H / 2 + 1, W / 2 + 1];
  const z = matmul(b, outputs(b, memo, W), reshape(b, gy, [N * M * H / 2, W / 2]), false, true);
  const m = matmul(b, outputs(b, memo, H), reshape(b, z, [Tw * 6 * N * M, H / 2]), false, true);
  const u = matmul(b, reshape(b, m, [Th, 6, Tw, 6, N, M]), weight(b, w, g, memo));
  const v = matmul(b, reshape(b, u, [Th * 6, Tw * 6 * N * 4 * C]), inputs(b, memo, H), true, false);
  const p = matmul(b, reshape(b, v, [Tw * 6, N * 4 * C * Hp]), inputs(b, memo, W), true, false);
  const phases = b.emit1('DepthToSpace', [reshape(b, p, [N, 4 * C, Hp, Wp])], { blocksize: 2, mode: 'DCR' });
  return slice(b, phases, [1, 1], [H + 1, W + 1], [2, 3]);
}
