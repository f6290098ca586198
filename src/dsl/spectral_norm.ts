/**
 * Spectral normalization (Miyato et al. 2018): a weight W is used as W / σ(W), σ its largest singular value,
 * estimated by one power iteration per step from a persistent vector u.
 *
 * u is state (role 'sn_state', like batch norm's running statistics): one per weight, initialized N(0, 1), carried
 * from step to step and checkpointed, never trained. As PyTorch's torch.nn.utils.spectral_norm, W is viewed as the
 * matrix [out, rest] (output channels first) and, with u and v held constant (no gradient through them):
 *   v = normalize(Wᵀu),  u' = normalize(W v),  σ = u'ᵀ W v.
 * The step graph of the network that owns W stores u' as the new u (the other step reads u and computes the same σ
 * without storing it); inference graphs compute σ the same way from the stored u.
 */
import * as ir from '../compiler/ops/index.ts';
import { normal } from './init.ts';
import { Tensor, add, div, matmul, mul, reshape, sqrt, stopGradient, sum, transpose } from './tensor.ts';
import { currentTrace } from './trace.ts';

/** t / ‖t‖ (held constant by the caller). The 1e-12 is PyTorch's guard against a zero vector. */
const normalize = (t: Tensor) => div(t, add(sqrt(sum(mul(t, t))), 1e-12));

/** W / σ(W) for a weight of the current layer, `outAxis` its output-channel axis; creates the layer's state `sn_u`. */
export function spectralNormalize(w: Tensor, outAxis = 0): Tensor {
  const tr = currentTrace();
  const rest = w.shape.map((_, i) => i).filter((i) => i !== outAxis);
  const m = w.shape[outAxis];
  const W = reshape(outAxis === 0 ? w : transpose(w, [outAxis, ...rest]), [m, -1]); // [m, n]
  const u = reshape(new Tensor(tr.tensor('sn_u', [m], normal(1), 'sn_state')), [1, m]);
  const v = stopGradient(normalize(matmul(u, W))); // (Wᵀu)ᵀ [1, n]
  const wv = new Tensor(ir.matmul(tr.builder, v.value, W.value, false, true)); // (W v)ᵀ [1, m]
  const u2 = stopGradient(normalize(wv));
  const sigma = sum(mul(u2, wv));
  if (tr.training) tr.updateState(tr.scopedName('sn_u'), reshape(u2, [m]).value);
  return div(w, sigma);
}

/**
 * Run `fn` (a network, or part of one) with every conv2d, deconv2d and linear weight created in it spectrally
 * normalized, e.g. `discriminator: (x) => spectralNorm(() => myD(x))`.
 */
export function spectralNorm<T>(fn: () => T): T {
  const hooks = currentTrace().weightHooks;
  hooks.push(spectralNormalize);
  try {
    return fn();
  } finally {
    hooks.pop();
  }
}
