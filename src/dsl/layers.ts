/** Layers: plain functions that create their parameters in a named scope (see Trace.layer). */
import { GancError } from '../errors.ts';
import { callSite } from '../compiler/builder.ts';
import * as ir from '../compiler/ops/index.ts';
import { type Init, normal, ones, truncatedNormal, zeros } from './init.ts';
import { Tensor, add, div, mean, mul, reshape, sqrt, square, stopGradient, sub } from './tensor.ts';
import { currentTrace } from './trace.ts';

export type Padding = 'SAME' | 'VALID' | number | [number, number, number, number];

const param = (name: string, shape: number[], init: Init) => new Tensor(currentTrace().tensor(name, shape, init, 'param'));
/** A layer's weight `w`, through the weight hooks in force (spectralNorm); `outAxis`: its output-channel axis. */
const weight = (shape: number[], init: Init, outAxis: number) =>
  currentTrace().weightHooks.reduceRight((w, hook) => hook(w, outAxis), param('w', shape, init));
const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? v : [v, v]);

function checkOptions(fn: string, opts: object, known: string[]): void {
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) throw new GancError(`${fn}: unknown option '${k}' (known: ${known.join(', ')})`, callSite());
  }
}

export interface LinearOptions { name?: string; bias?: boolean; init?: Init }

/** x [N, F] → [N, units]; weight N(0, 0.02) as in DCGAN-tensorflow. */
export function linear(x: Tensor, units: number, opts: LinearOptions = {}): Tensor {
  checkOptions('linear', opts, ['name', 'bias', 'init']);
  const tr = currentTrace();
  return tr.layer('linear', opts.name, () => {
    if (x.rank !== 2) throw new GancError(`linear: input must be [N, features], got [${x.shape}] (flatten it first)`, callSite());
    const w = weight([x.shape[1], units], opts.init ?? normal(0.02), 1);
    const y = new Tensor(ir.matmul(tr.builder, x.value, w.value));
    return opts.bias === false ? y : add(y, param('b', [units], zeros()));
  });
}

export interface ConvOptions {
  name?: string;
  kernel?: number | [number, number];
  stride?: number | [number, number];
  dilation?: number | [number, number];
  padding?: Padding;
  bias?: boolean;
  init?: Init;
}

/** TensorFlow's "SAME": output = ceil(size / stride), the odd pixel of padding goes after. */
export function samePads(size: number, k: number, s: number, d: number): [number, number] {
  const total = Math.max((Math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function resolvePads(padding: Padding, h: number, w: number, k: [number, number], s: [number, number], d: [number, number]): number[] {
  if (padding === 'VALID') return [0, 0, 0, 0];
  if (typeof padding === 'number') return [padding, padding, padding, padding];
  if (Array.isArray(padding)) return padding;
  const [t, bt] = samePads(h, k[0], s[0], d[0]);
  const [l, r] = samePads(w, k[1], s[1], d[1]);
  return [t, l, bt, r];
}

const CONV_OPTS = ['name', 'kernel', 'stride', 'dilation', 'padding', 'bias', 'init'];

/** 2-D convolution, NCHW. Defaults are DCGAN's: 5×5, stride 2, SAME, truncated-normal(0.02) weights. */
export function conv2d(x: Tensor, filters: number, opts: ConvOptions = {}): Tensor {
  checkOptions('conv2d', opts, CONV_OPTS);
  const tr = currentTrace();
  return tr.layer('conv2d', opts.name, () => {
    if (x.rank !== 4) throw new GancError(`conv2d: input must be [N, C, H, W], got [${x.shape}]`, callSite());
    const k = pair(opts.kernel ?? 5), s = pair(opts.stride ?? 2), d = pair(opts.dilation ?? 1);
    const w = weight([filters, x.shape[1], k[0], k[1]], opts.init ?? truncatedNormal(0.02), 0);
    const pads = resolvePads(opts.padding ?? 'SAME', x.shape[2], x.shape[3], k, s, d);
    const y = new Tensor(ir.conv(tr.builder, x.value, w.value, { strides: s, pads, dilations: d }));
    return opts.bias === false ? y : add(y, reshape(param('b', [filters], zeros()), [1, filters, 1, 1]));
  });
}

/**
 * Transposed convolution. With padding 'SAME' the output is exactly input × stride (TensorFlow's conv2d_transpose);
 * the weight is [in, out, kh, kw] as in ONNX. Weights N(0, 0.02) as in DCGAN-tensorflow.
 */
export function deconv2d(x: Tensor, filters: number, opts: ConvOptions = {}): Tensor {
  checkOptions('deconv2d', opts, CONV_OPTS);
  const tr = currentTrace();
  return tr.layer('deconv2d', opts.name, () => {
    if (x.rank !== 4) throw new GancError(`deconv2d: input must be [N, C, H, W], got [${x.shape}]`, callSite());
    const k = pair(opts.kernel ?? 5), s = pair(opts.stride ?? 2), d = pair(opts.dilation ?? 1);
    const w = weight([x.shape[1], filters, k[0], k[1]], opts.init ?? normal(0.02), 1);
    const padding = opts.padding ?? 'SAME';
    let pads: number[], outputPadding = [0, 0];
    if (padding === 'SAME') {
      // Pads of the stride-s conv whose output is our input size; output padding makes up what they don't cover.
      const out = [x.shape[2] * s[0], x.shape[3] * s[1]];
      const [t, bt] = samePads(out[0], k[0], s[0], d[0]);
      const [l, r] = samePads(out[1], k[1], s[1], d[1]);
      pads = [t, l, bt, r];
      outputPadding = [0, 1].map((i) => out[i] - ir.convTransposeOutSize(x.shape[2 + i], k[i], s[i], d[i], pads[i], pads[i + 2], 0));
    } else pads = resolvePads(padding, 0, 0, k, s, d);
    const y = new Tensor(ir.convTranspose(tr.builder, x.value, w.value, { strides: s, pads, dilations: d, output_padding: outputPadding }));
    return opts.bias === false ? y : add(y, reshape(param('b', [filters], zeros()), [1, filters, 1, 1]));
  });
}

export interface BatchNormOptions { name?: string; eps?: number; decay?: number; scale?: boolean; offset?: boolean }

/**
 * Batch normalization over all axes but the channel axis (1). Training graphs use the batch's statistics (biased
 * variance, as TensorFlow) and propose new running averages (decay·old + (1−decay)·batch); inference graphs use the
 * running averages.
 */
export function batchNorm(x: Tensor, opts: BatchNormOptions = {}): Tensor {
  checkOptions('batchNorm', opts, ['name', 'eps', 'decay', 'scale', 'offset']);
  const tr = currentTrace();
  return tr.layer('batch_norm', opts.name, () => {
    const { eps = 1e-5, decay = 0.9 } = opts;
    const c = x.shape[1];
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    const runMean = new Tensor(tr.tensor('running_mean', [c], zeros(), 'bn_state'));
    const runVar = new Tensor(tr.tensor('running_var', [c], ones(), 'bn_state'));
    let y: Tensor;
    if (tr.training) {
      const mu = mean(x, axes, true);
      const xc = sub(x, mu);
      const v = mean(square(xc), axes, true);
      y = div(xc, sqrt(add(v, eps)));
      // A network called twice in one step (D on real, then on fake) updates its averages twice, in order, as
      // PyTorch and TensorFlow do.
      const blend = (local: string, run: Tensor, batch: Tensor) => {
        const name = tr.scopedName(local);
        const prev = tr.stateUpdates.get(name);
        const base = prev ? new Tensor(prev) : run;
        tr.updateState(name, add(mul(base, decay), mul(stopGradient(reshape(batch, [c])), 1 - decay)).value);
      };
      blend('running_mean', runMean, mu);
      blend('running_var', runVar, v);
    } else {
      y = div(sub(x, reshape(runMean, bshape)), sqrt(add(reshape(runVar, bshape), eps)));
    }
    if (opts.scale !== false) y = mul(y, reshape(param('gamma', [c], ones()), bshape));
    if (opts.offset !== false) y = add(y, reshape(param('beta', [c], zeros()), bshape));
    return y;
  });
}

/** A raw trainable parameter in the current layer scope (for custom layers such as minibatch discrimination). */
export function parameter(name: string, shape: number[], init: Init = normal(0.02)): Tensor {
  return param(name, shape, init);
}

/** Group a custom layer's parameters under one scope name. */
export function layer<T>(type: string, name: string | undefined, fn: () => T): T {
  return currentTrace().layer(type, name, fn);
}
