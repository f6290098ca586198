/**
 * The Winograd form of a 5×5, stride-2 "SAME" convolution (pads [1, 1, 2, 2], the seed's DCGAN layers) and of its
 * adjoint, the ConvTranspose (a G layer's forward, a D layer's input gradient), in standard ONNX ops.
 *
 * Split by stride phase (even / odd rows and columns of the padded input), the convolution is four 3×3 stride-1
 * correlations summed; each is Winograd's F(4×4, 3×3) (Lavin & Gray 2015): per 4×4 output tile, 6×6 input values and
 * 36 products instead of 144. Per transform component (a, a') and phase it is one GEMM [N, C] × [C, M], batched over
 * tiles, components and phases: 9 multiply-adds per output and channel pair instead of 25 (2.8× fewer), in GEMMs over
 * the batch (ORT's own Conv runs one small GEMM per image).
 *
 * x → the input transform along W, then H, as Gemms with a constant matrix that also splits the phases and pads →
 * U [Th, 6, 2, Tw, 6, 2, N, C] (tile, component, phase per axis) → × the transformed weight → the output transform along
 * H, then W, whose Gemms also sum the phases → [N, M, Ho, Wo]. (With the phases split by Pad and SpaceToDepth
 * instead, and joined with the channels in one GEMM per component, the ConvTranspose needed a DepthToSpace and a Slice
 * and each weight a Pad and a SpaceToDepth: 64 px 1 D + 1 G bench/ab_paired.ts 0.948 and 0.969 for this form, 11
 * and 9 of 12 pairs faster; separate processes 1.41–1.63 against 1.48–2.12 s, peak RSS 660–698 against 654–666 MB.) The
 * ConvTranspose is the same chain transposed, read backwards. Float32 error ~1e-5 of the output's largest value
 * (the transform's points are 0, ±1, ±2, ∞). Gradients are not taken through this form: it replaces nodes after
 * autodiff, like the other conv forms.
 */
import type { Builder } from '../builder.ts';
import type { Node, Value } from '../ir.ts';
import { matmul } from '../ops/matmul.ts';
import { concat, reshape, slice, transpose } from '../ops/shape.ts';

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
 * The input transform along an axis of L pixels, phases included: [T·12, L], rows (tile t, component a, phase d):
 * component a of phase d's tile t is Σ_r Bᵀ[a, r]·x[2(4t + r) + d − 1] (the phase's pixel i is padded pixel 2i + d,
 * pixel 2i + d − 1 of x; zero outside x and beyond the phase's L/2 + 1 pixels). The SAME padding and the stride-2
 * phase split are in this matrix, so x needs no Pad and no SpaceToDepth, nor the adjoint a DepthToSpace and a Slice.
 */
function inputMatrix(L: number): number[][] {
  const m = Array.from({ length: (L / 8) * 12 }, () => new Array<number>(L).fill(0));
  for (let t = 0; t < L / 8; t++) for (let a = 0; a < 6; a++) for (let d = 0; d < 2; d++) for (let r = 0; r < 6; r++) {
    const l = 2 * (4 * t + r) + d - 1;
    if (4 * t + r <= L / 2 && l >= 0 && l < L) m[(t * 6 + a) * 2 + d][l] = BT[a][r];
  }
  return m;
}

/**
 * The weight transform [(a, dy, a', dx), 25]: from w's 5×5 taps, component (a, a') of G g Gᵀ where g is phase
 * (dy, dx)'s 3×3 kernel, g[i][j] = w[2i + dy][2j + dx] (zero past the 5×5 kernel).
 */
function weightMatrix(): number[][] {
  const m: number[][] = [];
  for (let a = 0; a < 6; a++) for (let dy = 0; dy < 2; dy++) for (let b = 0; b < 6; b++) for (let dx = 0; dx < 2; dx++) {
    const row = new Array<number>(25).fill(0);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      if (2 * i + dy < 5 && 2 * j + dx < 5) row[(2 * i + dy) * 5 + 2 * j + dx] = G[a][i] * G[b][j];
    }
    m.push(row);
  }
  return m;
}

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
/** One constant each per graph: the input transform along an axis of L pixels, and the output transform's transpose
 * without phases (the adjoint's first steps) and with them (the Conv's last steps, which sum the phases). */
const inputs = (b: Builder, memo: Memo, L: number) => constant(b, memo, `B${L}`, () => inputMatrix(L));
const outputs = (b: Builder, memo: Memo, L: number, phases: 1 | 2) => constant(b, memo, `A${L}x${phases}`, () => outputMatrixT(L, phases));

/**
 * The transformed weight [1, 6, 2, 1, 6, 2, M, C] (broadcast over tiles): for each component (a, a') and phase
 * (dy, dx), an [M, C] matrix; one GEMM of the constant weight transform with w as [M·C, 25], shared by the weight's
 * Conv and ConvTranspose.
 */
function weight(b: Builder, w: Value, { M, C }: Geometry, memo: Memo): Value {
  return memo.once(`wino w ${memo.id(w)}`, () => {
    const v = matmul(b, constant(b, memo, 'G', weightMatrix), reshape(b, w, [M * C, 25]), false, true);
    return reshape(b, v, [1, 6, 2, 1, 6, 2, M, C]);
  });
}

/**
 * The output transform along one axis, transposed: [T·6·phases, L/2], rows (tile t, component a[, phase]) → output
 * pixel 4t + o, Aᵀ[o, a] (the same for every phase: the GEMM contracting them sums the phases' correlations).
 */
function outputMatrixT(L: number, phases: 1 | 2): number[][] {
  const m = Array.from({ length: (L / 8) * 6 * phases }, () => new Array<number>(L / 2).fill(0));
  for (let t = 0; t < L / 8; t++) for (let a = 0; a < 6; a++) for (let d = 0; d < phases; d++) {
    for (let o = 0; o < 4; o++) m[(t * 6 + a) * phases + d][t * 4 + o] = AT[o][a];
  }
  return m;
}

/**
 * Each transform is a 2-D Gemm with the data as its transposed operand, which contracts the data's last axis and
 * moves the result to the front: MLAS packs a transposed operand as it multiplies, so the layout changes cost no
 * Transpose (ORT's Transpose of these shapes ran at 4–7 ns a float). x [N·C·H, W] → [Tw·12, N·C·H] → U [Th·12,
 * Tw·12·N·C] = [Th, 6, 2, Tw, 6, 2, N, C] (tile, component, phase per axis); one GEMM per component and phase with
 * that phase's weight; the output transforms contract (tile, component, phase), which sums the four phases, and take
 * the tile axes back to the end: [N·M·Ho, Wo].
 */
function winogradConv(b: Builder, x: Value, w: Value, g: Geometry, memo: Memo): Value {
  const { N, C, M, H, W } = g;
  const [Th, Tw] = [H / 8, W / 8];
  const v = matmul(b, inputs(b, memo, W), reshape(b, x, [N * C * H, W]), false, true);
  const u = matmul(b, inputs(b, memo, H), reshape(b, v, [Tw * 12 * N * C, H]), false, true);
  const gw = transpose(b, weight(b, w, g, memo), [0, 1, 2, 3, 4, 5, 7, 6]);
  const m = matmul(b, reshape(b, u, [Th, 6, 2, Tw, 6, 2, N, C]), gw);
  const z = matmul(b, reshape(b, m, [Th * 12, Tw * 12 * N * M]), outputs(b, memo, H, 2), true, false);
  const y = matmul(b, reshape(b, z, [Tw * 12, N * M * H / 2]), outputs(b, memo, W, 2), true, false);
  return reshape(b, y, [N, M, H / 2, W / 2]);
}

/**
 * The ConvTranspose: winogradConv's chain transposed, from y's side back to x's; the output transforms' adjoints
 * need no phases (the GEMM broadcasts gy's components over the four phase kernels).
 */
function winogradConvTranspose(b: Builder, gy: Value, w: Value, g: Geometry, memo: Memo): Value {
  const { N, C, M, H, W } = g;
  const [Th, Tw] = [H / 8, W / 8];
  const z = matmul(b, outputs(b, memo, W, 1), reshape(b, gy, [N * M * H / 2, W / 2]), false, true);
  const m = matmul(b, outputs(b, memo, H, 1), reshape(b, z, [Tw * 6 * N * M, H / 2]), false, true);
  const u = matmul(b, reshape(b, m, [Th, 6, 1, Tw, 6, 1, N, M]), weight(b, w, g, memo));
  const v = matmul(b, reshape(b, u, [Th * 12, Tw * 12 * N * C]), inputs(b, memo, H), true, false);
  const p = matmul(b, reshape(b, v, [Tw * 12, N * C * H]), inputs(b, memo, W), true, false);
  return reshape(b, p, [N, C, H, W]);
}
